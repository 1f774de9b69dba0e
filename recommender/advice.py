"""Advice for a self-check: up to three concrete changes to the enterprise's profile, each measured by
re-scoring the changed profile with the serving Matcher (never guessed), with the parks it moves and
the policy sentence behind it.

The changes come from the knowledge base's rules, so a rule added to rules.yaml yields advice too:
- gains: reach a bonus rule's R&D threshold (研发投入强度); state a status the rule names
  (高新技术企业 and the like);
- obligations: leave out the capacity a penalty rule names (产能压减、置换), bring energy use under a
  warning's threshold (特别排放限值、排污许可), use less land (集约用地).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from features.enterprise import LAND, EnterpriseProfile
from features.kb import Rule
from features.text import normalize
from recommender.hybrid import Matcher, Scored
from recommender.rules import PolicyEngine

MAX_ADVICE = 3
PARKS_SHOWN = 3
MIN_MOVE = 0.005  # a change that moves no shown park by this much is not worth saying
# Statuses an enterprise can obtain (not a change of business): the first one a rule names is offered.
STATUS_TERMS = ("高新技术企业", "科技型中小企业", "专精特新")
# Words that pick, among a rule's source sentences, the one that says the same as the advice.
SENTENCE_HINTS = {
    "rd_intensity": ("研发经费投入强度", "研发投入"),
    "status": ("高新技术企业",),
    "capacity": ("产能置换", "产能"),
    "energy_tce": ("排放限值", "排污许可"),
    "land_mu": ("节约集约",),
}
# The land advice rests on the policy's sentence on 节约集约 land use, wherever rules.yaml quotes it.
LAND_SENTENCE = "节约集约"
LAND_SHARE = 0.9  # "use less land": just under the next smaller size class the model knows
MAX_CUT = 0.5  # a suggested cut of energy or land keeps at least this share of the stated amount

Kind = Literal["gain", "obligation"]


@dataclass(frozen=True)
class Change:
    """One change of the profile: what it is in words, the changed profile, the rule behind it."""

    kind: Kind
    key: str  # rd_intensity | status | capacity | energy_tce | land_mu
    text: str
    profile: EnterpriseProfile
    rule: Rule
    obligation: str | None = None  # for an obligation: what the policy requires if not changed


def _pct(x: float) -> str:
    return f"{x * 100:g}%"


def _num(x: float) -> str:
    return f"{x:,.0f}" if x >= 100 else f"{x:g}"


def _sentence(rule: Rule, key: str) -> str:
    """The rule's source sentence that best backs advice of `key` (all are verbatim policy)."""
    sentences = (rule.source, *rule.also_source)
    for hint in SENTENCE_HINTS.get(key, ()):
        for s in sentences:
            if hint in s:
                return s
    return rule.source


def _without_terms(e: EnterpriseProfile, terms: list[str]) -> EnterpriseProfile:
    description = e.description
    products = list(e.products)
    for t in sorted(terms, key=len, reverse=True):  # 水泥熟料 before 熟料
        description = description.replace(t, "")
        products = [p.replace(t, "") for p in products]
    return dataclasses.replace(
        e, description=description, products=tuple(p for p in products if p.strip())
    )


def candidate_changes(matcher: Matcher, e: EnterpriseProfile, base: Scored) -> Iterator[Change]:
    """Every change the rules suggest for `e`, gains first; each is checked by re-scoring later."""
    chains = base.policy.enterprise_chains
    text = normalize(e.text)
    seen: set[str] = set()
    rules = matcher.kb.rules
    for rule in rules:
        w = rule.when
        if rule.effect != "bonus" or not rule.weight:
            continue
        if w.min_rd_intensity is not None and (e.rd_intensity or 0) < w.min_rd_intensity:
            target = w.min_rd_intensity
            now = "（未填写）" if e.rd_intensity is None else f"由{_pct(e.rd_intensity)}"
            key = f"rd:{target}"
            if key not in seen:
                seen.add(key)
                yield Change(
                    "gain",
                    "rd_intensity",
                    f"研发投入强度{now}提高到{_pct(target)}",
                    dataclasses.replace(e, rd_intensity=target),
                    rule,
                )
        status = next((t for t in STATUS_TERMS if t in w.enterprise_terms), None)
        stated = any(normalize(t) in text for t in w.enterprise_terms)
        if status and not stated and f"status:{status}" not in seen:
            seen.add(f"status:{status}")
            yield Change(
                "gain",
                "status",
                f"取得{status}认定（在主要产品或描述中注明）",
                dataclasses.replace(e, products=(*e.products, status)),
                rule,
            )
    for rule in rules:
        w = rule.when
        if rule.effect == "penalty" and w.enterprise_terms:
            if not PolicyEngine.enterprise_matches(rule, e, chains, text):
                continue
            found = [t for t in w.enterprise_terms if normalize(t) in text]
            if found and f"capacity:{rule.rule_id}" not in seen:
                seen.add(f"capacity:{rule.rule_id}")
                yield Change(
                    "obligation",
                    "capacity",
                    f"项目不新增「{'、'.join(found[:4])}」类产能（如改做下游精深加工）",
                    _without_terms(e, found),
                    rule,
                    obligation=rule.text,
                )
        if rule.effect == "warning" and w.min_energy_tce is not None:
            target = w.min_energy_tce * 0.99
            # Only a reachable cut (at most half): a smelter using 100 times the threshold would
            # be told something it cannot do; the warning itself still tells it the obligation.
            reachable = (e.energy_tce or 0) * MAX_CUT <= target
            if w.min_energy_tce <= (e.energy_tce or 0) and reachable and "energy" not in seen:
                seen.add("energy")
                yield Change(
                    "obligation",
                    "energy_tce",
                    f"年综合能耗由{_num(e.energy_tce or 0)}吨标准煤降至"
                    f"{_num(w.min_energy_tce)}吨以下（按{_num(target)}吨计算）",
                    dataclasses.replace(e, energy_tce=target),
                    rule,
                    obligation=f"年综合能耗{_num(w.min_energy_tce)}吨标准煤以上：{rule.text}",
                )
    yield from _land_change(matcher, e)


def _land_change(matcher: Matcher, e: EnterpriseProfile) -> Iterator[Change]:
    """Less land: down to just under the next smaller size class (only if the policy's 节约集约
    sentence is quoted by a rule, which then backs the advice)."""
    if not e.land_mu:
        return
    edges = [x for x in LAND[0] if x < e.land_mu]
    rule = next(
        (
            r
            for r in matcher.kb.rules
            if any(LAND_SENTENCE in s for s in (r.source, *r.also_source))
        ),
        None,
    )
    if not edges or rule is None:
        return
    target = round(edges[-1] * LAND_SHARE)
    if target < e.land_mu * MAX_CUT:
        return  # more than halving the land is not a change to suggest
    yield Change(
        "obligation",
        "land_mu",
        f"用地需求由{_num(e.land_mu)}亩压缩到{_num(target)}亩（提高亩均投入产出）",
        dataclasses.replace(e, land_mu=float(target)),
        rule,
        obligation="政策要求提高工业用地节约集约利用水平和土地投入产出效益。",
    )


def _ranks(final: np.ndarray) -> np.ndarray:
    """1-based rank of every park (excluded parks, scored −inf, rank last)."""
    order = np.argsort(-final, kind="stable")
    ranks = np.empty(len(final), dtype=np.int64)
    ranks[order] = np.arange(1, len(final) + 1)
    return ranks


def _effect(
    matcher: Matcher, base: Scored, changed: Scored, top_k: int
) -> list[dict[str, Any]] | None:
    """The parks of either top `top_k` whose score moved, most moved first; None if none did."""
    before, after = base.final, changed.final
    rb, ra = _ranks(before), _ranks(after)
    shown = np.flatnonzero(
        ((rb <= top_k) & np.isfinite(before)) | ((ra <= top_k) & np.isfinite(after))
    )
    moved: list[dict[str, Any]] = []
    for i in shown:
        b, a = float(before[i]), float(after[i])
        if not (np.isfinite(b) and np.isfinite(a)):
            delta = np.inf if np.isfinite(a) else -np.inf
        else:
            delta = a - b
        if abs(delta) >= MIN_MOVE or (rb[i] != ra[i] and min(rb[i], ra[i]) <= top_k):
            p = matcher.parks[i]
            moved.append(
                {
                    "park_id": p.park_id,
                    "name": p.name,
                    "city": p.city,
                    "score_before": round(b, 4) if np.isfinite(b) else None,
                    "score_after": round(a, 4) if np.isfinite(a) else None,
                    "delta": round(delta, 4) if np.isfinite(delta) else None,
                    "rank_before": int(rb[i]),
                    "rank_after": int(ra[i]),
                }
            )
    if not any(m["delta"] is None or abs(m["delta"]) >= MIN_MOVE for m in moved):
        return None
    # Most moved first; among equal moves the park ranked higher, which the enterprise looks at.
    moved.sort(
        key=lambda m: (
            -round(abs(m["delta"]), 3) if m["delta"] is not None else -np.inf,
            min(m["rank_before"], m["rank_after"]),
        )
    )
    return moved


def _summary(change: Change, parks: list[dict[str, Any]]) -> str:
    up = [p for p in parks if (p["delta"] or 0) > 0]
    down = [p for p in parks if (p["delta"] or 0) < 0]
    parts = []
    for label, group in (("加分", up), ("减分", down)):
        if not group:
            continue
        p = group[0]
        rank = (
            f"，第{p['rank_before']}→第{p['rank_after']}位"
            if p["rank_before"] != p["rank_after"]
            else ""
        )
        more = f"等{len(group)}个园区" if len(group) > 1 else ""
        parts.append(f"「{p['name']}」{more}{label}（{p['delta']:+.2f}{rank}）")
    return f"{change.text}：{'；'.join(parts)}。" if parts else f"{change.text}。"


def advise(
    matcher: Matcher, e: EnterpriseProfile, top_k: int = 10, base: Scored | None = None
) -> list[dict[str, Any]]:
    """Up to three changes that move the ranking most, each re-scored with `matcher`."""
    base = base if base is not None else matcher.score(e)
    out: list[dict[str, Any]] = []
    for change in candidate_changes(matcher, e, base):
        changed = matcher.score(change.profile)
        parks = _effect(matcher, base, changed, top_k)
        if parks is None:
            continue
        out.append(
            {
                "kind": change.kind,
                "field": change.key,
                "change": change.text,
                "text": _summary(change, parks),
                "obligation": change.obligation,
                "parks": parks[:PARKS_SHOWN],
                "parks_moved": len(parks),
                "rule_id": change.rule.rule_id,
                "source": _sentence(change.rule, change.key),
                "_size": max(abs(p["delta"]) if p["delta"] is not None else 1.0 for p in parks),
            }
        )
    out.sort(key=lambda a: -a["_size"])
    for a in out:
        del a["_size"]
    return out[:MAX_ADVICE]

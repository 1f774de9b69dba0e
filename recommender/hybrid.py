"""The hybrid matcher: content fit + LightFM + policy rules, ranked and explained in Chinese.

`Matcher.match` returns the `/v1/match` response body (see the contract) as plain dicts, so the API
layer only validates and serialises it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from features.enterprise import EnterpriseProfile, numeric_features
from features.kb import PARK_KINDS, KnowledgeBase, Park
from features.text import SegmentTextFeaturizer
from recommender.collab import CollaborativeModel, Features
from recommender.content import ContentScorer, ContentSignals, ContentWeights
from recommender.registry import RegistryIndex, RegistrySupport, place_scores
from recommender.rules import PolicyEngine, PolicyOutcome, enterprise_chains

# What an answer without a learned part says about itself (model_version tells why it has none).
LEARNED_OFF_NOTICE = (
    "协同部分（相似企业的落户记录）未启用：尚未导入真实的企业登记名录或招商记录。"
    "本结果仅依据业务与产业链的内容契合和政策规则。"
)
UNCLEAR_FIT = 0.15  # below this best segment fit the description names nothing of the policy
SIMILAR_SHOWN = 0.6  # the learned part is explained when its normalised score is at least this
INDUSTRY_SHOWN = 0.25  # a place's class fit is explained when at least this

BUCKET_NAMES = {
    "scale": (
        "规模",
        {"micro": "微型", "small": "小型", "medium": "中型", "large": "大型", "xlarge": "特大型"},
    ),
    "rd": ("研发强度", {"none": "无", "low": "较低", "mid": "中等", "high": "高"}),
    "energy": ("能耗", {"low": "低", "mid": "中等", "high": "高", "heavy": "很高"}),
    "energy_intensity": ("单位产值能耗", {"low": "低", "mid": "中等", "high": "高"}),
    "land": ("用地", {"small": "小", "medium": "中等", "large": "大", "xlarge": "很大"}),
    "invest": ("投资规模", {"small": "小", "medium": "中等", "large": "大", "major": "重大"}),
}


@dataclass(frozen=True)
class HybridWeights:
    """score = content·fit + collaborative·learned + policy·rules. Content and collaborative are
    (1 − α, α) with α = 0.8 chosen on validation enterprises by `make eval` (both splits);
    the policy part keeps weight 1 so that each rule's own weight means what rules.yaml says."""

    content: float = 0.2
    collaborative: float = 0.8
    policy: float = 1.0
    # inside the content part (recommender.content.ContentWeights): chosen by 5-fold
    # cross-validation on the real-world dev set (recommender/evaluate_realworld.py)
    classes: float = 0.3
    keyword: float = 0.35
    zone: float = 0.1

    def content_parts(self) -> ContentWeights:
        return ContentWeights(classes=self.classes, keyword=self.keyword, zone=self.zone)

    # The registry kNN's county support (0–1); 0 for models trained without a registry.
    registry: float = 0.0


@dataclass
class Scored:
    """All park scores of one request, before ranking."""

    signals: ContentSignals
    policy: PolicyOutcome
    content: np.ndarray
    collaborative: np.ndarray
    collab_raw: np.ndarray | None
    final: np.ndarray
    user_features: Features = field(default_factory=list)
    user_row: Any = None  # the LightFM feature row of `user_features`, built once per request
    registry: np.ndarray | None = None  # (n_parks,) weighted registry term; None without a registry
    registry_support: RegistrySupport | None = None


def user_features(
    signals: ContentSignals, segment_ids: list[str], chain_ids: list[str], e: EnterpriseProfile
) -> list[tuple[str, float]]:
    """LightFM user features: the enterprise's best segments and chains (weighted by fit), its
    GB/T division and bucketed numbers."""
    return features_from_scores(
        signals.segment_scores, signals.chain_scores, segment_ids, chain_ids, e
    )


def features_from_scores(
    seg: np.ndarray,
    ch: np.ndarray,
    segment_ids: list[str],
    chain_ids: list[str],
    e: EnterpriseProfile,
) -> list[tuple[str, float]]:
    """`user_features` from one enterprise's segment (n_segments,) and chain (n_chains,) fits."""
    feats: list[tuple[str, float]] = []
    for j in np.argsort(-seg)[:5]:
        if seg[j] >= 0.1:
            feats.append((f"seg:{segment_ids[j]}", float(seg[j])))
    for c in np.argsort(-ch)[:3]:
        if ch[c] >= 0.1:
            feats.append((f"chain:{chain_ids[c]}", float(ch[c])))
    if e.industry_code:
        digits = e.industry_code.strip().upper().lstrip("ABCDEFGHIJKLMNOPQRST")
        if len(digits) >= 2:
            feats.append((f"gbt:{digits[:2]}", 0.5))
    feats.extend((name, 0.3) for name in numeric_features(e))
    return feats


def item_features(p: Park) -> list[tuple[str, float]]:
    feats = [(f"zone:{p.zone_id}", 0.5), (f"city:{p.city}", 0.5), (f"kind:{p.kind}", 0.5)]
    for ref in p.chains:
        feats.append((f"chain:{ref.chain_id}", 1.0))
        if ref.segment_id:
            feats.append((f"seg:{ref.segment_id}", 1.0))
    return list(dict.fromkeys(feats))


def _squash(x: np.ndarray) -> np.ndarray:
    """Per-request z-score through a logistic: the learned score as a 0–1 preference."""
    sd = float(x.std())
    if sd < 1e-9:
        return np.full_like(x, 0.5, dtype=np.float64)
    return 1.0 / (1.0 + np.exp(-(x - x.mean()) / sd))


def top_parks(final: np.ndarray, k: int) -> np.ndarray:
    """Indices of the `k` best finite scores, best first, ties in index order: the head of a
    stable descending sort, found without sorting every park (catalogues run to 30,000)."""
    ok = np.flatnonzero(np.isfinite(final))
    if 0 < k < len(ok):
        kth = np.partition(-final[ok], k - 1)[k - 1]
        ok = ok[-final[ok] <= kth]  # every park tied with the k-th stays a candidate
    return ok[np.argsort(-final[ok], kind="stable")][: max(k, 0)]


class Matcher:
    """Everything needed to answer `/v1/match`; built by training or loaded from a bundle."""

    def __init__(
        self,
        kb: KnowledgeBase,
        text: SegmentTextFeaturizer,
        collab: CollaborativeModel | None,
        weights: HybridWeights | None = None,
        version: str = "untrained",
        industry: Any = None,
        registry: RegistryIndex | None = None,
    ) -> None:
        self.kb = kb
        self.text = text
        self.collab = collab
        self.registry = registry
        self.weights = weights or HybridWeights()
        if collab is None:  # nothing learned: the content part is the whole of the fit
            self.weights = replace(self.weights, content=1.0, collaborative=0.0)
        self.version = version
        self.industry = industry  # recommender.industry.IndustryClassifier, or None
        self.content = ContentScorer(kb, text, industry, self.weights.content_parts())
        self.policy = PolicyEngine(kb)
        self.segment_ids = list(text.segment_ids_)
        self.chain_ids = [c.chain_id for c in kb.chains]
        self.parks: tuple[Park, ...] = kb.parks
        self._represent_parks()

    def _represent_parks(self) -> None:
        """Precompute each park's LightFM representation (parks unseen in training, e.g. a new
        catalogue, are represented through their features), and each park's registry county."""
        if self.registry is not None:
            self._registry_rows = self.registry.place_index(self.parks)
        if self.collab is None:
            return
        self._item_rows = self.collab.item_rows(
            [p.park_id for p in self.parks], [item_features(p) for p in self.parks]
        )
        self._item_bias, self._item_repr = self.collab.represent_items(self._item_rows)

    def set_parks(self, parks: tuple[Park, ...]) -> None:
        """Score against another catalogue (used by the benchmark's synthetic catalogues)."""
        self.parks = parks
        self.content.set_parks(parks)
        self.policy.set_parks(parks)
        self._represent_parks()

    # -- scoring -------------------------------------------------------------------------------
    def score(
        self,
        e: EnterpriseProfile,
        *,
        use_collab: bool = True,
        use_policy: bool = True,
        ranked: list[tuple[str, float]] | None = None,
    ) -> Scored:
        """All park scores of one enterprise; `ranked`: its text's classes, when the caller
        classified many texts at once."""
        signals = self.content.score(e, ranked)
        chains = enterprise_chains(self.kb, signals)
        outcome = self.policy.evaluate(e, chains)
        feats = user_features(signals, self.segment_ids, self.chain_ids, e)
        n = len(self.parks)
        collab = np.zeros(n)
        raw = user_row = None
        if use_collab and self.collab is not None:
            user_row = self.collab.user_vector(feats)
            raw = (
                self._item_repr @ self.collab.user_representation(feats, user_row) + self._item_bias
            )
            collab = _squash(raw)
        w = self.weights
        content = w.content * signals.park_scores + signals.park_bonus
        collaborative = w.collaborative * collab
        policy = w.policy * outcome.adjustment if use_policy else np.zeros(n)
        final = content + collaborative + policy
        registry = support = None
        if use_collab and self.registry is not None:
            support = self.registry.support(e.text)
            registry = w.registry * place_scores(support, self._registry_rows)
            final = final + registry
        if use_policy and outcome.excluded:
            final = final.copy()
            final[list(outcome.excluded)] = -np.inf
        return Scored(
            signals, outcome, content, collaborative, raw, final, feats, user_row, registry, support
        )

    @property
    def learned(self) -> bool:
        """Whether a part learned from real placements (LightFM or the registry) is on."""
        return self.collab is not None or self.registry is not None

    # -- the response --------------------------------------------------------------------------
    def match(
        self,
        e: EnterpriseProfile,
        top_k: int = 10,
        request_id: str | None = None,
        *,
        reveal_names: bool = False,
    ) -> dict[str, Any]:
        """The `/v1/match` body. `reveal_names`: registry reasons name example firms (bureau
        pages only: the registry is the bureau's; the public self-check gets counts only)."""
        s = self.score(e)
        order = top_parks(s.final, top_k)
        parks = [self._park_entry(e, s, int(i), reveal_names) for i in order]
        return {
            "request_id": request_id or uuid.uuid4().hex,
            "model_version": self.version,
            "learned": self.learned,
            "notice": None if self.learned else LEARNED_OFF_NOTICE,
            "chains": self._chains(s),
            "zones": self._zones(s),
            "parks": parks,
            "warnings": self._warnings(e, s),
            "excluded": [
                {
                    "park_id": self.parks[i].park_id,
                    "name": self.parks[i].name,
                    "reason": rule.text,
                    "source": rule.source,
                }
                for i, rule in sorted(s.policy.excluded.items())
            ],
        }

    def _chains(self, s: Scored) -> list[dict[str, Any]]:
        out = []
        sig = s.signals
        for c in np.argsort(-sig.chain_scores)[:5]:
            if sig.chain_scores[c] < UNCLEAR_FIT:  # a vague text names no chain at all
                continue
            chain = self.kb.chains[c]
            idx = [
                j
                for j, sid in enumerate(self.segment_ids)
                if self.kb.chain_of_segment[sid] == chain.chain_id
            ]
            best = max(idx, key=lambda j: sig.segment_scores[j])
            seg = self.kb.segment_by_id[self.segment_ids[best]]
            out.append(
                {
                    "chain_id": chain.chain_id,
                    "name": chain.name,
                    "group": chain.group,
                    "segment": {"segment_id": seg.segment_id, "name": seg.name},
                    "score": round(float(sig.chain_scores[c]), 4),
                    "matched_terms": list(sig.text.terms[best][:6]),
                    "source": seg.source,
                }
            )
        return out

    def _zones(self, s: Scored) -> list[dict[str, Any]]:
        zone_ids = self.content.zone_ids
        park_zone = self.content.park_zone
        out = []
        for zi, zid in enumerate(zone_ids):
            vals = s.final[(park_zone == zi) & np.isfinite(s.final)]
            top = float(np.mean(np.sort(vals)[-3:])) if len(vals) else 0.0
            score = 0.5 * float(s.signals.zone_fit[zi]) + 0.5 * max(top, 0.0)
            z = self.kb.zone_by_id[zid]
            out.append(
                {
                    "zone_id": zid,
                    "name": z.name,
                    "score": round(score, 4),
                    "positioning": z.positioning,
                    "source": z.source,
                }
            )
        out.sort(key=lambda d: -d["score"])
        return out

    def _warnings(self, e: EnterpriseProfile, s: Scored) -> list[dict[str, Any]]:
        out = [
            {"code": r.warning_code or r.rule_id, "text": r.text, "source": r.source}
            for r in s.policy.warnings
        ]
        if float(s.signals.text.scores.max(initial=0.0)) < UNCLEAR_FIT:
            out.append(
                {
                    "code": "description_unclear",
                    "text": "描述中没有识别出政策所列产业链的产品或技术，排序仅供参考。请补充主要产品、工艺和应用领域。",
                    "source": None,
                }
            )
        if s.signals.code_conflict and e.industry_code:
            ind = self.kb.industry(e.industry_code)
            name = f"（{ind.name}）" if ind else ""
            out.append(
                {
                    "code": "industry_code_mismatch",
                    "text": f"行业代码 {e.industry_code}{name} 与主营业务描述指向的产业链不一致，请核对行业代码。",
                    "source": None,
                }
            )
        return out

    def _park_entry(
        self, e: EnterpriseProfile, s: Scored, i: int, reveal_names: bool = False
    ) -> dict[str, Any]:
        p = self.parks[i]
        return {
            "park_id": p.park_id,
            "name": p.name,
            "kind": p.kind,
            "city": p.city,
            "county": p.county,
            "zone_id": p.zone_id,
            "score": round(float(s.final[i]), 4),
            "score_breakdown": {
                "content": round(float(s.content[i]), 4),
                "collaborative": round(float(s.collaborative[i]), 4),
                "policy": round(float(s.policy.adjustment[i] * self.weights.policy), 4),
                "registry": round(float(s.registry[i]), 4) if s.registry is not None else 0.0,
            },
            "reasons": self.cite_documents(self.reasons(e, s, i), p)
            + self.registry_reasons(s, i, reveal_names),
        }

    def cite_documents(self, reasons: list[dict[str, Any]], p: Park) -> list[dict[str, Any]]:
        """Each quoted reason names its document; a record from a newer document that replaced an
        older one says which applies."""
        for r in reasons:
            doc = self.kb.cite(r.get("source"))
            r["document"] = (
                None
                if doc is None
                else {"document_id": doc.document_id, "title": doc.title, "date": doc.date}
            )
        old = self.kb.document_by_id.get(p.supersedes or "")
        new = self.kb.document_by_id.get(p.document_id or "")
        if old is not None and new is not None:
            reasons.append(
                {
                    "kind": "policy",
                    "text": f"「{p.name}」以《{new.title}》（{new.date or '日期未载'}）为准，"
                    f"取代《{old.title}》（{old.date or '日期未载'}）中的同一记录。",
                    "source": p.source,
                    "document": {
                        "document_id": new.document_id,
                        "title": new.title,
                        "date": new.date,
                    },
                }
            )
        return reasons

    def reasons(self, e: EnterpriseProfile, s: Scored, i: int) -> list[dict[str, Any]]:
        kb, p, sig = self.kb, self.parks[i], s.signals
        out: list[dict[str, Any]] = []
        j = int(sig.park_best_segment[i])
        seg = kb.segment_by_id[self.segment_ids[j]]
        chain = kb.chain_by_id[kb.chain_of_segment[seg.segment_id]]
        terms = sig.text.terms[j][:5]
        if sig.segment_scores[j] > 0.05:
            said = f"，匹配词：{'、'.join(terms)}" if terms else ""
            via_code = ""
            if j in sig.code_segments and e.industry_code:
                ind = kb.industry(e.industry_code)
                via_code = f"；行业代码 {e.industry_code}{'（' + ind.name + '）' if ind else ''}也指向该环节"
            serves = (
                "该园区承载这一产业环节"
                if self.content.park_segment[i, j] >= 1.0
                else f"该园区的主导产业包含「{chain.name}」"
            )
            out.append(
                {
                    "kind": "chain",
                    "text": f"贵企业的业务属于「{chain.name}·{seg.name}」{said}{via_code}，{serves}。",
                    "source": seg.source,
                }
            )
        industry = self._industry_reason(i, s)
        if industry is not None:
            out.append(industry)
        if i in sig.park_keywords:
            out.append(
                {
                    "kind": "cluster",
                    "text": f"园区特色产品「{'、'.join(sig.park_keywords[i])}」与贵企业主营一致，可就近配套、共享产业集群。",
                    "source": p.source,
                }
            )
        if p.from_list:
            lists = "、".join(f"《{kb.list_by_id[x].title}》" for x in p.lists)
            out.append(
                {
                    "kind": "cluster",
                    "text": f"{p.county}为{lists}所列的县域特色产业集群（{p.name}），"
                    f"主要产品：{'、'.join(p.keywords[:6])}。",
                    "source": p.source,
                }
            )
        elif p.kind == "county":
            out.append(
                {
                    "kind": "cluster",
                    "text": f"「{p.name}」是{p.city}的县级行政区，可在县域内选址。",
                    "source": p.source,
                }
            )
        elif p.named_by_policy:
            out.append(
                {
                    "kind": "cluster",
                    "text": f"「{p.name}」是政策点名加快建设的{p.kind_name}。",
                    "source": p.source,
                }
            )
        elif p.from_catalogue:
            industries = "、".join(p.leading_industries)
            out.append(
                {
                    "kind": "cluster",
                    "text": f"「{p.name}」是{p.level or ''}批准的{p.zone_type or '开发区'}，主导产业：{industries}。",
                    "source": p.source,
                }
            )
        zone = kb.zone_by_id[p.zone_id]
        zi = self.content.zone_ids.index(p.zone_id)
        if sig.zone_fit[zi] > 0.05:
            out.append(
                {
                    "kind": "zone",
                    "text": f"园区位于{zone.name}，区域定位明确支持贵企业所属产业。",
                    "source": zone.source,
                }
            )
        else:
            out.append({"kind": "zone", "text": f"园区位于{zone.name}。", "source": zone.source})
        for rule in s.policy.applied.get(i, []):
            out.append({"kind": "policy", "text": rule.text, "source": rule.source})
        if self.collab is not None and s.collab_raw is not None:
            norm = (
                s.collaborative[i] / self.weights.collaborative if self.weights.collaborative else 0
            )
            if norm >= SIMILAR_SHOWN:
                pairs = self.collab.explain(
                    s.user_features, self._item_rows[i], user_row=s.user_row
                )
                if pairs:
                    said = "；".join(
                        f"{self.describe_feature(a.user_feature)} ↔ {self.describe_feature(a.item_feature)}"
                        for a in pairs
                    )
                    out.append(
                        {
                            "kind": "similar",
                            "text": f"与贵企业特征相近的企业多在此落户或签约（主要依据：{said}）。",
                            "source": None,
                        }
                    )
        return out

    def _industry_reason(self, i: int, s: Scored) -> dict[str, Any] | None:
        """The GB/T class the enterprise most likely belongs to, and the place's class it meets."""
        fit = self.content.class_fit
        sig = s.signals
        if fit is None or not len(sig.class_fit) or sig.class_fit[i] < INDUSTRY_SHOWN:
            return None
        m = fit.explain(i, int(sig.park_best_class[i]))
        if m is None:
            return None
        ours, theirs = (
            self.kb.industries.get(m.enterprise_code),
            self.kb.industries.get(m.place_code),
        )
        if ours is None or theirs is None:
            return None
        level = {"class": "同属一个小类", "group": "同属一个中类", "division": "同属一个大类"}[
            m.level
        ]
        basis = next((c.basis for c in self.parks[i].classes if c.code == m.place_code), None)
        said = f"（依据：{basis}）" if basis else ""
        return {
            "kind": "industry",
            "text": f"贵企业主营最接近国民经济行业「{m.enterprise_code} {ours.name}」，"
            f"该地点主导产业含「{m.place_code} {theirs.name}」{said}，二者{level}。",
            "source": self.parks[i].source,
        }

    def registry_reasons(self, s: Scored, i: int, reveal_names: bool) -> list[dict[str, Any]]:
        """「本县已登记经营范围相近的企业 N 家（如：…）」 for the place's county, from the registry."""
        if self.registry is None or s.registry_support is None:
            return []
        row = int(self._registry_rows[i])
        n = int(s.registry_support.count[row]) if row >= 0 else 0
        if n <= 0:
            return []
        p = self.parks[i]
        county = self.kb.park_by_id.get(self.registry.counties_[row])
        where = "本县" if p.kind == "county" else f"园区所在的{county.name if county else '县'}"
        names = s.registry_support.examples.get(row, []) if reveal_names else []
        example = f"（如：{'、'.join(names)}）" if names else ""
        return [
            {
                "kind": "similar",
                "text": f"{where}已登记经营范围相近的企业 {n} 家{example}。",
                "source": self.registry.source_,
            }
        ]

    def describe_feature(self, name: str) -> str:
        """A LightFM feature name in words a bureau officer reads."""
        kind, _, value = name.partition(":")
        kb = self.kb
        if kind == "seg" and value in kb.segment_by_id:
            return f"环节「{kb.segment_by_id[value].name}」"
        if kind == "chain" and value in kb.chain_by_id:
            return f"产业链「{kb.chain_by_id[value].name}」"
        if kind == "zone" and value in kb.zone_by_id:
            return kb.zone_by_id[value].name
        if kind == "city":
            return f"城市「{value}」"
        if kind == "origin":
            return "来源地未知" if value == "unknown" else f"来自{value}"
        if kind == "gbt":
            ind = kb.industries.get(value)
            return f"行业「{ind.name}」" if ind else f"行业 {value}"
        if kind == "kind":
            return PARK_KINDS.get(value, value)
        if kind in BUCKET_NAMES:
            label, values = BUCKET_NAMES[kind]
            return f"{label}{values.get(value, '未知')}"
        if name in kb.park_by_id:
            p = kb.park_by_id[name]
            return f"县域「{p.name}」" if p.kind == "county" else f"园区「{p.name}」"
        return name

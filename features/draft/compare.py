"""Align a draft with a knowledge base record by record: the core of both the review page (what a
draft adds, changes or removes) and the evaluation against the hand-built KB (`make eval`)."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from features.draft.places import PLACE_SUFFIX

_DROP = re.compile(r"国家级|国家|省级|（|）|\(|\)|•|·|市|产业|基地|园区|集群|示范|港口?|片区|段")


def bigrams(s: str) -> set[str]:
    return {s[i : i + 2] for i in range(len(s) - 1)} or {s}


def dice(a: str, b: str) -> float:
    x, y = bigrams(a), bigrams(b)
    return 2 * len(x & y) / (len(x) + len(y)) if x and y else 0.0


def name_core(name: str, city: str | None = None, county: str | None = None) -> str:
    """A place name without its city, county, 国家/省级 and kind words, for comparing names."""
    core = name
    for w in (city, county, (county or "")[:-1] if county and len(county) > 2 else None):
        if w:
            core = core.replace(w, "")
    core = PLACE_SUFFIX.sub("", core) or core
    return _DROP.sub("", core) or core


def same_place(a: dict[str, Any], b: dict[str, Any]) -> float:
    """How surely two place records name the same place (0 when the city differs)."""
    if (a.get("city") or None) != (b.get("city") or None) or a.get("city") is None:
        return 0.0
    ca = name_core(a["name"], a.get("city"), a.get("county"))
    cb = name_core(b["name"], b.get("city"), b.get("county"))
    if not ca or not cb:
        return 0.0
    if ca == cb:
        return 1.0
    if len(ca) >= 2 and len(cb) >= 2 and (ca in cb or cb in ca):
        return 0.8
    d = dice(ca, cb)
    return d if d >= 0.5 else 0.0


def same_name(a: dict[str, Any], b: dict[str, Any]) -> float:
    na, nb = a["name"], b["name"]
    if na == nb:
        return 1.0
    if len(na) >= 2 and len(nb) >= 2 and (na in nb or nb in na):
        return 0.8
    d = dice(na, nb)
    return d if d >= 0.6 else 0.0


def _sources(r: dict[str, Any]) -> set[str]:
    return {r.get("source") or "", *(r.get("also_source") or [])} - {""}


def same_segment(a: dict[str, Any], b: dict[str, Any]) -> float:
    """Same name, or drawn from the same sentence of the policy."""
    by_name = same_name(a, b)
    if by_name:
        return by_name
    return 0.7 if _sources(a) & _sources(b) else 0.0


def same_rule(a: dict[str, Any], b: dict[str, Any]) -> float:
    """Same effect and resting on the same sentence of the policy."""
    if a.get("effect") != b.get("effect"):
        return 0.0
    return 1.0 if _sources(a) & _sources(b) else 0.0


@dataclass
class Alignment:
    pairs: list[tuple[int, int, float]] = field(default_factory=list)  # (draft i, kb j, score)
    n_draft: int = 0
    n_kb: int = 0

    @property
    def matched(self) -> int:
        return len(self.pairs)

    @property
    def precision(self) -> float:
        return self.matched / self.n_draft if self.n_draft else 0.0

    @property
    def recall(self) -> float:
        return self.matched / self.n_kb if self.n_kb else 0.0

    def unmatched_draft(self) -> list[int]:
        got = {i for i, _, _ in self.pairs}
        return [i for i in range(self.n_draft) if i not in got]

    def unmatched_kb(self) -> list[int]:
        got = {j for _, j, _ in self.pairs}
        return [j for j in range(self.n_kb) if j not in got]


def align(
    draft: Sequence[dict[str, Any]],
    kb: Sequence[dict[str, Any]],
    score: Callable[[dict[str, Any], dict[str, Any]], float],
) -> Alignment:
    """One-to-one alignment, best pairs first (greedy on the score; ties by order)."""
    cand = []
    for i, a in enumerate(draft):
        for j, b in enumerate(kb):
            s = score(a, b)
            if s > 0:
                cand.append((-s, i, j))
    cand.sort()
    used_i: set[int] = set()
    used_j: set[int] = set()
    out = Alignment(n_draft=len(draft), n_kb=len(kb))
    for neg, i, j in cand:
        if i in used_i or j in used_j:
            continue
        used_i.add(i)
        used_j.add(j)
        out.pairs.append((i, j, -neg))
    out.pairs.sort()
    return out


def align_segments(
    draft_chains: Sequence[dict[str, Any]], kb_chains: Sequence[dict[str, Any]]
) -> Alignment:
    """Segments are compared within aligned chains; a segment of an unmatched chain is unmatched."""
    chains = align(draft_chains, kb_chains, same_name)
    total = Alignment(
        n_draft=sum(len(c.get("segments") or []) for c in draft_chains),
        n_kb=sum(len(c.get("segments") or []) for c in kb_chains),
    )
    offs_d = _offsets(draft_chains)
    offs_k = _offsets(kb_chains)
    for i, j, _ in chains.pairs:
        a = align(draft_chains[i]["segments"], kb_chains[j]["segments"], same_segment)
        total.pairs += [(offs_d[i] + x, offs_k[j] + y, s) for x, y, s in a.pairs]
    return total


def _offsets(chains: Sequence[dict[str, Any]]) -> list[int]:
    out, n = [], 0
    for c in chains:
        out.append(n)
        n += len(c.get("segments") or [])
    return out

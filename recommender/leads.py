"""Leads and chain gaps for a park: pool enterprises scored by the serving matcher, seen from the park.

Pure ranking logic over a `Matcher` and enterprise profiles (no database, no HTTP). A lead's score
for a park is exactly the park's score in that enterprise's `/v1/match` answer, because both come
from `Matcher.score`; `LeadCache` keeps the few arrays the leads need per (model version, enterprise).
"""

from __future__ import annotations

import threading
import weakref
from collections import Counter, OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from features.enterprise import SCALE, EnterpriseProfile
from features.kb import Rule
from recommender.collab import Features
from recommender.content import CLASSES_KEPT
from recommender.hybrid import SIMILAR_SHOWN, Matcher, Scored, item_features

SCALE_NAMES = {
    "micro": "微型（20 人以下）",
    "small": "小型（20–99 人）",
    "medium": "中型（100–299 人）",
    "large": "大型（300–999 人）",
    "xlarge": "特大型（1000 人及以上）",
}
# A segment is "empty" without any signed/settled enterprise, "thin" below THIN_MIN of them or
# below THIN_SHARE of the park's median segment (so a big park's weak link shows up too), else "ok".
THIN_MIN = 3
THIN_SHARE = 0.25
# Below this fit the enterprise's text names nothing of the segment (the same cut as Matcher.reasons).
SEGMENT_MIN_FIT = 0.05
# A gap candidate must belong to the segment about as clearly as rules.CHAIN_MIN_FIT asks of a chain;
# candidates are then ranked by CANDIDATE_FIT_WEIGHT·segment fit + (1 − it)·score for the park.
CANDIDATE_MIN_FIT = 0.3
CANDIDATE_FIT_WEIGHT = 0.5
CANDIDATES = 5
# Where each count of a chain-gap answer comes from (registry counts name their import).
RECORDED_SOURCE = "招商部门记录的签约/落地（互动记录）"
DESCRIPTION_CHARS = 120
# About 9 KB an enterprise with the 437 places (parks and counties), 11 KB with a registry term:
# ~225–285 MB when full.
DEFAULT_CACHE_SIZE = 25_000


def scale_of(employees: int | None) -> str | None:
    """The `scale:` bucket of features.enterprise (micro … xlarge), None when unknown."""
    if employees is None:
        return None
    edges, labels = SCALE
    for edge, label in zip(edges, labels, strict=False):
        if employees < edge:
            return label
    return labels[-1]


def shorten(text: str, n: int = DESCRIPTION_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


@dataclass(frozen=True)
class LeadVector:
    """What the leads need of one enterprise's `Scored`, small enough to cache for a whole pool.

    Arrays of shape (n_parks,) are aligned to `matcher.parks`; `segment_scores` to `matcher.segment_ids`.
    """

    enterprise_id: str
    profile: EnterpriseProfile
    final: np.ndarray  # float64, −inf where the policy excludes the park
    content: np.ndarray  # float32, weighted as in the score
    collaborative: np.ndarray  # float32, weighted
    policy: np.ndarray  # float32, weighted adjustment
    registry: np.ndarray | None  # float32, weighted registry term; None without a registry
    best_segment: np.ndarray  # int16, the segment that gave each park its content fit
    segment_scores: np.ndarray  # float32
    terms: dict[int, tuple[str, ...]]  # segment index → policy terms found (segments with any)
    keywords: dict[int, list[str]]  # park index → its product words found in the text
    code_segments: frozenset[int]
    excluded: dict[int, Rule]
    applied: Mapping[int, list[Rule]]  # lazy (rules.AppliedRules): read for shown leads only
    user_features: Features
    has_collab: bool


def summarise(matcher: Matcher, enterprise_id: str, e: EnterpriseProfile, s: Scored) -> LeadVector:
    sig = s.signals
    return LeadVector(
        enterprise_id=enterprise_id,
        profile=e,
        final=np.asarray(s.final, dtype=np.float64),
        content=s.content.astype(np.float32),
        collaborative=s.collaborative.astype(np.float32),
        policy=(s.policy.adjustment * matcher.weights.policy).astype(np.float32),
        registry=s.registry.astype(np.float32) if s.registry is not None else None,
        best_segment=sig.park_best_segment.astype(np.int16),
        segment_scores=sig.segment_scores.astype(np.float32),
        terms={j: tuple(t) for j, t in enumerate(sig.text.terms) if t},
        keywords=dict(sig.park_keywords),
        code_segments=sig.code_segments,
        excluded=dict(s.policy.excluded),
        applied=s.policy.applied,
        user_features=list(s.user_features),
        has_collab=s.collab_raw is not None,
    )


class LeadCache:
    """An LRU of `LeadVector`s keyed by (model version, enterprise id), for one serving matcher.

    An entry is reused only while the enterprise's profile is unchanged, so an edited record is
    rescored; a different matcher object (a new or rolled-back version) empties the cache.
    """

    def __init__(self, maxsize: int = DEFAULT_CACHE_SIZE) -> None:
        self.maxsize = maxsize
        self._entries: OrderedDict[tuple[str, str], LeadVector] = OrderedDict()
        self._owner: weakref.ref[Matcher] | None = None
        # One lock for lookups and filling: two cold requests must not both score the same pool.
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def warm_for(self, matcher: Matcher) -> bool:
        """Whether entries of `matcher` are held (a different matcher empties the cache)."""
        return bool(self._entries) and self._owner is not None and self._owner() is matcher

    def vectors(
        self, matcher: Matcher, items: Sequence[tuple[str, EnterpriseProfile]]
    ) -> list[LeadVector]:
        """The vectors of `items` ((enterprise id, profile) pairs), scoring those not cached."""
        with self._lock:
            if self._owner is None or self._owner() is not matcher:
                self._entries.clear()
                self._owner = weakref.ref(matcher)
            out: list[LeadVector] = []
            ranked = self._classify_missing(matcher, items)
            for eid, profile in items:
                key = (matcher.version, eid)
                v = self._entries.get(key)
                if v is None or v.profile != profile:
                    s = matcher.score(profile, ranked=ranked.get(eid))
                    v = summarise(matcher, eid, profile, s)
                    self._entries[key] = v
                    self.misses += 1
                else:
                    self.hits += 1
                self._entries.move_to_end(key)
                out.append(v)
            while len(self._entries) > self.maxsize:
                self._entries.popitem(last=False)
            return out

    def _classify_missing(
        self, matcher: Matcher, items: Sequence[tuple[str, EnterpriseProfile]]
    ) -> dict[str, list[tuple[str, float]]]:
        """The classifier's reading of every enterprise not cached, in one batch."""
        if matcher.industry is None:
            return {}
        missing = [
            (eid, p)
            for eid, p in items
            if (v := self._entries.get((matcher.version, eid))) is None or v.profile != p
        ]
        if not missing:
            return {}
        ranked = matcher.industry.rank_many([p.text for _, p in missing], k=CLASSES_KEPT)
        return {eid: r for (eid, _), r in zip(missing, ranked, strict=True)}


# -- the park's side ------------------------------------------------------------------------------
@dataclass(frozen=True)
class LeadFilters:
    chain_id: str | None = None
    segment_id: str | None = None
    origin: str | None = None
    scale: str | None = None


@dataclass(frozen=True)
class Lead:
    vector: LeadVector
    score: float
    content: float
    collaborative: float
    policy: float
    registry: float
    segment: int | None  # index into matcher.segment_ids; None when it names none of the park's
    fills_gap: bool


@dataclass(frozen=True)
class ParkSegments:
    """A park's segments and how well its signed/settled enterprises fill them."""

    served: list[int]  # segment indices the park serves, in the policy's order
    placed: dict[int, int]  # segment index → enterprises placed there
    unassigned: int  # placed enterprises whose text names none of the park's segments
    status: dict[int, str]  # segment index → empty | thin | ok
    median: float
    # segment index → registered firms of the park's county whose 经营范围 fits it best (none
    # before a registry is imported), and where those counts come from
    registry: dict[int, int] = field(default_factory=dict)
    registry_source: str | None = None

    def counts(self, j: int) -> list[dict[str, Any]]:
        """Each count of segment `j` with its source: recorded placements, then the registry."""
        out: list[dict[str, Any]] = [{"count": self.placed.get(j, 0), "source": RECORDED_SOURCE}]
        if self.registry_source is not None:
            out.append({"count": self.registry.get(j, 0), "source": self.registry_source})
        return out

    def gap(self, j: int | None) -> bool:
        return j is not None and self.status.get(j) in ("empty", "thin")


def served_segments(matcher: Matcher, park: int) -> list[int]:
    """Segments the park serves; a park naming only a chain serves all of its segments."""
    return [int(j) for j in np.flatnonzero(matcher.content.park_segment[park] > 0)]


def lead_segment(matcher: Matcher, v: LeadVector, park: int) -> int | None:
    """The park segment the enterprise serves best, or None when its text names none of them."""
    j = int(v.best_segment[park])
    if matcher.content.park_segment[park, j] <= 0 or v.segment_scores[j] <= SEGMENT_MIN_FIT:
        return None
    return j


def segment_status(placed: int, median: float) -> str:
    if placed == 0:
        return "empty"
    if placed < max(THIN_MIN, THIN_SHARE * median):
        return "thin"
    return "ok"


def park_segments(
    matcher: Matcher,
    park: int,
    placed: Sequence[LeadVector],
    registry: Mapping[int, int] | None = None,
    registry_source: str | None = None,
) -> ParkSegments:
    """Placed counts per served segment; with `registry` (segment → registered firms of the
    park's county), a segment's status counts both."""
    served = served_segments(matcher, park)
    reg = {j: int((registry or {}).get(j, 0)) for j in served}
    counts: Counter[int] = Counter()
    unassigned = 0
    for v in placed:
        j = lead_segment(matcher, v, park)
        if j is None:
            unassigned += 1
        else:
            counts[j] += 1
    total = {j: counts[j] + reg[j] for j in served}
    median = float(np.median([total[j] for j in served])) if served else 0.0
    return ParkSegments(
        served=served,
        placed={j: counts[j] for j in served},
        unassigned=unassigned,
        status={j: segment_status(total[j], median) for j in served},
        median=median,
        registry=reg if registry_source is not None else {},
        registry_source=registry_source,
    )


def registry_counts(matcher: Matcher, park: int) -> tuple[dict[int, int] | None, str | None]:
    """(segment index → registered firms of the park's county that fit it best, source), or
    (None, None) when the serving model has no registry."""
    reg = matcher.registry
    counts = getattr(reg, "segment_counts_", None)
    if reg is None or counts is None:
        return None, None
    row = int(matcher._registry_rows[park])
    county = matcher.kb.park_by_id.get(reg.counties_[row]) if row >= 0 else None
    where = county.name if county else "所在县"
    source = f"{reg.source_}：{where}已登记、经营范围最契合本环节的企业"
    if row < 0:
        return {}, source
    return {j: int(c) for j, c in enumerate(counts[row]) if c}, source


def _keeps(matcher: Matcher, v: LeadVector, segment: int | None, f: LeadFilters) -> bool:
    if f.origin is not None and v.profile.origin != f.origin:
        return False
    if f.scale is not None and scale_of(v.profile.employees) != f.scale:
        return False
    if f.segment_id is not None and (
        segment is None or matcher.segment_ids[segment] != f.segment_id
    ):
        return False
    if f.chain_id is not None:
        if segment is None:
            return False
        if matcher.kb.chain_of_segment[matcher.segment_ids[segment]] != f.chain_id:
            return False
    return True


def rank_leads(
    matcher: Matcher,
    park: int,
    pool: Sequence[LeadVector],
    segments: ParkSegments,
    filters: LeadFilters | None = None,
) -> list[Lead]:
    """Pool enterprises the policy admits to `park`, filtered, best score first (ties by id)."""
    f = filters or LeadFilters()
    out = []
    for v in pool:
        score = v.final[park]
        if not np.isfinite(score):  # excluded by a policy rule
            continue
        j = lead_segment(matcher, v, park)
        if not _keeps(matcher, v, j, f):
            continue
        out.append(
            Lead(
                vector=v,
                score=float(score),
                content=float(v.content[park]),
                collaborative=float(v.collaborative[park]),
                policy=float(v.policy[park]),
                registry=float(v.registry[park]) if v.registry is not None else 0.0,
                segment=j,
                fills_gap=segments.gap(j),
            )
        )
    out.sort(key=lambda lead: (-lead.score, lead.vector.enterprise_id))
    return out


def lead_reasons(
    matcher: Matcher, park: int, lead: Lead, segments: ParkSegments
) -> list[dict[str, Any]]:
    """Why the lead suits the park, in Chinese, from the park's side: which of its segments the
    enterprise serves and how that segment stands, shared products, policy rules, similar firms."""
    kb, p, v = matcher.kb, matcher.parks[park], lead.vector
    out: list[dict[str, Any]] = []
    j = lead.segment
    if j is not None:
        seg = kb.segment_by_id[matcher.segment_ids[j]]
        chain = kb.chain_by_id[kb.chain_of_segment[seg.segment_id]]
        terms = v.terms.get(j, ())[:5]
        what = "、".join(terms) if terms else shorten(v.profile.description, 24)
        code = v.profile.industry_code
        via_code = ""
        if j in v.code_segments and code:
            ind = kb.industry(code)
            via_code = f"（行业代码 {code}{'·' + ind.name if ind else ''}也指向该环节）"
        label = f"「{chain.name}·{seg.name}」"
        n = segments.placed.get(j, 0)
        status = segments.status.get(j)
        if status == "empty":
            tail = f"可填补园区{label}环节的空白；园区该环节尚无签约或落地企业"
        elif status == "thin":
            tail = f"可补强园区{label}环节；园区该环节现有 {n} 家企业"
        else:
            tail = f"可壮大园区{label}环节；园区该环节已有 {n} 家企业"
        out.append(
            {
                "kind": "chain",
                "text": f"该企业主营「{what}」{via_code}，{tail}。",
                "source": seg.source,
            }
        )
    if park in v.keywords:
        out.append(
            {
                "kind": "cluster",
                "text": f"该企业产品与园区特色产品「{'、'.join(v.keywords[park])}」一致，可在园区就近配套、融入产业集群。",
                "source": p.source,
            }
        )
    for rule in v.applied.get(park, []):
        out.append({"kind": "policy", "text": rule.text, "source": rule.source})
    collab = matcher.collab
    w = matcher.weights.collaborative
    if collab is not None and v.has_collab and w and lead.collaborative / w >= SIMILAR_SHOWN:
        row = collab.item_rows([p.park_id], [item_features(p)])[0]
        pairs = collab.explain(v.user_features, row)
        if pairs:
            said = "；".join(
                f"{matcher.describe_feature(a.user_feature)} ↔ {matcher.describe_feature(a.item_feature)}"
                for a in pairs
            )
            out.append(
                {
                    "kind": "similar",
                    "text": f"与该企业特征相近的企业多在本园区落户或签约（主要依据：{said}）。",
                    "source": None,
                }
            )
    return out


def lead_entry(matcher: Matcher, park: int, lead: Lead, segments: ParkSegments) -> dict[str, Any]:
    """One lead as the API returns it."""
    v, kb = lead.vector, matcher.kb
    segment = None
    if lead.segment is not None:
        seg = kb.segment_by_id[matcher.segment_ids[lead.segment]]
        segment = {
            "segment_id": seg.segment_id,
            "name": seg.name,
            "chain_id": kb.chain_of_segment[seg.segment_id],
            "chain_name": kb.chain_by_id[kb.chain_of_segment[seg.segment_id]].name,
            "fit": round(float(v.segment_scores[lead.segment]), 4),
        }
    return {
        "enterprise_id": v.enterprise_id,
        "name": v.profile.name,
        "description": shorten(v.profile.description),
        "industry_code": v.profile.industry_code,
        "origin": v.profile.origin,
        "employees": v.profile.employees,
        "scale": scale_of(v.profile.employees),
        "score": round(lead.score, 4),
        "score_breakdown": {
            "content": round(lead.content, 4),
            "collaborative": round(lead.collaborative, 4),
            "policy": round(lead.policy, 4),
            "registry": round(lead.registry, 4),
        },
        "segment": segment,
        "fills_gap": lead.fills_gap,
        "reasons": lead_reasons(matcher, park, lead, segments),
    }


def chain_gaps(
    matcher: Matcher,
    park: int,
    pool: Sequence[LeadVector],
    segments: ParkSegments,
    k: int = CANDIDATES,
) -> list[dict[str, Any]]:
    """For every chain the park serves, its served segments in the policy's order with placed
    counts, status and the top `k` pool candidates (fit to the segment combined with park score)."""
    kb = matcher.kb
    admitted = [v for v in pool if np.isfinite(v.final[park])]
    if admitted:
        fits = np.vstack([v.segment_scores for v in admitted]).astype(np.float64)
        scores = np.array([v.final[park] for v in admitted])
    else:
        fits = np.zeros((0, len(matcher.segment_ids)))
        scores = np.zeros(0)
    by_chain: dict[str, list[int]] = {}
    for j in segments.served:
        by_chain.setdefault(kb.chain_of_segment[matcher.segment_ids[j]], []).append(j)
    out = []
    for chain in kb.chains:  # the policy's order of chains; served segments are in its order too
        if chain.chain_id not in by_chain:
            continue
        segs = []
        for j in by_chain[chain.chain_id]:
            seg = kb.segment_by_id[matcher.segment_ids[j]]
            fit = fits[:, j] if len(admitted) else np.zeros(0)
            rank = CANDIDATE_FIT_WEIGHT * fit + (1 - CANDIDATE_FIT_WEIGHT) * scores
            eligible = np.flatnonzero(fit >= CANDIDATE_MIN_FIT)
            ids = [admitted[int(i)].enterprise_id for i in eligible]
            order = sorted(range(len(eligible)), key=lambda r: (-rank[eligible[r]], ids[r]))[:k]
            candidates = []
            for r in order:
                i = int(eligible[r])
                v = admitted[i]
                candidates.append(
                    {
                        "enterprise_id": v.enterprise_id,
                        "name": v.profile.name,
                        "origin": v.profile.origin,
                        "score": round(float(scores[i]), 4),
                        "segment_fit": round(float(fit[i]), 4),
                    }
                )
            segs.append(
                {
                    "segment_id": seg.segment_id,
                    "name": seg.name,
                    "placed": segments.placed[j],
                    "counts": segments.counts(j),
                    "status": segments.status[j],
                    "candidates": candidates,
                    "source": seg.source,
                }
            )
        out.append({"chain_id": chain.chain_id, "name": chain.name, "segments": segs})
    return out

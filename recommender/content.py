"""Content score: how well an enterprise's text and industry code fit each segment, chain, park and zone."""

from __future__ import annotations

import re
from collections.abc import Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from features.enterprise import EnterpriseProfile
from features.kb import KnowledgeBase
from features.text import SegmentTextFeaturizer, TextMatch, normalize
from recommender.classfit import ClassFit

# A park that names a chain but no segment serves every segment of it, less specifically.
CHAIN_ONLY_WEIGHT = 0.75
CODE_PRIOR = 0.35  # how much a GB/T code that names a segment lifts it
# A stated industry code that agrees with the text dominates the class distribution; one that
# contradicts it still counts, less (and the answer warns).
CODE_AGREES_WEIGHT = 0.7
CLASS_PRIOR = 0.5  # how much the classifier's classes lift the segments they map to
CODE_CONFLICTS_WEIGHT = 0.3
CLASSES_KEPT = 10  # classifier classes kept per enterprise
# One request's classifier readings, by (classifier, text): a self-check page scores the same text
# for its answer, its map and its advice, and reads it once (set per request by
# api.middleware.OneReading; None outside a request, where nothing is kept).
READINGS: ContextVar[dict[tuple[int, str], list[tuple[str, float]]] | None] = ContextVar(
    "classifier_readings", default=None
)


def code_digits(code: str) -> str:
    """`C3482` → `3482`: the GB/T code without its section letter."""
    return code.strip().upper().lstrip("ABCDEFGHIJKLMNOPQRST")


@dataclass(frozen=True)
class ContentWeights:
    """The parts of the content score. Chosen by cross-validation on the real-world dev set
    (`make eval`, reports/eval.md), never on generated data."""

    classes: float = 0.3  # GB/T class fit, blended with the policy-vocabulary segment fit
    keyword: float = 0.35  # per place product word found in the text (at most two)
    zone: float = 0.1  # the zone's positioning names the enterprise's segment


def park_content(
    fit: np.ndarray,
    class_fit: np.ndarray,
    has_classes: np.ndarray,
    zone: np.ndarray,
    hits: np.ndarray,
    named: np.ndarray,
    w: ContentWeights,
) -> tuple[np.ndarray, np.ndarray]:
    """The one content formula, for any broadcastable shapes: (inside, bonus).

    `inside`, in [0, 1], is weighed by the hybrid's content weight: the policy-vocabulary segment
    fit blended with the GB/T class fit where the place has classes, plus the zone's positioning.
    `bonus` (a named or listed place's own product words found in the text) is added outside it,
    so the learned part cannot drown the policy's or a public list's own choice of place."""
    bonus = np.minimum(2, hits) * w.keyword
    blended = np.where(has_classes, w.classes * class_fit + (1 - w.classes) * fit, fit)
    inside = np.clip(blended + w.zone * zone + bonus * ~named, 0, 1)
    return inside, bonus * named


@dataclass(frozen=True)
class ContentSignals:
    """Everything the content side knows about one enterprise."""

    text: TextMatch
    segment_scores: np.ndarray  # (n_segments,) text fit lifted by the code prior
    chain_scores: np.ndarray  # (n_chains,)
    park_scores: np.ndarray  # (n_parks,) segment and zone fit, in [0, 1]
    # (n_parks,) a policy-named park's own product words found in the text (e.g. 羊绒 for 清河羊绒):
    # added outside the content weight, so that the learned part cannot drown a named cluster's match
    park_bonus: np.ndarray
    park_best_segment: np.ndarray  # (n_parks,) index of the segment that gave the park its fit
    park_keywords: dict[int, list[str]]  # park index → its product words found in the text
    zone_fit: np.ndarray  # (n_zones,)
    code_segments: frozenset[int]  # segments the industry code names
    code_chains: frozenset[int]
    code_conflict: bool  # the code names chains the text does not support
    # (n_classes,) the enterprise's GB/T class distribution (empty without a classifier)
    segment_fit: np.ndarray = field(
        default_factory=lambda: np.zeros(0)
    )  # (n_parks,) before blending
    keyword_hits: np.ndarray = field(default_factory=lambda: np.zeros(0))  # (n_parks,) words found
    classes: np.ndarray = field(default_factory=lambda: np.zeros(0))
    class_fit: np.ndarray = field(default_factory=lambda: np.zeros(0))  # (n_parks,)
    park_best_class: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))


class ContentScorer:
    """Precomputes the park × segment matrix of a KB; `score` is then a few numpy operations."""

    def __init__(
        self,
        kb: KnowledgeBase,
        text: SegmentTextFeaturizer,
        industry: Any = None,
        weights: ContentWeights | None = None,
    ) -> None:
        self.kb = kb
        self.weights = weights or ContentWeights()
        self.text = text
        # The industry classifier (recommender.industry.IndustryClassifier) or None.
        self.industry = industry
        self.class_fit = ClassFit(industry.classes_) if industry is not None else None
        self.segment_ids = text.segment_ids_
        self.seg_index = {s: i for i, s in enumerate(self.segment_ids)}
        self.chain_ids = [c.chain_id for c in kb.chains]
        self.chain_index = {c: i for i, c in enumerate(self.chain_ids)}
        self.zone_ids = [z.zone_id for z in kb.zones]
        self.seg_chain = np.array([self.chain_index[c] for c in text.chain_of_segment_])
        # word → the words of its synonym group (data/kb/synonyms.yaml; a word in two groups keeps
        # the first), the first of which stands for the group.
        self.synonyms: dict[str, tuple[str, ...]] = {}
        for group in kb.synonyms:
            words = tuple(dict.fromkeys(normalize(t) for t in group.terms))
            for w in words:
                self.synonyms.setdefault(w, words)
        self.class_segment = self._class_segments()
        self.set_parks(kb.parks)
        self.zone_focus = np.zeros((len(self.zone_ids), len(self.segment_ids)))
        for zi, z in enumerate(kb.zones):
            for ref in z.focus_chains:
                for j in self._ref_segments(ref.chain_id, ref.segment_id):
                    self.zone_focus[zi, j] = 1.0

    def lift_segments(self, seg: np.ndarray, classes: np.ndarray | Any) -> np.ndarray:
        """Segment fits (…, n_segments) lifted by the class distributions (…, n_classes) towards the
        segments those classes map to, as a stated code lifts them: a text in words the policy
        does not use still finds its chain."""
        if self.class_fit is None or classes.shape[-1] == 0:
            return seg
        lift = np.asarray(classes @ self.class_segment)
        return seg + CLASS_PRIOR * lift * (1 - seg)

    def _class_segments(self) -> np.ndarray:
        """(n_classes, n_segments): the segments each GB/T class maps to (gbt_chain_map.yaml),
        1 where the map names the segment, 0.6 for every segment of a chain it names whole."""
        if self.class_fit is None:
            return np.zeros((0, len(self.segment_ids)))
        m = np.zeros((len(self.class_fit.classes), len(self.segment_ids)))
        for i, code in enumerate(self.class_fit.classes):
            for ref in self.kb.chains_for_code(code):
                w = 1.0 if ref.segment_id else 0.6
                for j in self._ref_segments(ref.chain_id, ref.segment_id):
                    m[i, j] = max(m[i, j], w)
        return m

    def _ref_segments(self, chain_id: str, segment_id: str | None) -> list[int]:
        if segment_id:
            return [self.seg_index[segment_id]]
        ci = self.chain_index[chain_id]
        return [j for j in range(len(self.segment_ids)) if self.seg_chain[j] == ci]

    def set_parks(self, parks: tuple) -> None:  # type: ignore[type-arg]
        """(Re)build the park side; used for the KB's parks and for synthetic catalogues."""
        self.parks = parks
        m = np.zeros((len(parks), len(self.segment_ids)), dtype=np.float32)
        # A park's product words, each standing for its synonym group (标准件 = 紧固件 = 螺栓):
        # canonical word → parks, and (park, canonical) → the park's own word, for the reasons.
        kw_parks: dict[str, list[int]] = {}
        self.kw_own: dict[tuple[int, str], str] = {}
        for pi, p in enumerate(parks):
            for ref in p.chains:
                w = 1.0 if ref.segment_id else CHAIN_ONLY_WEIGHT
                for j in self._ref_segments(ref.chain_id, ref.segment_id):
                    m[pi, j] = max(m[pi, j], w)
            for kw in p.keywords:
                k = self.canonical(normalize(kw))
                if len(k) >= 2 and pi not in kw_parks.get(k, ()):
                    kw_parks.setdefault(k, []).append(pi)
                    self.kw_own[(pi, k)] = kw
        self.park_segment = m
        self.park_zone = np.array([self.zone_ids.index(p.zone_id) for p in parks])
        # A place the policy or a public list names: its own product words count outside the weight.
        self.park_named = np.array([p.named_by_policy or p.from_list for p in parks], dtype=bool)
        self.kw_parks = kw_parks
        if self.class_fit is not None:
            self.class_fit.set_parks(parks)
        words = {w for k in kw_parks for w in self.synonyms.get(k, (k,))} | set(kw_parks)
        self._kw_pattern = (
            re.compile("|".join(re.escape(k) for k in sorted(words, key=len, reverse=True)))
            if words
            else None
        )

    def canonical(self, word: str) -> str:
        """The word that stands for `word`'s synonym group (itself without one)."""
        group = self.synonyms.get(word)
        return group[0] if group else word

    def keyword_matches(self, norm_text: str) -> set[str]:
        """The canonical product words found in a normalised text."""
        if self._kw_pattern is None:
            return set()
        return {self.canonical(m.group(0)) for m in self._kw_pattern.finditer(norm_text)}

    def score(
        self, e: EnterpriseProfile, ranked: list[tuple[str, float]] | None = None
    ) -> ContentSignals:
        """The content signals of one enterprise; `ranked` is the classifier's reading of its
        text when the caller classified many texts at once (`IndustryClassifier.rank_many`)."""
        tm = self.text.transform_one(e.text)
        seg = tm.scores.copy()
        code_segments: set[int] = set()
        code_chains: set[int] = set()
        if e.industry_code:
            for ref in self.kb.chains_for_code(e.industry_code):
                code_chains.add(self.chain_index[ref.chain_id])
                for j in self._ref_segments(ref.chain_id, ref.segment_id):
                    code_segments.add(j)
            if code_segments:
                idx = np.array(sorted(code_segments))
                prior = CODE_PRIOR * (
                    1.0
                    if any(r.segment_id for r in self.kb.chains_for_code(e.industry_code))
                    else 0.6
                )
                seg[idx] = seg[idx] + prior * (1 - seg[idx])
        conflict = self._conflict(tm.scores, code_chains)
        classes, class_fit, best_class = self.classes_of(e, conflict, ranked)
        seg = self.lift_segments(seg, classes)
        n_chains = len(self.chain_ids)
        chain_scores = np.zeros(n_chains)
        np.maximum.at(chain_scores, self.seg_chain, seg)

        weighted = self.park_segment * seg[None, :]
        best = weighted.argmax(axis=1)
        fit = weighted[np.arange(len(best)), best]
        kw_hits: dict[int, list[str]] = {}
        for k in sorted(self.keyword_matches(normalize(e.text))):
            for pi in self.kw_parks.get(k, ()):
                kw_hits.setdefault(pi, []).append(self.kw_own[(pi, k)])
        hits = np.zeros(len(fit))
        for pi, words in kw_hits.items():
            hits[pi] = len(words)
        zone_fit = (self.zone_focus * seg[None, :]).max(axis=1)
        # A policy-named base or cluster's own product words (羊绒 for 清河羊绒) are the policy's
        # words for what it should host: they count outside the content weight. A catalogue zone's
        # 主导产业 words (汽车, 钢铁) are broad and stay inside the 0–1 fit.
        park_scores, bonus = park_content(
            fit,
            class_fit,
            self.class_fit.has_classes if self.class_fit is not None else False,
            zone_fit[self.park_zone],
            hits,
            self.park_named,
            self.weights,
        )
        return ContentSignals(
            text=tm,
            segment_scores=seg,
            chain_scores=chain_scores,
            park_scores=park_scores,
            park_bonus=bonus,
            park_best_segment=best,
            park_keywords=kw_hits,
            zone_fit=zone_fit,
            code_segments=frozenset(code_segments),
            code_chains=frozenset(code_chains),
            code_conflict=conflict,
            segment_fit=fit,
            keyword_hits=hits,
            classes=classes,
            class_fit=class_fit,
            park_best_class=best_class,
        )

    def classes_of(
        self, e: EnterpriseProfile, conflict: bool, ranked: list[tuple[str, float]] | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The enterprise's class distribution and each place's class fit and best class (empty
        arrays without a classifier)."""
        n = len(self.parks)
        if self.class_fit is None:
            return np.zeros(0), np.zeros(n), np.zeros(n, dtype=np.int64)
        if ranked is None:
            p = self.class_distribution(e, conflict)
        else:
            p = self._with_code(e, ranked, conflict)
        fit, best = self.class_fit.score(p)
        return p, fit, best

    def class_distribution(self, e: EnterpriseProfile, conflict: bool | None = None) -> np.ndarray:
        """(n_classes,) the enterprise's GB/T class distribution: the classifier's reading of its
        text, with a stated code mixed in — dominating when it agrees with the text. `conflict`
        is `ContentSignals.code_conflict`, computed here when not given."""
        if self.industry is None or self.class_fit is None:
            raise RuntimeError("没有行业分类器，无法计算行业分布")
        memo = READINGS.get()
        key = (id(self.industry), e.text)
        ranked = memo.get(key) if memo is not None else None
        if ranked is None:
            ranked = self.industry.rank(e.text, k=CLASSES_KEPT)
            if memo is not None:
                memo[key] = ranked
        return self._with_code(e, ranked, conflict)

    def class_distributions(
        self, profs: Sequence[EnterpriseProfile], conflicts: Sequence[bool] | None = None
    ) -> np.ndarray:
        """(n, n_classes) `class_distribution` of many enterprises, classified in batches;
        `conflicts`: each one's `code_conflict`, when the caller has read the texts already."""
        if self.industry is None or self.class_fit is None:
            return np.zeros((len(profs), 0))
        if not profs:
            return np.zeros((0, len(self.class_fit.classes)))
        ranked = self.industry.rank_many([e.text for e in profs], k=CLASSES_KEPT)
        known: Sequence[bool | None] = conflicts if conflicts is not None else [None] * len(profs)
        return np.vstack(
            [self._with_code(e, r, c) for e, r, c in zip(profs, ranked, known, strict=True)]
        )

    def code_conflicts(
        self, profs: Sequence[EnterpriseProfile], text_scores: np.ndarray
    ) -> list[bool]:
        """`code_conflict` of many enterprises from their texts' segment fits (n, n_segments)."""
        out = []
        for e, scores in zip(profs, text_scores, strict=True):
            if not e.industry_code:
                out.append(False)
                continue
            chains = {
                self.chain_index[r.chain_id] for r in self.kb.chains_for_code(e.industry_code)
            }
            out.append(self._conflict(scores, chains))
        return out

    def _with_code(
        self, e: EnterpriseProfile, ranked: list[tuple[str, float]], conflict: bool | None
    ) -> np.ndarray:
        assert self.class_fit is not None
        code = code_digits(e.industry_code) if e.industry_code else None
        weight = 0.0
        if code:
            if conflict is None:
                conflict = self.code_conflict(e)
            agrees = not conflict and (
                not ranked or any(c.startswith(code[:2]) for c, _ in ranked[:5])
            )
            weight = CODE_AGREES_WEIGHT if agrees else CODE_CONFLICTS_WEIGHT
        return self.class_fit.distribution(ranked, code, weight)

    def code_conflict(self, e: EnterpriseProfile) -> bool:
        """Whether the stated code names chains the text does not support."""
        return self.code_conflicts([e], self.text.transform_one(e.text).scores[None, :])[0]

    def _conflict(self, text_scores: np.ndarray, code_chains: set[int]) -> bool:
        top = max(float(text_scores.max(initial=0.0)), 1e-9)
        text_chain_ids = {
            int(self.seg_chain[j])
            for j in np.flatnonzero(text_scores >= 0.5 * top)
            if text_scores[j] > 0.2
        }
        return bool(code_chains) and bool(text_chain_ids) and not (code_chains & text_chain_ids)

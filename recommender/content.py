"""Content score: how well an enterprise's text and industry code fit each segment, chain, park and zone."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from features.enterprise import EnterpriseProfile
from features.kb import KnowledgeBase
from features.text import SegmentTextFeaturizer, TextMatch, normalize

# A park that names a chain but no segment serves every segment of it, less specifically.
CHAIN_ONLY_WEIGHT = 0.75
CODE_PRIOR = 0.35  # how much a GB/T code that names a segment lifts it
KEYWORD_BONUS = (
    0.15  # per park product word found in the text (at most two), e.g. 羊绒 for 清河羊绒
)
ZONE_FOCUS_WEIGHT = 0.1


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


class ContentScorer:
    """Precomputes the park × segment matrix of a KB; `score` is then a few numpy operations."""

    def __init__(self, kb: KnowledgeBase, text: SegmentTextFeaturizer) -> None:
        self.kb = kb
        self.text = text
        self.segment_ids = text.segment_ids_
        self.seg_index = {s: i for i, s in enumerate(self.segment_ids)}
        self.chain_ids = [c.chain_id for c in kb.chains]
        self.chain_index = {c: i for i, c in enumerate(self.chain_ids)}
        self.zone_ids = [z.zone_id for z in kb.zones]
        self.seg_chain = np.array([self.chain_index[c] for c in text.chain_of_segment_])
        self.set_parks(kb.parks)
        self.zone_focus = np.zeros((len(self.zone_ids), len(self.segment_ids)))
        for zi, z in enumerate(kb.zones):
            for ref in z.focus_chains:
                for j in self._ref_segments(ref.chain_id, ref.segment_id):
                    self.zone_focus[zi, j] = 1.0

    def _ref_segments(self, chain_id: str, segment_id: str | None) -> list[int]:
        if segment_id:
            return [self.seg_index[segment_id]]
        ci = self.chain_index[chain_id]
        return [j for j in range(len(self.segment_ids)) if self.seg_chain[j] == ci]

    def set_parks(self, parks: tuple) -> None:  # type: ignore[type-arg]
        """(Re)build the park side; used for the KB's parks and for synthetic catalogues."""
        self.parks = parks
        m = np.zeros((len(parks), len(self.segment_ids)), dtype=np.float32)
        kw_parks: dict[str, list[int]] = {}
        for pi, p in enumerate(parks):
            for ref in p.chains:
                w = 1.0 if ref.segment_id else CHAIN_ONLY_WEIGHT
                for j in self._ref_segments(ref.chain_id, ref.segment_id):
                    m[pi, j] = max(m[pi, j], w)
            for kw in p.keywords:
                k = normalize(kw)
                if len(k) >= 2:
                    kw_parks.setdefault(k, []).append(pi)
        self.park_segment = m
        self.park_zone = np.array([self.zone_ids.index(p.zone_id) for p in parks])
        self.park_named = np.array([p.named_by_policy for p in parks], dtype=bool)
        self.kw_parks = kw_parks
        self._kw_pattern = (
            re.compile("|".join(re.escape(k) for k in sorted(kw_parks, key=len, reverse=True)))
            if kw_parks
            else None
        )

    def score(self, e: EnterpriseProfile) -> ContentSignals:
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
        n_chains = len(self.chain_ids)
        chain_scores = np.zeros(n_chains)
        np.maximum.at(chain_scores, self.seg_chain, seg)
        text_chains = set(np.flatnonzero(tm.scores >= 0.5 * max(tm.scores.max(), 1e-9)))
        text_chain_ids = {int(self.seg_chain[j]) for j in text_chains if tm.scores[j] > 0.2}
        conflict = bool(code_chains) and bool(text_chain_ids) and not (code_chains & text_chain_ids)

        weighted = self.park_segment * seg[None, :]
        best = weighted.argmax(axis=1)
        fit = weighted[np.arange(len(best)), best]
        kw_hits: dict[int, list[str]] = {}
        if self._kw_pattern is not None:
            for m in self._kw_pattern.finditer(normalize(e.text)):
                for pi in self.kw_parks[m.group(0)]:
                    hits = kw_hits.setdefault(pi, [])
                    if m.group(0) not in hits:
                        hits.append(m.group(0))
        bonus = np.zeros(len(fit))
        for pi, words in kw_hits.items():
            bonus[pi] = min(2, len(words)) * KEYWORD_BONUS
        zone_fit = (self.zone_focus * seg[None, :]).max(axis=1)
        # A policy-named base or cluster's own product words (羊绒 for 清河羊绒) are the policy's
        # words for what it should host: they count outside the content weight. A catalogue zone's
        # 主导产业 words (汽车, 钢铁) are broad and stay inside the 0–1 fit.
        park_scores = np.clip(
            fit + ZONE_FOCUS_WEIGHT * zone_fit[self.park_zone] + bonus * ~self.park_named, 0, 1
        )
        bonus = bonus * self.park_named
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
        )

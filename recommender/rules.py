"""The policy's own rules: hard exclusions, score adjustments and warnings, each with its source sentence."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from features.enterprise import EnterpriseProfile
from features.kb import KnowledgeBase, Park, Rule
from features.scope import is_manufacturing
from features.text import normalize
from recommender.content import ContentSignals

# The enterprise "is in" a chain when the chain fits at least this well, absolutely and relative to its best.
CHAIN_MIN_FIT = 0.3
CHAIN_RELATIVE_FIT = 0.6


@dataclass(frozen=True)
class PolicyOutcome:
    adjustment: np.ndarray  # (n_parks,) summed weights of bonus and penalty rules
    excluded: dict[int, Rule]  # park index → the exclusion rule that removed it
    applied: Mapping[int, list[Rule]]  # park index → bonus/penalty rules that moved it
    warnings: list[Rule]  # enterprise-level warnings, in rule order, one per warning code
    enterprise_chains: frozenset[str]


@lru_cache(maxsize=1024)
def _normalized(terms: tuple[str, ...]) -> tuple[str, ...]:
    """A rule's terms normalised once (they were normalised for every rule of every request)."""
    return tuple(normalize(t) for t in terms)


class AppliedRules(Mapping[int, list[Rule]]):
    """Park index → the bonus/penalty rules that moved it, in rule order, looked up on access.

    A request reads it for its top parks only; building it as a dict for every park cost more than
    the rest of the request once a catalogue has thousands of parks.
    """

    def __init__(self, rules: list[Rule], masks: list[np.ndarray], n_parks: int) -> None:
        self._rules, self._masks = rules, masks
        self._any = np.logical_or.reduce(masks) if masks else np.zeros(n_parks, dtype=bool)

    def __getitem__(self, park: int) -> list[Rule]:
        found = [r for r, m in zip(self._rules, self._masks, strict=True) if m[park]]
        if not found:
            raise KeyError(park)
        return found

    def __iter__(self) -> Iterator[int]:
        return (int(i) for i in np.flatnonzero(self._any))

    def __len__(self) -> int:
        return int(np.count_nonzero(self._any))

    def __contains__(self, park: object) -> bool:
        if not isinstance(park, int | np.integer) or not 0 <= park < len(self._any):
            return False
        return bool(self._any[park])


def enterprise_chains(kb: KnowledgeBase, signals: ContentSignals) -> frozenset[str]:
    """The chains an enterprise belongs to, judged from its text and industry code."""
    scores = signals.chain_scores
    top = float(scores.max()) if len(scores) else 0.0
    keep = (scores >= CHAIN_MIN_FIT) & (scores >= CHAIN_RELATIVE_FIT * top)
    return frozenset(kb.chains[i].chain_id for i in np.flatnonzero(keep))


def activity(text: str) -> str:
    """`manufacturing` when the text describes producing goods, else `non_manufacturing`."""
    return "manufacturing" if is_manufacturing(text) else "non_manufacturing"


def park_matches(rule: Rule, p: Park) -> bool:
    """Whether the park-side conditions of `rule` hold for `p` (omitted conditions hold)."""
    w = rule.when
    chains = {ref.chain_id for ref in p.chains}
    checks = [
        not w.zone_ids or p.zone_id in w.zone_ids,
        not w.park_kinds or p.kind in w.park_kinds,
        not w.park_ids or p.park_id in w.park_ids,
        not w.park_chains or bool(chains & set(w.park_chains)),
        not w.park_not_chains or not chains & set(w.park_not_chains),
    ]
    return all(checks)


class PolicyEngine:
    def __init__(self, kb: KnowledgeBase, parks: tuple[Park, ...] | None = None) -> None:
        self.kb = kb
        self.rules = kb.rules
        self.set_parks(parks if parks is not None else kb.parks)

    def set_parks(self, parks: tuple[Park, ...]) -> None:
        self.parks = parks
        self.masks = [self._park_mask(r) for r in self.rules]

    def _park_mask(self, rule: Rule) -> np.ndarray:
        return np.array([park_matches(rule, p) for p in self.parks], dtype=bool)

    @staticmethod
    def enterprise_matches(
        rule: Rule, e: EnterpriseProfile, chains: frozenset[str], text: str | None = None
    ) -> bool:
        """Whether the enterprise-side conditions of `rule` hold; `text` is `normalize(e.text)`
        when the caller already has it."""
        w = rule.when
        text = normalize(e.text) if text is None else text
        checks = [
            not w.enterprise_chains or bool(chains & set(w.enterprise_chains)),
            not w.enterprise_not_chains or not chains & set(w.enterprise_not_chains),
            not w.enterprise_terms or any(t in text for t in _normalized(w.enterprise_terms)),
            not any(t in text for t in _normalized(w.enterprise_not_terms)),
            not w.origins or e.origin in w.origins,
            w.min_energy_tce is None or (e.energy_tce or 0) >= w.min_energy_tce,
            w.min_rd_intensity is None or (e.rd_intensity or 0) >= w.min_rd_intensity,
            w.min_investment_wan is None or (e.investment_wan or 0) >= w.min_investment_wan,
            w.min_land_mu is None or (e.land_mu or 0) >= w.min_land_mu,
        ]
        if not all(checks):
            return False
        return not w.enterprise_activities or activity(e.text) in w.enterprise_activities

    def evaluate(self, e: EnterpriseProfile, chains: frozenset[str]) -> PolicyOutcome:
        """Apply every rule to an enterprise of `chains` (see `enterprise_chains`) and all parks."""
        adjustment = np.zeros(len(self.parks))
        excluded: dict[int, Rule] = {}
        moved: tuple[list[Rule], list[np.ndarray]] = ([], [])
        warnings: dict[str, Rule] = {}
        text = normalize(e.text)  # once, not once per rule
        for rule, mask in zip(self.rules, self.masks, strict=True):
            if not self.enterprise_matches(rule, e, chains, text):
                continue
            if rule.effect == "warning" or rule.warning_code:
                warnings.setdefault(rule.warning_code or rule.rule_id, rule)
            if rule.effect == "exclude":
                for i in np.flatnonzero(mask):
                    excluded.setdefault(int(i), rule)
            elif rule.effect in ("bonus", "penalty") and rule.weight:
                adjustment[mask] += rule.weight
                moved[0].append(rule)
                moved[1].append(mask)
        return PolicyOutcome(
            adjustment=adjustment,
            excluded=excluded,
            applied=AppliedRules(*moved, len(self.parks)),
            warnings=list(warnings.values()),
            enterprise_chains=chains,
        )

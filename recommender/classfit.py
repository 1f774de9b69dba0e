"""Class fit: how well an enterprise's GB/T 4754 class distribution meets the classes each place
hosts, backing off from class to group (3 digits) to division (2 digits).

A place's classes come from `data/kb/place_classes.yaml` (derived from its 主导产业 and product words,
reviewed by hand where the policy names the place). The enterprise's distribution comes from the
industry classifier, or from its stated industry code when the code agrees with the text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from features.kb import Park

# How much a shared group or division counts against an exact class match, by the length of the
# place's code: a place hosting a whole group (3 digits) or division (2) meets every class in it a
# little better than a place hosting one other class of that group or division.
GROUP_SIM = {3: 0.7, 4: 0.6}
DIVISION_SIM = {2: 0.4, 3: 0.3, 4: 0.3}


@dataclass(frozen=True)
class ClassMatch:
    """The enterprise class that gave a place its fit, and at which level it matched."""

    enterprise_code: str
    place_code: str
    level: str  # class | group | division


class ClassFit:
    """Precomputes the (n_places, n_classes) back-off similarity; `score` is one matrix product."""

    def __init__(self, classes: Sequence[str]) -> None:
        self.classes = [str(c) for c in classes]
        self.index = {c: i for i, c in enumerate(self.classes)}
        self.group = np.array([c[:3] for c in self.classes])
        self.division = np.array([c[:2] for c in self.classes])
        self._under_cache: dict[str, np.ndarray] = {}
        self.set_parks(())

    def set_parks(self, parks: Sequence[Park]) -> None:
        n, m = len(parks), len(self.classes)
        # Kept class by class, (n_classes, n_places): a request reads the rows of its ~10 classes,
        # contiguous, rather than ~10 scattered values from each of thousands of place rows.
        sim_t = np.zeros((m, n), dtype=np.float32)
        # For the explanation: which of the place's own classes each enterprise class met.
        self._place_codes: list[list[str]] = []
        for pi, p in enumerate(parks):
            codes = [ref.code for ref in p.classes]
            self._place_codes.append(codes)
            row = np.zeros(m, dtype=np.float32)
            for ref in p.classes:
                w, code = float(ref.weight), ref.code
                # A place code names a class, or a whole group or division (a broad 主导产业).
                division = np.where(self.division == code[:2], DIVISION_SIM[len(code)] * w, 0.0)
                np.maximum(row, division, out=row)
                if len(code) >= 3:
                    group = np.where(self.group == code[:3], GROUP_SIM[len(code)] * w, 0.0)
                    np.maximum(row, group, out=row)
                exact = self.index.get(code)
                if exact is not None:
                    row[exact] = max(row[exact], w)
            sim_t[:, pi] = row
        self.sim_t = sim_t
        self.has_classes = np.array([bool(c) for c in self._place_codes], dtype=bool)

    @property
    def sim(self) -> np.ndarray:
        """(n_places, n_classes) back-off similarity (a view of `sim_t`)."""
        return self.sim_t.T

    def distribution(
        self, ranked: Sequence[tuple[str, float]], code: str | None = None, code_weight: float = 0.0
    ) -> np.ndarray:
        """A (n_classes,) distribution from the classifier's ranked (code, p) pairs, with a stated
        industry code mixed in at `code_weight` (spread over its classes when it is a group or
        division code)."""
        p = np.zeros(len(self.classes))
        for c, prob in ranked:
            i = self.index.get(c)
            if i is not None:
                p[i] += prob
        if p.sum() > 0:
            p /= p.sum()
        if code and code_weight > 0:
            under = self._under(code)
            if under.any():
                q = under / under.sum()
                p = (1 - code_weight) * p + code_weight * q if p.sum() > 0 else q
        return p

    def _under(self, code: str) -> np.ndarray:
        """(n_classes,) whether each class lies under `code` (a class, group or division)."""
        under = self._under_cache.get(code)
        if under is None:
            under = np.array([c.startswith(code) for c in self.classes])
            if len(self._under_cache) < 10_000:  # GB/T has ~1,700 codes: bounded anyway
                self._under_cache[code] = under
        return under

    def score(self, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Expected back-off similarity of each place to the distribution `p`, in [0, 1], and the
        index of the enterprise class that contributed most to each place."""
        idx = np.flatnonzero(p > 0)
        n = self.sim_t.shape[1]
        if not len(idx) or not n:
            return np.zeros(n), np.zeros(n, dtype=np.int64)
        # (n_places, k) in the same memory order as `sim[:, idx]` gives, so sums are bit-equal
        contrib = self.sim_t[idx].T * p[idx][None, :]
        fit = contrib.sum(axis=1) / max(float(p[idx].sum()), 1e-9)
        best = idx[contrib.argmax(axis=1)]
        return np.clip(fit, 0.0, 1.0), best

    def explain(self, place: int, enterprise_class: int) -> ClassMatch | None:
        """Which of the place's classes the enterprise class met, and at which level."""
        code = self.classes[enterprise_class]
        for level, n in (("class", 4), ("group", 3), ("division", 2)):
            for pc in self._place_codes[place]:
                if pc[:n] == code[:n]:
                    return ClassMatch(code, pc, level)
        return None

"""The ranking's head: the k best parks without sorting the whole catalogue, as a stable sort."""

from __future__ import annotations

import numpy as np

from recommender.hybrid import top_parks


def test_top_parks_equals_the_head_of_a_stable_sort_with_ties_and_exclusions() -> None:
    rng = np.random.default_rng(7)
    for _ in range(500):
        n = int(rng.integers(0, 80))
        final = rng.integers(0, 4, size=n) / 3.0  # few distinct scores: ties everywhere
        final[rng.random(n) < 0.2] = -np.inf  # parks a rule excludes
        k = int(rng.integers(1, 90))
        ranked = np.argsort(-final, kind="stable")
        want = ranked[np.isfinite(final[ranked])][:k]
        assert np.array_equal(top_parks(final, k), want)


def test_top_parks_never_returns_an_excluded_park() -> None:
    final = np.array([0.2, -np.inf, 0.9, -np.inf])
    assert list(top_parks(final, 10)) == [2, 0]

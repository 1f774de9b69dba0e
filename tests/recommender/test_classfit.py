"""Class fit: an enterprise's GB/T class distribution against the classes each place hosts."""

from __future__ import annotations

import numpy as np

from features.kb import ClassRef, Park
from recommender.classfit import ClassFit

CLASSES = ["3481", "3482", "3489", "3411", "1721", "2110"]


def _place(pid: str, *codes: str) -> Park:
    return Park(
        park_id=pid,
        name=pid,
        kind="county_cluster",
        city="邯郸",
        zone_id="xinghenghan",
        source="test",
        classes=tuple(ClassRef(code=c) for c in codes),
    )


def _fit(*places: Park) -> ClassFit:
    fit = ClassFit(CLASSES)
    fit.set_parks(places)
    return fit


def test_score_backs_off_from_class_to_group_to_division() -> None:
    fit = _fit(
        _place("same", "3482"),
        _place("group", "3481"),
        _place("division", "3411"),
        _place("other", "1721"),
    )
    p = fit.distribution([("3482", 0.9)])
    scores, best = fit.score(p)
    assert scores[0] == 1.0
    assert scores[0] > scores[1] > scores[2] > scores[3] == 0.0
    assert fit.explain(1, int(best[1])).level == "group"
    assert fit.explain(2, int(best[2])).level == "division"
    assert fit.explain(3, int(best[3])) is None


def test_place_naming_a_whole_group_meets_its_classes_better_than_a_sibling_class() -> None:
    fit = _fit(_place("group348", "348"), _place("sibling", "3489"))
    scores, _ = fit.score(fit.distribution([("3482", 1.0)]))
    assert scores[0] > scores[1] > 0


def test_stated_code_dominates_the_distribution_when_weighted() -> None:
    fit = _fit(_place("fasteners", "3482"), _place("furniture", "2110"))
    p = fit.distribution([("2110", 0.6), ("3482", 0.1)], code="3482", code_weight=0.7)
    assert np.isclose(p.sum(), 1.0)
    scores, _ = fit.score(p)
    assert scores[0] > scores[1]


def test_place_without_classes_scores_zero_and_is_marked() -> None:
    fit = _fit(_place("none"), _place("some", "1721"))
    scores, _ = fit.score(fit.distribution([("1721", 1.0)]))
    assert scores[0] == 0.0 and not fit.has_classes[0] and fit.has_classes[1]

"""The faster training paths build exactly what the slow ones did: LightFM's matrices from arrays,
and enterprise features split over processes."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import pytest
from lightfm.data import Dataset

from features.kb import KnowledgeBase
from recommender import train
from recommender.collab import interaction_matrices, user_feature_matrix
from recommender.content import ContentScorer
from recommender.synthetic import GeneratorParams, generate_history

Fitted = tuple[Dataset, list[str], list[list[tuple[str, float]]], list[tuple[str, str, float]]]


@pytest.fixture
def fitted() -> Fitted:
    rng = random.Random(7)
    users = [f"u{i}" for i in range(300)]
    items = [f"p{i}" for i in range(25)]
    names = [f"f{i}" for i in range(40)]
    # Unsorted names, a repeated name (its last weight counts, as in a dict) and a zero weight.
    feats = [
        [(n, round(rng.random(), 3)) for n in rng.sample(names, rng.randint(1, 8))]
        + [("f3", 0.25), ("f3", 0.5), ("f9", 0.0)]
        for _ in users
    ]
    triples = [
        (rng.choice(users), rng.choice(items), rng.choice([0.5, 1.0, 3.0])) for _ in range(900)
    ]
    ds = Dataset(user_identity_features=False, item_identity_features=True)
    ds.fit(users=users, items=items, user_features=names)
    return ds, users, feats, triples


def assert_same(a: Any, b: Any, arrays: tuple[str, ...]) -> None:
    """The same sparse matrix stored the same way (dtype, shape and each named array)."""
    assert a.dtype == b.dtype and a.shape == b.shape
    for name in arrays:
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))


def test_interaction_matrices_equal_lightfm_dataset(fitted: Fitted) -> None:
    ds, _, _, triples = fitted
    for ours, theirs in zip(
        interaction_matrices(ds, triples), ds.build_interactions(triples), strict=True
    ):
        assert_same(ours, theirs, ("row", "col", "data"))


def test_user_feature_matrix_equals_lightfm_dataset(fitted: Fitted) -> None:
    ds, users, feats, _ = fitted
    theirs = ds.build_user_features(zip(users, [dict(f) for f in feats], strict=True))
    assert_same(user_feature_matrix(ds, users, feats), theirs, ("indptr", "indices", "data"))


def test_unknown_ids_are_refused_by_name(fitted: Fitted) -> None:
    ds, users, feats, _ = fitted
    with pytest.raises(ValueError, match="User id nobody"):
        interaction_matrices(ds, [("nobody", "p1", 1.0)])
    with pytest.raises(ValueError, match="Item id p999"):
        interaction_matrices(ds, [("u1", "p999", 1.0)])
    with pytest.raises(ValueError, match="Feature unknown"):
        user_feature_matrix(ds, users[:1], [[("unknown", 1.0)]])


def test_enterprise_features_in_processes_equal_one_process(
    kb: KnowledgeBase, monkeypatch: pytest.MonkeyPatch
) -> None:
    ents, _ = generate_history(kb, GeneratorParams(n_enterprises=60, seed=3))
    profs = train.profiles(ents)
    content = ContentScorer(kb, train.fit_text(kb))
    alone = train.enterprise_features(content, profs, workers=1)
    monkeypatch.setattr(train, "PARALLEL_MIN_ENTERPRISES", 10)
    split = train.enterprise_features(content, profs, workers=2)
    assert len(split) == len(profs) and split == alone

"""Our ranking metrics agree with lightfm.evaluation and sklearn.metrics.ndcg_score."""

from __future__ import annotations

import numpy as np
import pytest
from lightfm import LightFM
from lightfm.evaluation import auc_score, precision_at_k, recall_at_k
from scipy import sparse
from sklearn.metrics import ndcg_score

from recommender.metrics import ranking_metrics


@pytest.fixture(scope="module")
def fitted() -> tuple[LightFM, sparse.csr_matrix, np.ndarray]:
    n_users, n_items = 60, 40
    train = sparse.random(n_users, n_items, density=0.15, format="coo", random_state=1)
    train.data[:] = 1
    test = sparse.random(n_users, n_items, density=0.08, format="csr", random_state=2)
    test.data[:] = 1
    model = LightFM(no_components=8, random_state=0).fit(train, epochs=5, num_threads=1)
    users = np.repeat(np.arange(n_users), n_items)
    items = np.tile(np.arange(n_items), n_users)
    scores = model.predict(users, items, num_threads=1).reshape(n_users, n_items)
    return model, test, scores


@pytest.mark.parametrize("k", [1, 5, 10])
def test_precision_and_recall_match_lightfm(fitted, k: int) -> None:  # type: ignore[no-untyped-def]
    model, test, scores = fitted
    ours = ranking_metrics(scores, test, ks=(k,))
    precision = precision_at_k(model, test, k=k).mean()
    recall = recall_at_k(model, test, k=k).mean()
    # Neither 0 nor 1: a metric stuck at either end would not be told apart from a right one.
    assert 0 < precision < 1 and 0 < recall < 1
    assert ours[f"precision@{k}"] == pytest.approx(precision, abs=1e-6)
    assert ours[f"recall@{k}"] == pytest.approx(recall, abs=1e-6)


def test_auc_matches_lightfm(fitted) -> None:  # type: ignore[no-untyped-def]
    model, test, scores = fitted
    assert ranking_metrics(scores, test)["auc"] == pytest.approx(
        auc_score(model, test).mean(), abs=1e-5
    )


@pytest.mark.parametrize("k", [1, 5, 10])
def test_ndcg_matches_sklearn(fitted, k: int) -> None:  # type: ignore[no-untyped-def]
    _, test, scores = fitted
    dense = test.toarray()
    rows = dense.sum(axis=1) > 0
    expected = ndcg_score(dense[rows], scores[rows], k=k)
    assert ranking_metrics(scores, test, ks=(k,))[f"ndcg@{k}"] == pytest.approx(expected, abs=1e-6)


def test_perfect_ranking_scores_one() -> None:
    rel = sparse.csr_matrix(np.array([[0, 1, 0, 0], [1, 0, 0, 1]]))
    scores = np.array([[0.1, 0.9, 0.2, 0.0], [0.8, 0.1, 0.0, 0.7]])
    m = ranking_metrics(scores, rel)
    assert m["ndcg@5"] == pytest.approx(1.0) and m["auc"] == pytest.approx(1.0)

"""Model bundles round-trip, and a missing, altered or foreign bundle is refused."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from features.enterprise import EnterpriseProfile
from features.kb import KnowledgeBase
from recommender.bundle import BundleError, load_bundle, save_bundle
from recommender.hybrid import Matcher
from recommender.synthetic import GeneratorParams, generate_history
from recommender.train import TrainParams, train_with_holdout

PROFILE = EnterpriseProfile(description="生产高效光伏电池组件和逆变器", origin="天津")


@pytest.fixture(scope="module")
def small(kb: KnowledgeBase) -> tuple[Matcher, dict[str, float]]:
    ents, inter = generate_history(kb, GeneratorParams(n_enterprises=1500, seed=3))
    return train_with_holdout(kb, ents, inter, TrainParams(epochs=10, num_threads=1), version="t1")


def test_trained_model_beats_chance_on_held_out_enterprises(
    small: tuple[Matcher, dict[str, float]],
) -> None:
    matcher, metrics = small
    assert metrics["auc"] > 0.7  # chance is 0.5
    # A random ranking puts the one chosen place in the top 10 with NDCG ≈ Σ 1/log2(k+1) / n.
    chance = sum(1 / np.log2(k + 1) for k in range(1, 11)) / len(matcher.parks)
    assert metrics["ndcg@10"] > 8 * chance


def test_bundle_round_trip_scores_the_same(
    small: tuple[Matcher, dict[str, float]], kb: KnowledgeBase, tmp_path: Path
) -> None:
    matcher, _ = small
    path = save_bundle(matcher, tmp_path, data_hash="x", metrics={"ndcg@10": 0.5})
    loaded = load_bundle(path, kb)
    assert loaded.version == "t1"
    np.testing.assert_allclose(loaded.score(PROFILE).final, matcher.score(PROFILE).final, rtol=1e-6)
    meta = json.loads((path / "metadata.json").read_text(encoding="utf-8"))
    assert meta["libraries"]["rectools-lightfm"] and meta["kb_digest"] == kb.digest


def test_load_bundle_refuses_missing_truncated_and_foreign(
    small: tuple[Matcher, dict[str, float]], kb: KnowledgeBase, tmp_path: Path
) -> None:
    matcher, _ = small
    with pytest.raises(BundleError, match="不存在"):
        load_bundle(tmp_path / "nope", kb)
    path = save_bundle(matcher, tmp_path, data_hash="x")
    pkl = path / "model.pkl"
    data = pkl.read_bytes()
    pkl.write_bytes(data[: len(data) // 2])
    with pytest.raises(BundleError, match="损坏"):
        load_bundle(path, kb)
    pkl.write_bytes(data)
    meta = json.loads((path / "metadata.json").read_text(encoding="utf-8"))
    meta["libraries"]["rectools-lightfm"] = "0.0.1"
    (path / "metadata.json").write_text(json.dumps(meta), encoding="utf-8")
    with pytest.raises(BundleError, match="不同版本"):
        load_bundle(path, kb)

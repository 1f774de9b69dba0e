"""The Dask batch CLI: results on a LocalCluster equal the in-process scorer's."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features.kb import KnowledgeBase
from recommender import batch
from recommender.bundle import save_bundle
from recommender.hybrid import Matcher
from recommender.pool import PoolScorer
from recommender.synthetic import GeneratorParams, generate_history
from recommender.train import TrainParams, profiles, train_matcher

pytestmark = pytest.mark.slow
TOL = 1e-5


@pytest.fixture(scope="module")
def setup(
    kb: KnowledgeBase, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Matcher, Path, Path, pd.DataFrame]:
    root = tmp_path_factory.mktemp("batch")
    ents, inter = generate_history(kb, GeneratorParams(n_enterprises=500, seed=11))
    matcher = train_matcher(
        kb, ents, inter, TrainParams(epochs=5, num_threads=1), version="batch-test"
    )
    bundle = save_bundle(matcher, root / "models", data_hash="test")
    pool = ents.head(300)[batch.POOL_COLUMNS].copy()
    pool.loc[pool.index[:3], "products"] = "羊绒制品；羊绒纱线"
    path = root / "pool.parquet"
    pool.to_parquet(path, index=False)
    return matcher, bundle, path, pool


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    from dask.distributed import LocalCluster

    with LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
    ) as cluster:
        yield cluster.scheduler_address


def test_score_pool_on_local_cluster_equals_matcher(
    setup: tuple[Matcher, Path, Path, pd.DataFrame], tmp_path: Path
) -> None:
    matcher, bundle, path, pool = setup
    out = tmp_path / "top.parquet"
    summary = batch.run(
        "score-pool", str(path), str(out), bundle=str(bundle), top_k=5, rows_per_partition=100
    )
    assert summary["partitions"] == 3
    got = pd.read_parquet(out)
    assert got["enterprise_id"].nunique() == len(pool)
    park_ids = [p.park_id for p in matcher.parks]
    for e, (eid, rows) in zip(
        profiles(pool), got.groupby("enterprise_id", sort=False), strict=True
    ):
        rows = rows.sort_values("rank")
        s = matcher.score(e)
        want = np.sort(s.final[np.isfinite(s.final)])[::-1][:5]
        np.testing.assert_allclose(rows["score"], want, atol=TOL)
        cols = [park_ids.index(p) for p in rows["park_id"]]
        np.testing.assert_allclose(rows["score"], s.final[cols], atol=TOL)
        np.testing.assert_allclose(rows["content"], s.content[cols], atol=TOL)
        np.testing.assert_allclose(rows["collaborative"], s.collaborative[cols], atol=TOL)
        assert list(rows["rank"]) == list(range(1, len(rows) + 1)), eid


def test_score_park_on_remote_scheduler_equals_pool_scorer(
    setup: tuple[Matcher, Path, Path, pd.DataFrame], scheduler: str, tmp_path: Path
) -> None:
    matcher, bundle, path, pool = setup
    park = next(i for i, p in enumerate(matcher.parks) if p.zone_id == "xiongan")
    park_id = matcher.parks[park].park_id
    out = tmp_path / "leads.parquet"
    batch.run(
        "score-park",
        str(path),
        str(out),
        bundle=str(bundle),
        scheduler=scheduler,
        park_id=park_id,
        rows_per_partition=120,
    )
    got = pd.read_parquet(out)
    scorer = PoolScorer(matcher)
    index = scorer.index(profiles(pool), pool["enterprise_id"].tolist())
    ranked = scorer.rank_park(index, park)
    assert got["enterprise_id"].tolist() == index.enterprise_ids[ranked].tolist()
    want = np.array([matcher.score(e).final[park] for e in profiles(pool)])
    np.testing.assert_allclose(got["score"], want[ranked], atol=TOL)
    assert len(got) < len(pool)  # 雄安 excludes general manufacturing
    assert got["rank"].tolist() == list(range(1, len(got) + 1))


def test_bundle_is_loaded_once_per_worker(
    setup: tuple[Matcher, Path, Path, pd.DataFrame], scheduler: str, tmp_path: Path
) -> None:
    from dask.distributed import Client

    _, bundle, path, _ = setup
    batch.run(
        "score-pool",
        str(path),
        str(tmp_path / "a.parquet"),
        bundle=str(bundle),
        scheduler=scheduler,
        rows_per_partition=50,
    )
    with Client(scheduler) as client:
        loads = client.run(lambda: batch.scorer_for.cache_info().misses)
    assert loads and all(n <= 1 for n in loads.values())


def test_unknown_park_is_refused_before_scoring(
    setup: tuple[Matcher, Path, Path, pd.DataFrame], tmp_path: Path
) -> None:
    _, bundle, path, _ = setup
    code = batch.main(
        [
            "score-park",
            "--park-id",
            "no_such_park",
            "--pool",
            str(path),
            "--out",
            str(tmp_path / "x.parquet"),
            "--bundle",
            str(bundle),
        ]
    )
    assert code == 1

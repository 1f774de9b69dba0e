"""Batch scoring on Dask: a pool of enterprises (Parquet) against every park, or one park against the
pool, on a local cluster by default or on a `dask.distributed` scheduler given its address.

    python -m recommender.batch score-pool --pool pool.parquet --out top.parquet [--top-k 10]
    python -m recommender.batch score-park --park-id X --pool pool.parquet --out leads.parquet
    (either with [--scheduler tcp://127.0.0.1:8786] [--bundle var/models/<version>])

Each `dask.dataframe` partition is featurised and scored with `PoolScorer`, so a result equals
`Matcher.score` for that enterprise. Workers load the model bundle once (cached by path); on a remote
cluster the bundle and knowledge-base paths must be readable by the workers.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from features.enterprise import FIELD_NAMES
from features.kb import DATA_DIR, load_kb
from recommender.bundle import load_bundle
from recommender.pool import PoolScorer
from recommender.train import profiles

ROOT = Path(__file__).resolve().parents[1]
POOL_COLUMNS = ["enterprise_id", *FIELD_NAMES]
ROWS_PER_PARTITION = 20_000
POOL_META = pd.DataFrame(
    {
        "enterprise_id": pd.Series(dtype=str),
        "rank": pd.Series(dtype="int32"),
        "park_id": pd.Series(dtype=str),
        "score": pd.Series(dtype="float64"),
        "content": pd.Series(dtype="float64"),
        "collaborative": pd.Series(dtype="float64"),
        "policy": pd.Series(dtype="float64"),
    }
)
PARK_META = POOL_META.drop(columns=["rank", "park_id"])


class BatchError(RuntimeError):
    """A batch job that cannot run; the message says what to fix (Chinese)."""


def latest_bundle(models: Path = ROOT / "var" / "models") -> Path:
    """The most recently created bundle under `var/models` (versions sort by creation time)."""
    found = sorted(p for p in models.glob("*") if (p / "metadata.json").is_file())
    if not found:
        raise BatchError(
            f"{models} 下没有模型包，请先运行 make setup，或用 --bundle 指定模型包目录"
        )
    return found[-1]


@lru_cache(maxsize=2)
def scorer_for(bundle: str, data_dir: str) -> PoolScorer:
    """The scorer of a bundle, built once per process (so once per Dask worker)."""
    return PoolScorer(load_bundle(bundle, load_kb(Path(data_dir))))


def score_pool_partition(
    part: pd.DataFrame, bundle: str, data_dir: str, top_k: int
) -> pd.DataFrame:
    """Each enterprise's `top_k` parks, best first, as `Matcher.match` ranks them (excluded parks left out)."""
    if part.empty:
        return POOL_META.copy()
    scorer = scorer_for(bundle, data_dir)
    index = scorer.index(profiles(part), part["enterprise_id"].astype(str).tolist())
    park_ids = np.array(scorer.park_ids, dtype=object)
    frames = []
    step = 2_000
    for a in range(0, len(index), step):
        rows = np.arange(a, min(a + step, len(index)))
        final, content, collab, policy = scorer.enterprise_block(index, rows)
        order = np.argsort(-final, axis=1, kind="stable")[:, :top_k]
        r = np.repeat(np.arange(len(rows)), order.shape[1])
        c = order.ravel()
        keep = np.isfinite(final[r, c])
        r, c = r[keep], c[keep]
        rank = np.arange(order.shape[1])[None, :].repeat(len(rows), axis=0).ravel()[keep] + 1
        frames.append(
            pd.DataFrame(
                {
                    "enterprise_id": index.enterprise_ids[rows][r].astype(object),
                    "rank": rank.astype("int32"),
                    "park_id": park_ids[c],
                    "score": final[r, c],
                    "content": content[r, c],
                    "collaborative": collab[r, c],
                    "policy": policy[r, c],
                }
            )
        )
    return pd.concat(frames, ignore_index=True).astype(POOL_META.dtypes.to_dict())


def score_park_partition(
    part: pd.DataFrame, bundle: str, data_dir: str, park_id: str
) -> pd.DataFrame:
    """The partition's enterprises scored for one park; enterprises a rule excludes are left out."""
    if part.empty:
        return PARK_META.copy()
    scorer = scorer_for(bundle, data_dir)
    try:
        park = scorer.park_ids.index(park_id)
    except ValueError:
        raise BatchError(f"园区 {park_id} 不在知识库中，请用 GET /v1/parks 查询 park_id") from None
    index = scorer.index(profiles(part), part["enterprise_id"].astype(str).tolist())
    s = scorer.scores_for_park(index, park)
    ok = np.isfinite(s.final)
    return pd.DataFrame(
        {
            "enterprise_id": index.enterprise_ids[ok].astype(object),
            "score": s.final[ok],
            "content": s.content[ok],
            "collaborative": s.collaborative[ok],
            "policy": s.policy[ok],
        }
    ).astype(PARK_META.dtypes.to_dict())


@contextmanager
def dask_client(scheduler: str | None, n_workers: int = 2) -> Iterator[Any]:
    """A client of the given scheduler, or of a loopback `LocalCluster` (no dashboard)."""
    from dask.distributed import Client, LocalCluster

    if scheduler:
        with Client(scheduler) as client:
            yield client
        return
    with (
        LocalCluster(
            n_workers=n_workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


def read_pool(path: str, rows_per_partition: int = ROWS_PER_PARTITION) -> Any:
    import dask.dataframe as dd
    import pyarrow.dataset as ds

    if not Path(path).exists():
        raise BatchError(f"企业池文件 {path} 不存在")
    dataset = ds.dataset(path, format="parquet")
    missing = {"enterprise_id", "description"} - set(dataset.schema.names)
    if missing:
        raise BatchError(f"企业池 {path} 缺少列：{'、'.join(sorted(missing))}")
    columns = [c for c in POOL_COLUMNS if c in dataset.schema.names]
    ddf = dd.read_parquet(path, columns=columns)
    wanted = max(1, math.ceil(dataset.count_rows() / rows_per_partition))
    return ddf.repartition(npartitions=wanted) if wanted > ddf.npartitions else ddf


def run(
    command: str,
    pool: str,
    out: str,
    *,
    bundle: str | None = None,
    scheduler: str | None = None,
    top_k: int = 10,
    park_id: str | None = None,
    rows_per_partition: int = ROWS_PER_PARTITION,
    data_dir: str | None = None,
    n_workers: int = 2,
) -> dict[str, Any]:
    """Run one job and write its Parquet; returns a summary (rows, partitions, seconds)."""
    from dask.distributed import as_completed

    t0 = time.perf_counter()
    bundle_path = str(Path(bundle).resolve() if bundle else latest_bundle())
    data = str(Path(data_dir).resolve() if data_dir else DATA_DIR)
    ddf = read_pool(pool, rows_per_partition)
    if command == "score-pool":
        scored = ddf.map_partitions(score_pool_partition, bundle_path, data, top_k, meta=POOL_META)
    elif command == "score-park":
        if not park_id:
            raise BatchError("score-park 需要 --park-id")
        if park_id not in load_kb(Path(data)).park_by_id:
            raise BatchError(f"园区 {park_id} 不在知识库中，请用 GET /v1/parks 查询 park_id")
        scored = ddf.map_partitions(
            score_park_partition, bundle_path, data, park_id, meta=PARK_META
        )
    else:
        raise BatchError(f"未知命令 {command}")
    with dask_client(scheduler, n_workers) as client:
        futures = client.compute(scored.to_delayed())
        total = len(futures)
        print(f"{command}: {total} 个分区，模型包 {bundle_path}", file=sys.stderr, flush=True)
        parts: dict[Any, pd.DataFrame] = {}
        for done, fut in enumerate(as_completed(futures), start=1):
            parts[fut.key] = fut.result()
            print(
                f"\r已完成 {done}/{total} 个分区（{time.perf_counter() - t0:.1f} 秒）",
                end="",
                file=sys.stderr,
                flush=True,
            )
        print(file=sys.stderr)
        result = pd.concat([parts[f.key] for f in futures], ignore_index=True)
    if command == "score-park":
        result = result.sort_values("score", ascending=False, kind="stable", ignore_index=True)
        result.insert(1, "rank", np.arange(1, len(result) + 1, dtype="int32"))
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    result.to_parquet(out, index=False)
    return {
        "command": command,
        "rows": len(result),
        "partitions": total,
        "seconds": round(time.perf_counter() - t0, 2),
        "out": out,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m recommender.batch", description=__doc__)
    sub = parser.add_subparsers(dest="cmd", required=True)
    for name, helptext in (
        ("score-pool", "each enterprise's top-k parks"),
        ("score-park", "the pool ranked for one park"),
    ):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("--pool", required=True, help="Parquet file or folder of enterprises")
        p.add_argument("--out", required=True, help="Parquet file to write")
        p.add_argument(
            "--scheduler", help="dask.distributed scheduler address, e.g. tcp://127.0.0.1:8786"
        )
        p.add_argument(
            "--bundle", help="model bundle folder (default: the newest under var/models)"
        )
        p.add_argument("--rows-per-partition", type=int, default=ROWS_PER_PARTITION)
        p.add_argument("--workers", type=int, default=2, help="local cluster workers")
        if name == "score-pool":
            p.add_argument("--top-k", type=int, default=10)
        else:
            p.add_argument("--park-id", required=True)
    args = parser.parse_args(argv)
    try:
        summary = run(
            args.cmd,
            args.pool,
            args.out,
            bundle=args.bundle,
            scheduler=args.scheduler,
            top_k=getattr(args, "top_k", 10),
            park_id=getattr(args, "park_id", None),
            rows_per_partition=args.rows_per_partition,
            n_workers=args.workers,
        )
    except BatchError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    print(json.dumps(summary, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

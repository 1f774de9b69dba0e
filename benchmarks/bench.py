"""The performance benchmark (`make bench`): the real service on loopback against its floor
(`/healthz`) at three catalogue sizes, training at 10k–1M interactions, and lead ranking over pools of
100k and 1M enterprises. Writes reports/bench.json, reports/bench.md and reports/bench-latency.png.

    python -m benchmarks.bench            # the full run (about 15 minutes on 2 cores)
    python -m benchmarks.bench --quick    # a smoke run of every part with small counts
    python -m benchmarks.bench --leads-load-only --pool 20000   # leads under load alone
    python -m benchmarks.bench --train-only --train-sizes 100000  # the training entry alone

The two `--…-only` runs print their section and targets and write no report.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import json
import os
import platform
import pstats
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import version as pkg_version
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
CLIENTS = 16
INTERACTIONS_PER_ENTERPRISE = 5.5  # what generate_history produces on average
# Leads under load: the model is trained on a small synthetic history (in the pool too) so that the
# learned part is on; the pool is the imported fixture.
LOAD_HISTORY = 1000
LOAD_EPOCHS = 10
# The industry classifier is fitted once per machine and kept here (keyed by its inputs and
# hash-checked), as `make run` keeps it: a run does not spend a minute refitting it.
BENCH_CACHE = ROOT / "var" / "cache"
# Enterprises whose features are built one by one (the request path) to time it; the rest is
# extrapolated (about 5 ms an enterprise with the industry classifier).
SERVICE_PATH_SAMPLE = 2000

# Profiles written the way enterprises describe themselves on the self-check form, beside the
# synthetic history's descriptions.
HANDWRITTEN = [
    {
        "description": "公司主要从事新能源汽车动力电池系统、电池管理系统的研发与生产，拟在河北新建年产5GWh电池包生产线。",
        "industry_code": "C3841",
        "employees": 650,
        "annual_revenue_wan": 180000,
        "investment_wan": 120000,
        "rd_intensity": 0.06,
        "land_mu": 300,
        "origin": "北京",
    },
    {
        "description": "专注于生物药、单克隆抗体和疫苗的研发，设有研究院和重点实验室，计划建设中试基地。",
        "industry_code": "C2761",
        "employees": 220,
        "rd_intensity": 0.18,
        "origin": "北京",
    },
    {
        "description": "羊绒纱线、羊绒衫及羊绒面料的生产加工与出口贸易，拥有自主品牌。",
        "products": ["羊绒衫", "羊绒围巾"],
        "employees": 300,
        "annual_revenue_wan": 42000,
        "origin": "河北",
    },
    {
        "description": "钢铁冶炼及热轧板卷生产，计划通过产能置换建设高炉、转炉，整体搬迁入园。",
        "industry_code": "C3120",
        "employees": 3500,
        "energy_tce": 1500000,
        "investment_wan": 900000,
        "land_mu": 2500,
        "origin": "河北",
    },
    {
        "description": "工业互联网平台、大数据中心和云计算服务，为制造企业提供数字化转型解决方案。",
        "industry_code": "I6450",
        "employees": 120,
        "rd_intensity": 0.12,
        "origin": "北京",
    },
    {
        "description": "冷链物流、仓储配送和多式联运服务，服务京津冀生鲜电商。",
        "employees": 400,
        "land_mu": 150,
        "origin": "天津",
    },
    {
        "description": "数控机床、工业机器人减速器和伺服电机的研发制造，产品应用于汽车和3C行业。",
        "industry_code": "C3421",
        "employees": 480,
        "rd_intensity": 0.05,
        "origin": "其他省份",
    },
    {
        "description": "原油加工、乙烯和丙烯等烯烃产品生产，配套建设码头储罐。",
        "industry_code": "C2511",
        "employees": 1200,
        "energy_tce": 400000,
        "origin": "境外",
    },
]


# -- machine and versions -------------------------------------------------------------------------
def machine() -> dict[str, Any]:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    import psutil

    return {
        "nproc": os.cpu_count(),
        "affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "cpu_model": cpu,
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "platform": platform.platform(),
    }


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in ("numpy", "scipy", "rectools-lightfm", "fastapi", "uvicorn", "pydantic", "dask"):
        with contextlib.suppress(Exception):
            out[name] = pkg_version(name)
    return out


def git_commit() -> str:
    """The checked-out commit the figures were measured on (with `+changes` if the tree is dirty)."""
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=ROOT,
            capture_output=True,
            text=True,
        ).stdout.strip()
    except OSError:
        return "unknown"
    return (sha or "unknown") + ("+changes" if dirty else "")


def peak_rss_mb(pid: int | None = None) -> float:
    """VmHWM: the process's peak resident set since it started (Linux)."""
    status = Path(f"/proc/{pid or os.getpid()}/status").read_text()
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def pct(xs: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(xs), q)) if xs else float("nan")


def say(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# -- data ------------------------------------------------------------------------------------------
def replicate(
    ents: pd.DataFrame, inter: pd.DataFrame | None, n: int, seed: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """`n` enterprises from a generated history: copies with new ids, the opener and tail of the
    description re-drawn (so texts stay varied), numbers jittered and some origins re-drawn; their
    interactions are copied under the new ids. `generate_history` costs ~1.5 ms an enterprise."""
    from features.enterprise import ORIGINS
    from recommender.synthetic import OPENERS, TAILS

    rng = np.random.default_rng(seed)
    reps = int(np.ceil(n / len(ents)))
    frames, inters = [], []
    tails = [t.format(app="制造") for t in TAILS if t]
    for r in range(reps):
        e = ents.copy()
        suffix = "" if r == 0 else f"-R{r}"
        e["enterprise_id"] = e["enterprise_id"].astype(str) + suffix
        if r:
            desc = e["description"].astype(str)
            opener = rng.choice(OPENERS, size=len(e))
            tail = rng.choice(tails, size=len(e))
            stripped = [
                next((d[len(o) :] for o in OPENERS if d.startswith(o)), d) for d in desc.tolist()
            ]
            e["description"] = [
                f"{o}{s.split('，')[0]}，{t}"
                for o, s, t in zip(opener, stripped, tail, strict=True)
            ]
            for col in (
                "employees",
                "annual_revenue_wan",
                "investment_wan",
                "energy_tce",
                "land_mu",
            ):
                jitter = rng.lognormal(0, 0.2, size=len(e))
                e[col] = (e[col].astype(float) * jitter).round(1)
            e["employees"] = e["employees"].clip(lower=1).round().astype(int)
            swap = rng.random(len(e)) < 0.2
            e.loc[swap, "origin"] = rng.choice(ORIGINS, size=int(swap.sum()))
        frames.append(e)
        if inter is not None:
            i = inter.copy()
            i["enterprise_id"] = i["enterprise_id"].astype(str) + suffix
            inters.append(i)
    out = pd.concat(frames, ignore_index=True).head(n)
    if inter is None:
        return out, None
    keep = set(out["enterprise_id"])
    all_inter = pd.concat(inters, ignore_index=True)
    return out, all_inter[all_inter["enterprise_id"].isin(keep)].reset_index(drop=True)


def request_bodies(ents: pd.DataFrame, n: int) -> list[dict[str, Any]]:
    bodies: list[dict[str, Any]] = [dict(b, top_k=10) for b in HANDWRITTEN]
    for r in ents.head(max(0, n - len(bodies))).to_dict("records"):
        body: dict[str, Any] = {"description": r["description"], "top_k": 10}
        for k in (
            "industry_code",
            "employees",
            "annual_revenue_wan",
            "investment_wan",
            "rd_intensity",
            "energy_tce",
            "land_mu",
            "origin",
        ):
            v = r.get(k)
            if v is not None and not (isinstance(v, float) and np.isnan(v)):
                body[k] = int(v) if k == "employees" else v
        bodies.append(body)
    return bodies


# -- the service -----------------------------------------------------------------------------------
def prepare_var(var: Path, history: int, epochs: int) -> tuple[Any, dict[str, float]]:
    """A SQLite database with the KB, a synthetic history and a trained, registered model."""
    from api.cli import train_and_register, write_demo_history
    from api.settings import Settings
    from features.kb import load_kb
    from store.db import get_sessionmaker, migrate
    from store.kb_sync import sync_kb

    settings = Settings(
        database_url=f"sqlite:///{var / 'bench.db'}",
        var_dir=var,
        history_enterprises=history,
        train_epochs=epochs,
        train_threads=2,
        admin_token="bench-admin-token",
        rate_limit_per_minute=0,
        cache_dir=BENCH_CACHE,
    )
    times = {}
    t0 = time.perf_counter()
    kb = load_kb(settings.data_dir)
    migrate(settings.database_url)
    sync_kb(get_sessionmaker(settings.database_url), kb)
    write_demo_history(settings, kb)
    times["history_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    train_and_register(settings, kb)
    times["train_s"] = time.perf_counter() - t0
    return settings, times


def serve(catalogue: int) -> None:
    """The service as `make run` starts it (settings from the environment), optionally scoring
    against a synthetic catalogue of `catalogue` parks swapped in after the normal lifespan."""
    import uvicorn

    from api.app import create_app
    from api.settings import get_settings
    from benchmarks.catalogue import synthetic_parks

    settings = get_settings()
    app = create_app(settings)
    inner = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(a: Any) -> Any:
        async with inner(a) as st:
            if catalogue:
                matcher = a.state.app.holder.matcher
                matcher.set_parks(synthetic_parks(matcher.kb, catalogue))
            yield st

    app.router.lifespan_context = lifespan
    uvicorn.run(app, host=HOST, port=settings.port, log_level="info")


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    url: str
    started_s: float


@contextlib.contextmanager
def running_server(settings: Any, catalogue: int, log: Path) -> Iterator[Server]:
    import httpx

    port = free_port()
    env = dict(
        os.environ,
        DATABASE_URL=settings.database_url,
        VAR_DIR=str(settings.var_dir),
        CACHE_DIR=str(settings.reference_cache),
        ADMIN_TOKEN=settings.admin_token,
        HOST=HOST,
        PORT=str(port),
        # One address sends every request of a load test: the per-address self-check limit is off.
        RATE_LIMIT_PER_MINUTE="0",
        # Nothing else runs on the server while it is measured.
        LEADS_WARM="false",
    )
    t0 = time.perf_counter()
    with log.open("ab") as fh:
        proc = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.bench", "serve", "--catalogue", str(catalogue)],
            cwd=ROOT,
            env=env,
            stdout=fh,
            stderr=fh,
        )
    url = f"http://{HOST}:{port}"
    try:
        deadline = time.monotonic() + 300
        while True:
            if proc.poll() is not None:
                tail = log.read_text(errors="replace")[-3000:]
                raise RuntimeError(f"服务进程退出（{proc.returncode}）：\n{tail}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"服务未在 300 秒内就绪：\n{log.read_text(errors='replace')[-3000:]}"
                )
            time.sleep(0.2)
        yield Server(proc, url, time.perf_counter() - t0)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def sequential(url: str, call: Callable[[Any, int], Any], n: int) -> list[float]:
    import httpx

    out = []
    with httpx.Client(base_url=url, timeout=60) as client:
        for i in range(n):
            t0 = time.perf_counter()
            r = call(client, i)
            out.append((time.perf_counter() - t0) * 1000)
            if r.status_code != 200:
                raise RuntimeError(f"{r.request.url} → {r.status_code}: {r.text[:200]}")
    return out


def fan_out(
    url: str,
    total: int,
    clients: int,
    max_s: float,
    one: Callable[[Any, int], None],
    timeout: float = 120,
    headers: dict[str, str] | None = None,
) -> float:
    """Requests 0…`total`−1, each sent by `one(client, i)`, from `clients` threads with one
    keep-alive connection each, none started after `max_s`; the seconds it took."""
    import httpx

    lock = threading.Lock()
    issued = [0]
    deadline = time.monotonic() + max_s

    def worker() -> None:
        with httpx.Client(base_url=url, timeout=timeout, headers=headers) as client:
            while True:
                with lock:
                    if issued[0] >= total or time.monotonic() > deadline:
                        return
                    i = issued[0]
                    issued[0] += 1
                one(client, i)

    t0 = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - t0


def concurrent(
    url: str, call: Callable[[Any, int], Any], total: int, max_s: float
) -> dict[str, float]:
    """`total` requests from CLIENTS threads (one keep-alive connection each), stopped at `max_s`."""
    lock = threading.Lock()
    lat: list[float] = []
    errors = [0]

    def one(client: Any, i: int) -> None:
        t0 = time.perf_counter()
        r = call(client, i)
        ms = (time.perf_counter() - t0) * 1000
        with lock:
            lat.append(ms)
            errors[0] += r.status_code != 200

    elapsed = fan_out(url, total, CLIENTS, max_s, one)
    return {
        "requests": len(lat),
        "errors": errors[0],
        "seconds": round(elapsed, 2),
        "rps": round(len(lat) / elapsed, 1),
        "p50_ms": round(pct(lat, 50), 2),
        "p99_ms": round(pct(lat, 99), 2),
    }


# Parks whose leads are timed over HTTP (the ones tests/api/test_leads.py reads).
LEAD_PARKS = ("tangshan_robotics", "cangzhou_canal_laser")


def bench_leads_http(url: str, token: str, n: int) -> dict[str, Any]:
    """GET /v1/parks/{id}/leads?limit=200 with a bearer token: the first request (which builds the
    pool index; the server runs with LEADS_WARM=false) and `n` warm ones, alternating parks."""
    auth = {"Authorization": f"Bearer {token}"}

    def leads(c: Any, i: int) -> Any:
        park = LEAD_PARKS[i % len(LEAD_PARKS)]
        return c.get(f"/v1/parks/{park}/leads", params={"limit": 200}, headers=auth)

    cold = sequential(url, leads, 1)[0]
    lat = sequential(url, leads, n)
    return {
        "cold_ms": round(cold, 1),
        "n": len(lat),
        "p50_ms": round(pct(lat, 50), 2),
        "p99_ms": round(pct(lat, 99), 2),
    }


def bench_serving(
    settings: Any,
    sizes: list[int],
    bodies: list[dict[str, Any]],
    n_seq: int,
    n_conc: int,
    log: Path,
    hebei_parks: int,
) -> list[dict[str, Any]]:
    import psutil

    def health(c: Any, i: int) -> Any:
        return c.get("/healthz")

    def match(c: Any, i: int) -> Any:
        return c.post("/v1/match", json=bodies[i % len(bodies)])

    out = []
    for size in sizes:
        say(f"serving: catalogue {size or 'Hebei'}")
        with running_server(settings, size, log) as srv:
            proc = psutil.Process(srv.proc.pid)
            sequential(srv.url, health, 20)
            sequential(srv.url, match, 20)
            row: dict[str, Any] = {
                "catalogue": size or "hebei",
                "startup_s": round(srv.started_s, 1),
            }
            for name, call in (("healthz", health), ("match", match)):
                lat = sequential(srv.url, call, n_seq)
                row[name] = {
                    "n": len(lat),
                    "p50_ms": round(pct(lat, 50), 2),
                    "p95_ms": round(pct(lat, 95), 2),
                    "p99_ms": round(pct(lat, 99), 2),
                    "mean_ms": round(float(np.mean(lat)), 2),
                }
            for name, call in (("healthz", health), ("match", match)):
                row[name]["concurrent"] = concurrent(srv.url, call, n_conc, max_s=120)
            if not size:  # synthetic catalogues replace the parks whose leads are asked for
                row["leads"] = bench_leads_http(srv.url, settings.admin_token, max(n_seq // 4, 10))
                say(
                    f"  leads (200): first {row['leads']['cold_ms']} ms, warm p50 "
                    f"{row['leads']['p50_ms']} ms p99 {row['leads']['p99_ms']} ms"
                )
            row["rss_mb"] = round(proc.memory_info().rss / 2**20, 1)
            row["peak_rss_mb"] = round(peak_rss_mb(srv.proc.pid), 1)
        row["n_parks"] = size or hebei_parks
        row["ratio_p50"] = round(row["match"]["p50_ms"] / row["healthz"]["p50_ms"], 2)
        row["ratio_rps"] = round(
            row["match"]["concurrent"]["rps"] / row["healthz"]["concurrent"]["rps"], 3
        )
        say(
            f"  healthz p50 {row['healthz']['p50_ms']} ms, match p50 {row['match']['p50_ms']} ms "
            f"p99 {row['match']['p99_ms']} ms; rps {row['healthz']['concurrent']['rps']} / "
            f"{row['match']['concurrent']['rps']}; peak RSS {row['peak_rss_mb']} MB"
        )
        out.append(row)
    return out


# -- where a request's time goes ---------------------------------------------------------------------
def profile_match(settings: Any, size: int, bodies: list[dict[str, Any]], n: int) -> dict[str, Any]:
    """Stage timings of the /v1/match handler's work in this process (the app built and its lifespan
    run as the service does) and a cProfile of `Matcher.match`, at `size` parks."""
    from fastapi.encoders import jsonable_encoder
    from fastapi.testclient import TestClient

    from api.app import create_app
    from api.routes.match import run_match, to_profile
    from api.schemas import MatchRequest, MatchResponse
    from benchmarks.catalogue import synthetic_parks

    app = create_app(settings)
    with TestClient(app):
        state = app.state.app
        matcher = state.holder.matcher
        if size:
            matcher.set_parks(synthetic_parks(matcher.kb, size))
        stages: dict[str, list[float]] = {
            k: [] for k in ("validate_request", "score", "match_response", "audit", "serialise")
        }
        reqs = [MatchRequest.model_validate(b) for b in bodies]
        for i in range(min(20, len(reqs))):
            run_match(reqs[i], state, "bench")
        for i in range(n):
            b = bodies[i % len(bodies)]
            t0 = time.perf_counter()
            req = MatchRequest.model_validate(b)
            t1 = time.perf_counter()
            profile = to_profile(req, state)
            matcher.score(profile)
            t2 = time.perf_counter()
            matcher.match(profile, top_k=req.top_k)
            t3 = time.perf_counter()
            result = run_match(req, state, "bench")  # match again + the audit row
            t4 = time.perf_counter()
            body = json.dumps(
                jsonable_encoder(MatchResponse.model_validate(result)), ensure_ascii=False
            )
            t5 = time.perf_counter()
            assert body
            stages["validate_request"].append((t1 - t0) * 1000)
            stages["score"].append((t2 - t1) * 1000)
            stages["match_response"].append((t3 - t2) * 1000)
            stages["audit"].append(max(0.0, (t4 - t3) - (t3 - t2)) * 1000)  # run_match − match
            stages["serialise"].append((t5 - t4) * 1000)
        prof = cProfile.Profile()
        prof.enable()
        for i in range(n):
            matcher.match(to_profile(reqs[i % len(reqs)], state), top_k=10)
        prof.disable()
    buf = io.StringIO()
    stats = pstats.Stats(prof, stream=buf)
    rows = []
    for (file, line, func), (_cc, nc, tt, ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        rows.append(
            {
                "function": f"{Path(file).name}:{line}({func})",
                "calls_per_request": round(nc / n, 1),
                "cum_ms_per_request": round(ct / n * 1000, 3),
                "own_ms_per_request": round(tt / n * 1000, 3),
            }
        )
    rows.sort(key=lambda r: -r["cum_ms_per_request"])
    ours = [
        r
        for r in rows
        if any(
            k in r["function"]
            for k in ("hybrid.py", "content.py", "rules.py", "collab.py", "text.py")
        )
    ]
    own = sorted(rows, key=lambda r: -r["own_ms_per_request"])[:12]
    return {
        "parks": size,
        "requests": n,
        "stages_ms_median": {k: round(float(np.median(v)), 3) for k, v in stages.items()},
        "stages_ms_p99": {k: round(pct(v, 99), 3) for k, v in stages.items()},
        "cumulative_ours": ours[:14],
        "own_time_top": own,
    }


# -- training ---------------------------------------------------------------------------------------
def train_child(data: str, epochs: int, threads: int, service_sample: int) -> dict[str, Any]:
    """Run in a fresh process: time and peak memory of training on the given history, as
    `api.training` trains (`train_matcher` with the industry classifier, whose class lift is part
    of every enterprise's features)."""
    from features.kb import load_kb
    from recommender.bundle import industry_classifier
    from recommender.content import ContentScorer
    from recommender.hybrid import user_features
    from recommender.train import (
        TrainParams,
        enterprise_features,
        fit_text,
        interaction_triples,
        profiles,
        train_matcher,
    )

    ents = pd.read_parquet(f"{data}-ents.parquet")
    inter = pd.read_parquet(f"{data}-inter.parquet")
    kb = load_kb()
    rss0 = peak_rss_mb()
    out: dict[str, Any] = {
        "enterprises": len(ents),
        "interactions": len(inter),
        "pairs": len(interaction_triples(inter)),
        "epochs": epochs,
        "threads": threads,
    }
    # Fitted once per machine and kept in the cache, as the service keeps it: not training time.
    t0 = time.perf_counter()
    industry = industry_classifier(BENCH_CACHE)
    out["industry_classifier_load_s"] = round(time.perf_counter() - t0, 2)
    t0 = time.perf_counter()
    text = fit_text(kb)
    content = ContentScorer(kb, text, industry)
    chain_ids = [c.chain_id for c in kb.chains]
    profs = profiles(ents)
    out["fit_text_and_profiles_s"] = round(time.perf_counter() - t0, 2)
    sample = profs[: min(service_sample, len(profs))]
    t0 = time.perf_counter()
    [user_features(content.score(p), content.segment_ids, chain_ids, p) for p in sample]
    per = (time.perf_counter() - t0) / max(1, len(sample))
    out["service_features_ms_per_enterprise"] = round(per * 1000, 3)
    out["service_features_s"] = round(per * len(profs), 1)
    out["service_features_extrapolated"] = len(sample) < len(profs)
    t0 = time.perf_counter()
    feats = enterprise_features(content, profs)
    out["batch_features_s"] = round(time.perf_counter() - t0, 2)
    t0 = time.perf_counter()
    train_matcher(
        kb,
        ents,
        inter,
        TrainParams(epochs=epochs, num_threads=threads),
        text=text,
        industry=industry,
        user_feats=feats,
        version="bench",
    )
    out["lightfm_fit_s"] = round(time.perf_counter() - t0, 2)
    out["train_s"] = round(
        out["fit_text_and_profiles_s"] + out["batch_features_s"] + out["lightfm_fit_s"], 1
    )
    out["train_service_path_s"] = round(
        out["fit_text_and_profiles_s"] + out["service_features_s"] + out["lightfm_fit_s"], 1
    )
    out["rss_before_mb"] = round(rss0, 1)
    out["peak_rss_mb"] = round(peak_rss_mb(), 1)
    return out


def bench_training(
    base: tuple[pd.DataFrame, pd.DataFrame], sizes: list[int], epochs: int, tmp: Path
) -> list[dict[str, Any]]:
    out = []
    for target in sizes:
        n_ent = int(round(target / INTERACTIONS_PER_ENTERPRISE))
        ents, inter = replicate(base[0], base[1], n_ent, seed=target)
        assert inter is not None
        data = tmp / f"train-{target}"
        ents.drop(columns=["created_at"], errors="ignore").to_parquet(f"{data}-ents.parquet")
        inter.to_parquet(f"{data}-inter.parquet")
        say(f"training: {len(inter):,} interactions, {len(ents):,} enterprises")
        t0 = time.perf_counter()
        res = subprocess.run(
            [
                sys.executable,
                "-m",
                "benchmarks.bench",
                "train-child",
                str(data),
                "--epochs",
                str(epochs),
                "--sample",
                str(SERVICE_PATH_SAMPLE),
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=1800,
        )
        if res.returncode:
            raise RuntimeError(f"training child failed:\n{res.stderr[-2000:]}")
        row = json.loads(res.stdout.strip().splitlines()[-1])
        row["target_interactions"] = target
        row["wall_s"] = round(time.perf_counter() - t0, 1)
        say(
            f"  train {row['train_s']} s (LightFM {row['lightfm_fit_s']} s), service path "
            f"{row['train_service_path_s']} s, peak RSS {row['peak_rss_mb']} MB"
        )
        out.append(row)
    return out


# -- lead ranking -----------------------------------------------------------------------------------
_SCORER: Any = None


def _index_part(part: pd.DataFrame) -> Any:
    from recommender.train import profiles

    return _SCORER.index(profiles(part), part["enterprise_id"].astype(str).tolist())


def bench_leads(
    bundle: Path, base: pd.DataFrame, sizes: list[int], workers: int
) -> list[dict[str, Any]]:
    import multiprocessing as mp

    from features.kb import load_kb
    from recommender.bundle import load_bundle
    from recommender.pool import PoolIndex, PoolScorer

    global _SCORER
    matcher = load_bundle(bundle, load_kb())
    _SCORER = scorer = PoolScorer(matcher)
    parks = [i for i, p in enumerate(matcher.parks) if p.chains][
        :: max(1, len(matcher.parks) // 5)
    ][:5]
    out = []
    for n in sizes:
        pool, _ = replicate(base, None, n, seed=n + 1)
        say(f"lead ranking: indexing {len(pool):,} enterprises on {workers} processes")
        t0 = time.perf_counter()
        step = 20_000
        chunks = [pool.iloc[a : a + step] for a in range(0, len(pool), step)]
        with ProcessPoolExecutor(workers, mp_context=mp.get_context("fork")) as ex:
            index = PoolIndex.concat(list(ex.map(_index_part, chunks)))
        build = time.perf_counter() - t0
        del pool, chunks
        times, top_times = [], []
        for p in parks:
            for _ in range(3):
                t0 = time.perf_counter()
                scorer.scores_for_park(index, p)
                times.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                ranked = scorer.rank_park(index, p, k=100)
                top_times.append(time.perf_counter() - t0)
            assert len(ranked) == 100
        t0 = time.perf_counter()
        full = scorer.rank_park(index, parks[0])
        full_s = time.perf_counter() - t0
        row = {
            "enterprises": len(index),
            "index_build_s": round(build, 1),
            "index_build_ms_per_enterprise": round(build / len(index) * 1000, 3),
            "index_workers": workers,
            "index_mb": round(index.nbytes / 2**20, 1),
            "scores_for_park_s_median": round(float(np.median(times)), 3),
            "rank_top100_s_median": round(float(np.median(top_times)), 3),
            "rank_top100_s_max": round(float(np.max(top_times)), 3),
            "rank_full_sort_s": round(full_s, 3),
            "ranked": len(full),
            "parks_tried": len(parks),
        }
        say(
            f"  index {row['index_build_s']} s; one park: scores {row['scores_for_park_s_median']} s, "
            f"top-100 {row['rank_top100_s_median']} s, full sort {row['rank_full_sort_s']} s"
        )
        out.append(row)
        del index
    return out


# -- report -----------------------------------------------------------------------------------------
TARGETS = {
    "match_p50_ratio_3000": ("/v1/match p50 ≤ 3 × /healthz p50 at 3,000 parks", 3.0, "le"),
    "match_p99_ms_3000": ("/v1/match p99 < 50 ms at 3,000 parks", 50.0, "lt"),
    "rps_ratio_3000": ("match throughput ≥ 1/3 of healthz (16 clients, 3,000 parks)", 1 / 3, "ge"),
    "train_1m_s": (
        "training on 1M interactions < 120 s (features with the industry classifier, as the "
        "service trains; the request path's per-enterprise features are in the training table)",
        120.0,
        "lt",
    ),
    "lead_1m_s": ("lead ranking over 1M enterprises < 3 s", 3.0, "lt"),
    "rss_30000_mb": ("serving RSS < 1 GB at 30,000 parks", 1024.0, "lt"),
    "leads_load_p50_ms": (
        "leads under load (16 clients, imported pool): p50 ≤ 100 ms",
        100.0,
        "le",
    ),
    "leads_load_p99_ms": (
        "leads under load (16 clients, imported pool): p99 ≤ 500 ms",
        500.0,
        "le",
    ),
    "leads_load_errors": (
        "leads under load: 0 errors (leads and chain gaps, any status but 200)",
        0.0,
        "le",
    ),
}


def check_targets(report: dict[str, Any]) -> dict[str, Any]:
    from benchmarks.leads_load import errors_total

    serving = {str(r["catalogue"]): r for r in report.get("serving", [])}
    training = {r["target_interactions"]: r for r in report.get("training", [])}
    leads = {r["enterprises"]: r for r in report.get("leads", [])}
    load = report.get("leads_load")
    got: dict[str, float | None] = {
        "match_p50_ratio_3000": serving.get("3000", {}).get("ratio_p50"),
        "match_p99_ms_3000": serving.get("3000", {}).get("match", {}).get("p99_ms"),
        "rps_ratio_3000": serving.get("3000", {}).get("ratio_rps"),
        "train_1m_s": training.get(1_000_000, {}).get("train_s"),
        "lead_1m_s": leads.get(1_000_000, {}).get("rank_full_sort_s"),
        "rss_30000_mb": serving.get("30000", {}).get("peak_rss_mb"),
        "leads_load_p50_ms": load["kinds"].get("leads", {}).get("p50_ms") if load else None,
        "leads_load_p99_ms": load["kinds"].get("leads", {}).get("p99_ms") if load else None,
        "leads_load_errors": errors_total(load) if load else None,
    }
    out = {}
    for key, (text, limit, op) in TARGETS.items():
        v = got[key]
        ok = None
        if v is not None:
            ok = {"le": v <= limit, "lt": v < limit, "ge": v >= limit}[op]
        out[key] = {"target": text, "limit": round(limit, 3), "measured": v, "met": ok}
    return out


def plot(serving: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xs = [r["n_parks"] for r in serving]
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for name, style in (("match", "o-"), ("healthz", "s--")):
        for q, alpha in (("p50_ms", 1.0), ("p99_ms", 0.5)):
            ax.plot(
                xs,
                [r[name][q] for r in serving],
                style,
                alpha=alpha,
                label=f"{'POST /v1/match' if name == 'match' else 'GET /healthz'} {q[:3]}",
            )
    ax.axhline(50, color="grey", lw=0.8, ls=":", label="p99 target 50 ms")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("parks in the catalogue")
    ax.set_ylabel("latency (ms, sequential)")
    ax.set_title("InvestMatch: match latency vs catalogue size")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def markdown(report: dict[str, Any]) -> str:
    m, v = report["machine"], report["versions"]
    lines = [
        "# InvestMatch performance benchmark",
        "",
        f"Run {report['started_at']} on commit {report.get('commit', 'unknown')} "
        f"({'quick smoke run' if report['quick'] else 'full run'}, "
        f"{report['total_s']:.0f} s). Machine: {m['nproc']} cores ({m['cpu_model']}), "
        f"{m['memory_gb']} GB RAM, {m['platform']}.",
        "Versions: " + ", ".join(f"{k} {val}" for k, val in v.items()) + ".",
        "",
        "## Targets",
        "",
        "| target | measured | met |",
        "|---|---|---|",
    ]
    for t in report["targets"].values():
        met = {True: "yes", False: "**no**", None: "not measured"}[t["met"]]
        lines.append(f"| {t['target']} | {t['measured']} | {met} |")
    s = report["setup"]
    lines += [
        "",
        "## Serving (uvicorn, one process, on 127.0.0.1)",
        "",
        f"The service as `make run` starts it, on a temporary SQLite database with the KB, a "
        f"{s['history_enterprises']:,}-enterprise synthetic history and a model trained on it "
        f"({s['train_epochs']} epochs). Synthetic catalogues (benchmarks/catalogue.py) are swapped in "
        "after the normal lifespan with `Matcher.set_parks`. Sequential: one keep-alive client; "
        f"concurrent: {CLIENTS} threads, each with its own connection, for a fixed number of requests. "
        "Every /v1/match is validated, scored, explained, audited to the database and serialised, "
        "as in production; /healthz runs `SELECT 1`.",
        "",
        "| parks | healthz p50 / p95 / p99 ms | match p50 / p95 / p99 ms | p50 ratio | healthz rps | match rps | rps ratio | match p99 under load ms | peak RSS MB | startup s |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in report["serving"]:
        h, mm = r["healthz"], r["match"]
        lines.append(
            f"| {r['n_parks']:,} | {h['p50_ms']} / {h['p95_ms']} / {h['p99_ms']} | "
            f"{mm['p50_ms']} / {mm['p95_ms']} / {mm['p99_ms']} | {r['ratio_p50']} | "
            f"{h['concurrent']['rps']} | {mm['concurrent']['rps']} | {r['ratio_rps']} | "
            f"{mm['concurrent']['p99_ms']} | {r['peak_rss_mb']} | {r['startup_s']} |"
        )
    for r in report["serving"]:
        if "leads" in r:
            ld = r["leads"]
            lines += [
                "",
                f"Leads over HTTP (`GET /v1/parks/{{id}}/leads?limit=200`, bureau token, the "
                f"{s['history_enterprises']:,}-enterprise pool, parks {' and '.join(LEAD_PARKS)}): "
                f"first request {ld['cold_ms']} ms (it builds the pool index), then {ld['n']} warm "
                f"requests p50 {ld['p50_ms']} ms, p99 {ld['p99_ms']} ms.",
            ]
    lines += ["", "![match latency vs catalogue size](bench-latency.png)", ""]
    prof = report.get("profile")
    if prof:
        lines += [
            f"## Where a /v1/match goes at {prof['parks']:,} parks",
            "",
            f"Median per request over {prof['requests']} requests, in-process (same app and lifespan):",
            "",
            "| stage | median ms | p99 ms |",
            "|---|---|---|",
        ]
        for k, val in prof["stages_ms_median"].items():
            lines.append(f"| {k} | {val} | {prof['stages_ms_p99'][k]} |")
        lines += [
            "",
            "`score` is `Matcher.score` (text fit, LightFM, rules); `match_response` the whole "
            "`Matcher.match` (score + ranking + reasons); `audit` the audit row written to the "
            "database; `serialise` response validation and JSON. The rest of an HTTP request is "
            "uvicorn + FastAPI, i.e. the /healthz floor.",
            "",
            "cProfile of `Matcher.match` (our functions, cumulative ms per request):",
            "",
            "| function | calls/request | cumulative ms | own ms |",
            "|---|---|---|---|",
        ]
        for r in prof["cumulative_ours"]:
            lines.append(
                f"| `{r['function']}` | {r['calls_per_request']} | {r['cum_ms_per_request']} | {r['own_ms_per_request']} |"
            )
        lines += ["", "Largest own time (any function):", "", "| function | own ms |", "|---|---|"]
        for r in prof["own_time_top"]:
            lines.append(f"| `{r['function']}` | {r['own_ms_per_request']} |")
        lines.append("")
        if report.get("notes"):
            lines += ["### Notes", ""] + [f"- {n}" for n in report["notes"]] + [""]
    if report.get("leads_load"):
        from benchmarks import leads_load

        lines += leads_load.markdown(report["leads_load"])
    lines += [
        "## Training",
        "",
        "Histories replicated from a generated one (`replicate`: new ids, re-drawn description opener "
        "and tail, jittered numbers; interactions copied), trained in a fresh process each, as "
        "`api.training` trains: `train s` = fitting the text featuriser and reading the profiles + "
        "the user features of every enterprise (`train.enterprise_features`, with the industry "
        "classifier's class lift, split over the cores) + `train_matcher` (LightFM: Dataset, 30 "
        "epochs). The industry classifier itself is fitted once per machine and loaded from its "
        "cache, not counted. `service path s` builds each enterprise's features through one "
        "`ContentScorer.score` (the request path) instead, timed on "
        f"{SERVICE_PATH_SAMPLE:,} enterprises and extrapolated.",
        "",
        "| interactions | enterprises | (user, park) pairs | epochs × threads | batch features s | service-path features s | LightFM s | train s | service path s | peak RSS MB |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in report["training"]:
        extra = " (extrapolated)" if r["service_features_extrapolated"] else ""
        lines.append(
            f"| {r['interactions']:,} | {r['enterprises']:,} | {r['pairs']:,} | {r['epochs']} × {r['threads']} | "
            f"{r['batch_features_s']} | {r['service_features_s']}{extra} | {r['lightfm_fit_s']} | "
            f"{r['train_s']} | {r['train_service_path_s']} | {r['peak_rss_mb']} |"
        )
    lines += [
        "",
        "## Lead ranking for one park (recommender.pool.PoolScorer)",
        "",
        "Pools replicated from the generated history as above. The index (text fit, keyword hits, "
        "user vectors, rule conditions) is built once per pool; ranking a park is numpy over it.",
        "",
        "| enterprises | index build s | ms / enterprise | index MB | scores for a park s | top-100 s | full ranking s |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in report["leads"]:
        lines.append(
            f"| {r['enterprises']:,} | {r['index_build_s']} ({r['index_workers']} processes) | "
            f"{r['index_build_ms_per_enterprise']} | {r['index_mb']} | {r['scores_for_park_s_median']} | "
            f"{r['rank_top100_s_median']} | {r['rank_full_sort_s']} |"
        )
    lines.append("")
    return "\n".join(lines)


# -- main -------------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small counts: a smoke run")
    parser.add_argument("--out", default=str(ROOT / "reports"))
    parser.add_argument(
        "--catalogues", help="comma-separated sizes, 0 = Hebei (default 0,3000,30000)"
    )
    parser.add_argument("--train-sizes", help="interactions, comma-separated")
    parser.add_argument("--pool-sizes", help="enterprises, comma-separated")
    parser.add_argument("--requests", type=int, help="sequential requests per endpoint and size")
    parser.add_argument("--concurrent-requests", type=int, help="requests per endpoint, 16 clients")
    parser.add_argument(
        "--leads-load-only", action="store_true", help="only leads under load; print, no report"
    )
    parser.add_argument(
        "--train-only", action="store_true", help="only the training entry; print, no report"
    )
    parser.add_argument(
        "--pool", type=int, help="enterprises imported for leads under load (default 20000)"
    )
    parser.add_argument(
        "--leads-requests", type=int, help="requests of leads under load (default 640)"
    )
    parser.add_argument(
        "--leads-max-s", type=float, default=300.0, help="time cap of leads under load, seconds"
    )
    sub = parser.add_subparsers(dest="cmd")
    s = sub.add_parser("serve", help=argparse.SUPPRESS)
    s.add_argument("--catalogue", type=int, default=0)
    t = sub.add_parser("train-child", help=argparse.SUPPRESS)
    t.add_argument("data")
    t.add_argument("--epochs", type=int, default=30)
    t.add_argument("--threads", type=int, default=2)
    t.add_argument("--sample", type=int, default=20000)
    args = parser.parse_args(argv)
    if args.cmd == "serve":
        serve(args.catalogue)
        return 0
    if args.cmd == "train-child":
        print(json.dumps(train_child(args.data, args.epochs, args.threads, args.sample)))
        return 0

    def sizes(text: str | None, default: list[int]) -> list[int]:
        return [int(x) for x in text.split(",")] if text else default

    quick = args.quick
    catalogues = sizes(args.catalogues, [0, 3000, 30000])
    train_sizes = sizes(args.train_sizes, [10_000] if quick else [10_000, 100_000, 1_000_000])
    pool_sizes = sizes(args.pool_sizes, [20_000] if quick else [100_000, 1_000_000])
    n_seq = args.requests or (40 if quick else 400)
    n_conc = args.concurrent_requests or (160 if quick else 1600)
    history = 1500 if quick else 5000
    epochs = 10 if quick else 30
    pool = args.pool or (2000 if quick else 20_000)
    leads_requests = args.leads_requests or (160 if quick else 640)
    if args.leads_load_only or args.train_only:
        return run_only(args, train_sizes, pool, leads_requests, quick)
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()
    report: dict[str, Any] = {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "quick": quick,
        "machine": machine(),
        "versions": versions(),
        "commit": git_commit(),
    }
    with tempfile.TemporaryDirectory(prefix="investmatch-bench-") as tmpdir:
        tmp = Path(tmpdir)
        var = tmp / "var"
        var.mkdir()
        say(f"preparing {var}: KB, {history:,}-enterprise history, model ({epochs} epochs)")
        settings, times = prepare_var(var, history, epochs)
        report["setup"] = {
            "history_enterprises": history,
            "train_epochs": epochs,
            **{k: round(v, 1) for k, v in times.items()},
        }
        from benchmarks import leads_load
        from features.kb import load_kb

        kb = load_kb()
        t0 = time.perf_counter()
        base = base_history(quick)
        report["setup"]["base_history_enterprises"] = len(base[0])
        report["setup"]["base_history_s"] = round(time.perf_counter() - t0, 1)
        bodies = request_bodies(base[0].sample(frac=1.0, random_state=1), 300)

        report["serving"] = bench_serving(
            settings, catalogues, bodies, n_seq, n_conc, tmp / "server.log", len(kb.parks)
        )
        report["leads_load"] = leads_load.bench_leads_load(
            pool, leads_requests, args.leads_max_s, tmp, LOAD_HISTORY, LOAD_EPOCHS
        )
        plot(report["serving"], out_dir / "bench-latency.png")
        if 3000 in catalogues:
            say("profiling /v1/match at 3,000 parks")
            report["profile"] = profile_match(settings, 3000, bodies, 60 if quick else 300)
        report["training"] = bench_training(
            base, train_sizes, epochs=30 if not quick else 10, tmp=tmp
        )
        bundle = next(
            p for p in sorted((var / "models").glob("*")) if (p / "metadata.json").exists()
        )
        report["leads"] = bench_leads(bundle, base[0], pool_sizes, workers=os.cpu_count() or 2)
    report["total_s"] = round(time.perf_counter() - t_start, 1)
    report["targets"] = check_targets(report)
    report["notes"] = notes(report)
    (out_dir / "bench.json").write_text(
        json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8"
    )
    (out_dir / "bench.md").write_text(markdown(report), encoding="utf-8")
    say(f"wrote {out_dir / 'bench.md'} and bench.json in {report['total_s']:.0f} s")
    for t_ in report["targets"].values():
        say(f"  {t_['target']}: {t_['measured']} → {t_['met']}")
    return 0


def run_only(
    args: argparse.Namespace, train_sizes: list[int], pool: int, leads_requests: int, quick: bool
) -> int:
    """One part alone (`--leads-load-only`, `--train-only`): its section and targets printed."""
    from benchmarks import leads_load

    report: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="investmatch-bench-") as tmpdir:
        tmp = Path(tmpdir)
        if args.leads_load_only:
            report["leads_load"] = leads_load.bench_leads_load(
                pool, leads_requests, args.leads_max_s, tmp, LOAD_HISTORY, LOAD_EPOCHS
            )
            print("\n".join(leads_load.markdown(report["leads_load"])))
        if args.train_only:
            report["training"] = bench_training(
                base_history(quick), train_sizes, epochs=10 if quick else 30, tmp=tmp
            )
            print(json.dumps(report["training"], ensure_ascii=False, indent=2))
    for t_ in check_targets(report).values():
        if t_["measured"] is not None:
            print(f"{t_['target']}: {t_['measured']} → {'met' if t_['met'] else 'NOT met'}")
    return 0


def base_history(quick: bool) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The generated history that training sets and lead pools are replicated from."""
    from features.kb import load_kb
    from recommender.synthetic import GeneratorParams, generate_history

    base_n = 2000 if quick else 18_000
    say(f"generating the base history ({base_n:,} enterprises) for training and pools")
    return generate_history(load_kb(), GeneratorParams(n_enterprises=base_n, seed=99))


def notes(report: dict[str, Any]) -> list[str]:
    """Plain statements derived from the figures (the analysis itself is in the commit note)."""
    out = []
    prof = report.get("profile")
    serving = {str(r["catalogue"]): r for r in report.get("serving", [])}
    if prof and "3000" in serving:
        st = prof["stages_ms_median"]
        handler = st["validate_request"] + st["match_response"] + st["audit"] + st["serialise"]
        floor = serving["3000"]["healthz"]["p50_ms"]
        out.append(
            f"At 3,000 parks the handler's own work is about {handler:.1f} ms (median): scoring "
            f"{st['score']:.1f} ms, ranking and reasons {st['match_response'] - st['score']:.1f} ms, audit row "
            f"{st['audit']:.1f} ms, validation + JSON {st['validate_request'] + st['serialise']:.1f} ms; "
            f"the /healthz floor is {floor:.1f} ms and /v1/match p50 {serving['3000']['match']['p50_ms']:.1f} ms."
        )
    return out


if __name__ == "__main__":
    raise SystemExit(main())

"""Soak run: the real service as its own process on 127.0.0.1 with a realistic pool (20,000
enterprises imported through `POST /v1/enterprises/import`), then a bounded async client loop of
32 concurrent clients sending mixed public self-check and bureau traffic; writes reports/soak.json
and reports/soak.md, per kind of request and overall, and exits non-zero on any error or when the
overall p99 is over 1 s. `make soak` runs it.

    python scripts/soak.py [--requests 3000] [--clients 32] [--time-cap 240] [--enterprises 20000]

The imported pool is the benchmark fixture of `benchmarks/leads_load.py` (generated firms named
「测试样本企业…（基准测试夹具）」); the model is trained on a small synthetic history.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import platform
import random
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# `python scripts/soak.py` puts scripts/ first on the path, and the editable install points at
# whichever checkout installed it: measure this checkout's code, as the service it starts runs.
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import numpy as np  # noqa: E402

from api.auth import create_token  # noqa: E402
from api.cli import train_and_register, write_demo_history  # noqa: E402
from api.settings import Settings  # noqa: E402
from benchmarks.bench import git_commit  # noqa: E402
from benchmarks.leads_load import fixture_frame, import_pool, write_fixture  # noqa: E402
from features.kb import load_kb  # noqa: E402
from store.db import get_sessionmaker, migrate  # noqa: E402
from store.kb_sync import sync_kb  # noqa: E402

REPORTS = ROOT / "reports"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
DESCRIPTIONS = [
    "主要从事工业机器人减速器、伺服电机的研发与生产，产品用于汽车焊接生产线",
    "生物疫苗和化学药制剂的研发生产",
    "高效光伏电池组件和逆变器制造",
    "羊绒纱线与羊绒服装的设计加工",
    "冷链物流仓储与城市配送",
    "钢结构件和冲压件的加工制造",
    "工业互联网平台和工业软件开发",
]
ORIGINS = ["北京", "天津", "河北", "其他省份", "境外"]
# kind → share of the requests
MIX = {
    "match": 0.22,
    "page_get": 0.08,
    "page_post": 0.10,
    "parks": 0.10,
    "chains": 0.05,
    "leads": 0.12,
    "chain_gaps": 0.04,
    "enterprises": 0.11,
    "interaction": 0.18,
}
P99_TARGET_MS = 1000.0
EXPECTED = {"interaction": 201}

log = logging.getLogger("soak")


@dataclass
class Results:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: list[str] = field(default_factory=list)
    errors_by_kind: Counter[str] = field(default_factory=Counter)
    sent: int = 0

    def error(self, kind: str, text: str) -> None:
        self.errors.append(f"{kind}: {text}")
        self.errors_by_kind[kind] += 1

    def samples(self, per_kind: int) -> list[str]:
        """The first errors of each kind, so that a rare one (a traceback) is never crowded out."""
        seen: Counter[str] = Counter()
        out = []
        for e in self.errors:
            kind = e.split(":", 1)[0]
            seen[kind] += 1
            if seen[kind] <= per_kind:
                out.append(e)
        return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def prepare(var: Path, history: int) -> tuple[Settings, str]:
    """A SQLite database with the KB, a synthetic history and a trained model; a bureau token."""
    settings = Settings(
        database_url=f"sqlite:///{var / 'soak.db'}",
        var_dir=var,
        history_enterprises=history,
        train_epochs=15,
        train_threads=2,
        # The industry classifier fitted once per machine (keyed, hash-checked), as `make run` does.
        cache_dir=ROOT / "var" / "cache",
    )
    kb = load_kb(settings.data_dir)
    migrate(settings.database_url)
    sync_kb(get_sessionmaker(settings.database_url), kb)
    write_demo_history(settings, kb)
    train_and_register(settings, kb)
    token = create_token(get_sessionmaker(settings.database_url), "压力测试", "bureau")
    return settings, token


def start_service(
    settings: Settings, admin_token: str, log_path: Path
) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {
        **os.environ,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "DATABASE_URL": settings.database_url,
        "VAR_DIR": str(settings.var_dir),
        "CACHE_DIR": str(settings.reference_cache),
        "ADMIN_TOKEN": admin_token,
        "RATE_LIMIT_PER_MINUTE": "0",  # 32 clients on one address: the limit is tested elsewhere
    }
    with log_path.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "api.cli", "serve"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"service exited with {proc.returncode}; see {log_path}")
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return proc, url
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"service did not start; see {log_path}")


class Client:
    """One simulated user: its own connection pool and cookies (the form's CSRF cookie)."""

    def __init__(
        self,
        url: str,
        bureau_token: str,
        parks: list[str],
        enterprise_ids: list[int],
        pool: int,
        seed: int,
    ):
        self.http = httpx.AsyncClient(base_url=url, timeout=60)
        self.auth = {"Authorization": f"Bearer {bureau_token}"}
        self.parks = parks
        self.enterprise_ids = enterprise_ids
        self.pool = pool
        self.rng = random.Random(seed)
        self.csrf: str | None = None

    async def form_token(self) -> str:
        if self.csrf is None:
            r = await self.http.get("/")
            m = CSRF.search(r.text)
            if not m:
                raise RuntimeError("no CSRF token in the form")
            self.csrf = m.group(1)
        return self.csrf

    async def send(self, kind: str) -> httpx.Response:
        rng = self.rng
        if kind == "match":
            body = {
                "description": rng.choice(DESCRIPTIONS),
                "origin": rng.choice(ORIGINS),
                "employees": rng.randint(5, 5000),
                "top_k": rng.choice([5, 10, 20]),
            }
            return await self.http.post("/v1/match", json=body)
        if kind == "page_get":
            return await self.http.get("/")
        if kind == "page_post":
            form = {
                "description": rng.choice(DESCRIPTIONS),
                "top_k": "10",
                "csrf_token": await self.form_token(),
            }
            return await self.http.post("/", data=form)
        if kind == "parks":
            return await self.http.get(
                "/v1/parks", params={"q": rng.choice(["高新", "经济", "产业"]), "limit": 50}
            )
        if kind == "chains":
            return await self.http.get("/v1/chains")
        if kind == "leads":
            return await self.http.get(
                f"/v1/parks/{rng.choice(self.parks)}/leads", params={"limit": 20}, headers=self.auth
            )
        if kind == "chain_gaps":
            return await self.http.get(
                f"/v1/parks/{rng.choice(self.parks)}/chain-gaps", headers=self.auth
            )
        if kind == "enterprises":
            offset = rng.randint(0, max(0, self.pool - 50))
            params: dict[str, str | int] = {
                "limit": 50,
                "offset": offset,
                "origin": rng.choice(ORIGINS),
            }
            return await self.http.get("/v1/enterprises", params=params, headers=self.auth)
        if kind == "interaction":
            body = {
                "enterprise_id": rng.choice(self.enterprise_ids),
                "park_id": rng.choice(self.parks),
                "kind": rng.choice(["viewed", "contacted", "visited"]),
                "note": "压力测试",
            }
            headers = {**self.auth, "Idempotency-Key": f"soak-{uuid.uuid4()}"}
            return await self.http.post("/v1/interactions", json=body, headers=headers)
        raise ValueError(kind)


async def run_load(
    url: str,
    token: str,
    parks: list[str],
    ids: list[int],
    pool: int,
    total: int,
    clients: int,
    time_cap: float,
    seed: int,
) -> tuple[Results, float, float]:
    kinds, weights = zip(*MIX.items(), strict=True)
    rng = random.Random(seed)
    plan = rng.choices(kinds, weights=weights, k=total)
    users = [Client(url, token, parks, ids, pool, seed + i) for i in range(clients)]
    # Warm-up, not measured but checked: one request of each kind (the first leads call may score
    # the pool).
    results = Results()
    t0 = time.perf_counter()
    for kind in MIX:
        try:
            r = await users[0].send(kind)
            # Until the pool is indexed, leads answer 503 with Retry-After: honour it.
            while r.status_code == 503 and "retry-after" in r.headers:
                if time.perf_counter() - t0 > 900:
                    break
                await asyncio.sleep(min(float(r.headers["retry-after"]), 2.0))
                r = await users[0].send(kind)
        except (httpx.HTTPError, RuntimeError) as exc:
            results.error(f"warm-up {kind}", f"{exc.__class__.__name__}: {exc}")
            continue
        if r.status_code != EXPECTED.get(kind, 200):
            results.error(f"warm-up {kind}", f"HTTP {r.status_code}: {r.text[:200]}")
    # The imported pool is indexed in the background: the soak measures the service at work,
    # once /healthz says indexing is over, not the minute of indexing after an import.
    while (await users[0].http.get("/healthz")).json().get("leads_indexing"):
        if time.perf_counter() - t0 > 900:
            break
        await asyncio.sleep(0.5)
    warmup = time.perf_counter() - t0
    queue: asyncio.Queue[str] = asyncio.Queue()
    for kind in plan:
        queue.put_nowait(kind)
    deadline = time.monotonic() + time_cap

    async def worker(user: Client) -> None:
        while time.monotonic() < deadline:
            try:
                kind = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            results.sent += 1
            start = time.perf_counter()
            try:
                r = await user.send(kind)
            except (httpx.HTTPError, RuntimeError) as exc:
                results.error(kind, f"{exc.__class__.__name__}: {exc}")
                continue
            results.latencies[kind].append((time.perf_counter() - start) * 1000)
            if r.status_code != EXPECTED.get(kind, 200):
                results.error(kind, f"HTTP {r.status_code}: {r.text[:200]}")

    t1 = time.perf_counter()
    await asyncio.gather(*(worker(u) for u in users))
    elapsed = time.perf_counter() - t1
    for u in users:
        await u.http.aclose()
    if not queue.empty():
        results.error(
            "run", f"time cap of {time_cap:.0f}s reached with {queue.qsize()} requests unsent"
        )
    return results, elapsed, warmup


def summarize(results: Results, elapsed: float) -> dict[str, object]:
    def stats(values: list[float], errors: int) -> dict[str, float]:
        a = np.array(values)
        return {
            "count": len(values),
            "errors": errors,
            "p50_ms": round(float(np.percentile(a, 50)), 1),
            "p95_ms": round(float(np.percentile(a, 95)), 1),
            "p99_ms": round(float(np.percentile(a, 99)), 1),
            "max_ms": round(float(a.max()), 1),
        }

    every = [v for vs in results.latencies.values() for v in vs]
    return {
        "requests_sent": results.sent,
        "errors": len(results.errors),
        "seconds": round(elapsed, 2),
        "requests_per_second": round(results.sent / elapsed, 1) if elapsed else 0.0,
        "all": stats(every, len(results.errors)) if every else {},
        "kinds": {
            k: stats(v, results.errors_by_kind[k]) for k, v in sorted(results.latencies.items())
        },
        "errors_by_kind": dict(sorted(results.errors_by_kind.items())),
        "error_samples": results.samples(per_kind=3),
    }


def targets_met(summary: dict[str, Any]) -> dict[str, bool]:
    p99 = summary["all"].get("p99_ms")
    return {
        f"p99 ≤ {P99_TARGET_MS:.0f} ms overall": p99 is not None and p99 <= P99_TARGET_MS,
        "0 errors": summary["errors"] == 0,
    }


def write_reports(report: dict[str, Any], out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    (out / "soak.json").write_text(
        json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    s = report["summary"]
    pool = report["pool"]
    lines = [
        "# Soak run",
        "",
        f"Run {report['finished_at']} on commit {report['commit']}: "
        f"{report['clients']} concurrent clients on 127.0.0.1 against `python -m api.cli serve` "
        f"(SQLite, rate limit off), {report['machine']}. The pool: {pool['imported']:,} "
        f"enterprises imported through `POST /v1/enterprises/import` in {pool['files']} CSV "
        f"file(s) ({pool['import_s']} s; a benchmark fixture, see `benchmarks/leads_load.py`) "
        f"beside the {report['history_enterprises']:,}-enterprise synthetic history the model "
        f"was trained on: {pool['pool']:,} in all.",
        "",
        f"- requests sent: **{s['requests_sent']}**, errors: **{s['errors']}**",
        f"- {s['seconds']} s, {s['requests_per_second']} requests/s; warm-up {report['warmup_seconds']} s (one request of each kind, checked, not timed, then until `/healthz` says the lead pool is indexed)",
        f"- all requests: p50 {s['all'].get('p50_ms')} ms, p95 {s['all'].get('p95_ms')} ms, **p99 {s['all'].get('p99_ms')} ms**",
        "- targets: "
        + "; ".join(
            f"{t} — {'met' if ok else '**not met**'}" for t, ok in report["targets"].items()
        ),
        "",
        "| kind | requests | errors | p50 ms | p95 ms | p99 ms | max ms |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for kind, k in s["kinds"].items():
        lines.append(
            f"| {kind} | {k['count']} | {k['errors']} | {k['p50_ms']} | {k['p95_ms']} | "
            f"{k['p99_ms']} | {k['max_ms']} |"
        )
    if s["error_samples"]:
        lines += ["", "Errors (the first 3 of each kind):", ""]
        lines += [f"- `{e}`" for e in s["error_samples"]]
    (out / "soak.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out / "soak.md"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--requests", type=int, default=3000)
    p.add_argument("--clients", type=int, default=32)
    p.add_argument("--time-cap", type=float, default=240.0)
    p.add_argument("--enterprises", type=int, default=20_000, help="imported pool")
    p.add_argument("--history", type=int, default=1000, help="synthetic history to train on")
    p.add_argument("--seed", type=int, default=20170222)
    p.add_argument("--out", type=Path, default=REPORTS, help="where soak.md and soak.json go")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request otherwise

    commit = git_commit()
    with tempfile.TemporaryDirectory(prefix="investmatch-soak-") as tmp:
        var = Path(tmp)
        t0 = time.perf_counter()
        settings, bureau_token = prepare(var, args.history)
        kb = load_kb(settings.data_dir)
        files = write_fixture(fixture_frame(kb, args.enterprises), var / "fixture")
        log.info("prepared %s in %.1fs", var, time.perf_counter() - t0)
        parks = [park.park_id for park in kb.parks[::3]]
        service_log = var / "service.log"
        proc, url = start_service(settings, secrets.token_urlsafe(32), service_log)
        try:
            pool = import_pool(url, bureau_token, files)
            log.info("imported %d enterprises in %.1fs", pool["imported"], pool["import_s"])
            log.info("service on %s; %d requests from %d clients", url, args.requests, args.clients)
            # Interactions name the history's enterprises by database id (1…history).
            ids = list(range(1, args.history + 1))
            results, elapsed, warmup = asyncio.run(
                run_load(
                    url,
                    bureau_token,
                    parks,
                    ids,
                    pool["pool"],
                    args.requests,
                    args.clients,
                    args.time_cap,
                    args.seed,
                )
            )
            alive = proc.poll() is None
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        text = service_log.read_text(encoding="utf-8", errors="replace")
        if not alive:
            results.error("service", "died during the run")
        if "Traceback" in text:
            results.error(
                "service", "its log has a traceback: " + text[text.index("Traceback") :][:300]
            )
        if bureau_token in text:
            results.error("service", "its log shows the bureau token")

    summary = summarize(results, elapsed)
    report = {
        "clients": args.clients,
        "requests_planned": args.requests,
        "history_enterprises": args.history,
        "pool": pool,
        "mix": MIX,
        "warmup_seconds": round(warmup, 2),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "commit": commit,
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "summary": summary,
        "targets": targets_met(summary),
    }
    md = write_reports(report, args.out)
    print(md.read_text(encoding="utf-8"))
    return 0 if all(report["targets"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())

"""What advice costs: p50/p95 of POST /v1/match with and without ?advice=true against GET /healthz,
over real HTTP on 127.0.0.1, with the database and model of the environment's settings.

    DATABASE_URL=sqlite:///var/investmatch.db .venv/bin/python scripts/advice_latency.py [--n 200]
"""

from __future__ import annotations

import argparse
import socket
import statistics
import threading
import time

import httpx
import uvicorn

from api.app import create_app
from api.settings import Settings

BODIES = (
    {
        "description": "主要从事工业机器人减速器、伺服电机和智能焊接装备的研发与生产",
        "rd_intensity": 0.005,
    },
    {"description": "钢铁冶炼：炼钢、炼铁及热轧板材生产", "energy_tce": 6000, "land_mu": 150},
    {"description": "锂电池正极材料和隔膜的研发与生产", "origin": "北京"},
)


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _times(client: httpx.Client, n: int, send: object) -> list[float]:
    out = []
    for i in range(n):
        t0 = time.perf_counter()
        r = send(client, i)  # type: ignore[operator]
        out.append((time.perf_counter() - t0) * 1000)
        assert r.status_code == 200, r.text
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=200)
    args = parser.parse_args()
    settings = Settings(rate_limit_per_minute=0, leads_warm=False)
    port = _port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    cases = {
        "healthz": lambda c, i: c.get("/healthz"),
        "match": lambda c, i: c.post("/v1/match", json=BODIES[i % 3]),
        "match?advice=true": lambda c, i: c.post(
            "/v1/match", params={"advice": "true"}, json=BODIES[i % 3]
        ),
    }
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
        for send in cases.values():  # warm up
            _times(client, 5, send)
        p50 = {}
        for name, send in cases.items():
            t = sorted(_times(client, args.n, send))
            p50[name] = statistics.median(t)
            print(f"{name:18s} p50 {p50[name]:6.1f} ms  p95 {t[int(0.95 * len(t))]:6.1f} ms")
    print(
        f"match / healthz = {p50['match'] / p50['healthz']:.2f}; "
        f"with advice / healthz = {p50['match?advice=true'] / p50['healthz']:.2f}"
    )
    server.should_exit = True


if __name__ == "__main__":
    main()

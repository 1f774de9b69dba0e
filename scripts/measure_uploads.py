"""Measure hostile uploads against the real service (issue 10): wall time of each answer and the
server process's peak memory growth (VmHWM after − VmRSS before, from /proc), one fresh server
process per case so no case inherits another's peak. Prints a Markdown table and writes
reports/uploads.json.

    python scripts/measure_uploads.py
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from api.auth import create_token  # noqa: E402
from features.kb import load_kb  # noqa: E402
from store.db import get_sessionmaker, migrate  # noqa: E402
from store.kb_sync import sync_kb  # noqa: E402
from tests.hostile import dimension_bomb, zip_bomb  # noqa: E402

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
SERVE = (
    "import sys, uvicorn; from api.app import create_app; from api.settings import Settings; "
    "uvicorn.run(create_app(Settings(database_url=sys.argv[1], var_dir=sys.argv[2], "
    "leads_warm=False)), host='127.0.0.1', port=int(sys.argv[3]), log_level='warning')"
)


def cases() -> list[tuple[str, str, bytes, str]]:
    junk_header = [["名称A", "名称B"], ["x", "y"]]
    valid = [["企业编号", "主营业务描述"], ["M-1", "生产汽车零部件和精密铸件"]]
    wide = ("企业编号,主营业务描述" + "," * 10_000 + "\n" + "a,b\n" * 50_000).encode()
    # Just under the 5 MB upload limit once the multipart envelope is added.
    header = ",".join(f"列{i}" for i in range(700_000)).encode()[: 5 * 1024 * 1024 - 4096] + b"\n"
    return [
        (
            "1.7 KB xlsx, dimension A1:XFD1048576, unknown header (refused)",
            "bomb.xlsx",
            dimension_bomb(junk_header),
            XLSX,
        ),
        (
            "1.7 KB xlsx, dimension A1:XFD1048576, one valid row (imported)",
            "bomb.xlsx",
            dimension_bomb(valid),
            XLSX,
        ),
        ("zip bomb: one 400 MB cell", "zip.xlsx", zip_bomb(400 * 1024 * 1024), XLSX),
        ("CSV: 10,000 empty header cells x 50,000 rows", "wide.csv", wide, "text/csv"),
        ("CSV: 5 MB header of unknown names", "header.csv", header, "text/csv"),
        (
            "CSV: the same 5 MB header with no token (401 before parsing)",
            "header.csv",
            header,
            "text/csv",
        ),
    ]


def kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> int:
    tmp = Path(tempfile.mkdtemp(prefix="uploads-"))
    url = f"sqlite:///{tmp / 'm.db'}"
    migrate(url)
    sessions = get_sessionmaker(url)
    sync_kb(sessions, load_kb())
    token = create_token(sessions, "测量", "bureau")
    results = []
    for label, name, data, mime in cases():
        port = free_port()
        proc = subprocess.Popen(
            [sys.executable, "-c", SERVE, url, str(tmp), str(port)], cwd=ROOT, env=os.environ
        )
        try:
            base = f"http://127.0.0.1:{port}"
            for _ in range(600):
                try:
                    if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.1)
            rss_before = kib(proc.pid, "VmRSS")
            t0 = time.perf_counter()
            auth = {} if "no token" in label else {"Authorization": f"Bearer {token}"}
            r = httpx.post(
                f"{base}/v1/enterprises/import",
                files={"file": (name, data, mime)},
                headers=auth,
                timeout=120,
            )
            seconds = time.perf_counter() - t0
            growth_mb = (kib(proc.pid, "VmHWM") - rss_before) / 1024
            detail = (
                r.json().get("errors", [r.json().get("detail", "")])[0]
                if r.status_code != 201
                else r.text
            )
            results.append(
                {
                    "case": label,
                    "bytes": len(data),
                    "status": r.status_code,
                    "seconds": round(seconds, 3),
                    "peak_growth_mb": round(growth_mb, 1),
                    "answer": detail[:120],
                }
            )
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    print("| case | bytes | status | seconds | peak memory growth (MB) | answer |")
    print("|---|---:|---:|---:|---:|---|")
    for x in results:
        print(
            f"| {x['case']} | {x['bytes']:,} | {x['status']} | {x['seconds']:.3f} | {x['peak_growth_mb']:.1f} | {x['answer']} |"
        )
    out = ROOT / "reports" / "uploads.json"
    out.write_text(
        json.dumps({"cases": results}, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

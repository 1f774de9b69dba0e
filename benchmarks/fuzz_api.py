"""schemathesis over the whole API, as a measurement: the service on 127.0.0.1 (a fresh database,
the KB, a model, and optionally a pool imported as in leads under load), `schemathesis run` with the
admin token and 2 workers against its /openapi.json, and the failures listed by operation.

    python -m benchmarks.fuzz_api [--pool 20000] [--workers 2] [--max-examples 40] [--timeout 10]

`POST /v1/models/train` is left out, as in tests/test_schemathesis.py (it starts a real training
run). The checks are the test's: no 5xx, and status code, content type and body as declared.
Writes nothing under reports/; the JUnit file and schemathesis' own output go to --out.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path
from typing import Any

from benchmarks.bench import LOAD_EPOCHS, LOAD_HISTORY, prepare_var, running_server, say

CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"
EXCLUDED_PATH_REGEX = "^/v1/models/train$"  # only POST is defined on that exact path


def failures(junit: Path) -> dict[str, list[str]]:
    """Operation → the text of each failure or error schemathesis reported for it."""
    out: dict[str, list[str]] = defaultdict(list)
    for case in ET.parse(junit).getroot().iter("testcase"):
        for bad in list(case.findall("failure")) + list(case.findall("error")):
            text = (bad.get("message") or "") + "\n" + (bad.text or "")
            out[case.get("name") or "?"].append(text.strip())
    return dict(out)


def leads_ready(url: str, token: str, limit_s: float = 900.0) -> float:
    """Seconds until a leads request answers anything but 503 + Retry-After (the pool indexed)."""
    import httpx

    t0 = time.perf_counter()
    with httpx.Client(base_url=url, timeout=60) as client:
        while time.perf_counter() - t0 < limit_s:
            r = client.get(
                "/v1/parks/tangshan_robotics/leads",
                params={"limit": 1},
                headers={"Authorization": f"Bearer {token}"},
            )
            if r.status_code != 503 or "retry-after" not in r.headers:
                break
            time.sleep(min(float(r.headers["retry-after"]), 2.0))
    return round(time.perf_counter() - t0, 1)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.fuzz_api", description=__doc__)
    p.add_argument("--pool", type=int, default=20_000, help="enterprises imported first (0: none)")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--max-examples", type=int, default=40)
    p.add_argument("--timeout", type=float, default=10.0, help="seconds a request may take")
    p.add_argument("--seed", type=int, default=20170222)
    p.add_argument("--out", type=Path, default=Path("var/fuzz"), help="JUnit file and the log")
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    junit = args.out.resolve() / "schemathesis.xml"
    log = args.out.resolve() / "schemathesis.log"
    with tempfile.TemporaryDirectory(prefix="investmatch-fuzz-") as tmpdir:
        tmp = Path(tmpdir)
        var = tmp / "var"
        var.mkdir()
        settings, _ = prepare_var(var, LOAD_HISTORY, LOAD_EPOCHS)
        with running_server(settings, 0, tmp / "server.log") as srv:
            pool: dict[str, Any] = {}
            if args.pool:
                from benchmarks.leads_load import fixture_frame, import_pool, write_fixture
                from features.kb import load_kb

                files = write_fixture(fixture_frame(load_kb(), args.pool), tmp / "fixture")
                pool = import_pool(srv.url, settings.admin_token, files)
                say(f"imported {pool['imported']:,}; pool {pool['pool']:,}")
                # The fuzz is of the service at work, not of its start: wait, as a client would
                # (Retry-After), until the pool is indexed and leads answer.
                pool["ready_s"] = leads_ready(srv.url, settings.admin_token)
                say(f"leads ready after {pool['ready_s']} s")
            cmd = [
                str(Path(sys.executable).with_name("schemathesis")),
                "run",
                f"{srv.url}/openapi.json",
                "--workers",
                str(args.workers),
                "-H",
                f"Authorization: Bearer {settings.admin_token}",
                "--exclude-path-regex",
                EXCLUDED_PATH_REGEX,
                "--checks",
                CHECKS,
                "--max-examples",
                str(args.max_examples),
                "--request-timeout",
                str(args.timeout),
                "--seed",
                str(args.seed),
                "--phases",
                "examples,coverage,fuzzing",
                "--no-color",
                "--report",
                "junit",
                "--report-junit-path",
                str(junit),
            ]
            say(f"schemathesis: {args.workers} workers, {args.max_examples} examples an operation")
            t0 = time.perf_counter()
            # In the temporary directory: schemathesis keeps its example database (.schemathesis/)
            # in its working directory.
            with log.open("w", encoding="utf-8") as fh:
                rc = subprocess.run(
                    cmd, stdout=fh, stderr=subprocess.STDOUT, check=False, cwd=tmp
                ).returncode
            took = time.perf_counter() - t0
    found = failures(junit) if junit.exists() else {}
    print(f"schemathesis exit {rc} in {took:.0f} s; pool {pool.get('pool', 'none')}; log {log}")
    for op, texts in sorted(found.items()):
        print(f"\n== {op}: {len(texts)} failure(s)")
        for t in texts:
            print("  " + t[:1500].replace("\n", "\n  "))
    text = log.read_text(encoding="utf-8", errors="replace")
    if "= WARNINGS =" in text:  # schemathesis' own warnings and summary (counts by phase)
        print("\n" + text[text.rfind("\n", 0, text.index("= WARNINGS =")) + 1 :])
    return rc


if __name__ == "__main__":
    raise SystemExit(main())

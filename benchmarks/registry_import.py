"""Time and peak memory of the registry import on generated exports (10,000 and 100,000 rows).

    python -m benchmarks.registry_import [--rows 10000 100000] [--database-url URL] [--xlsx-rows N]

Each import runs as its own process, `python -m api.cli import-registry FILE --no-train`, on a fresh
database (a temporary SQLite file unless --database-url is given, whose tables it then fills), so
peak RSS is that command's alone; a second run of the same file measures the idempotent re-import.
Writes reports/registry_import.json and reports/registry_import.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.fixtures.registry_fixture import write_csv, write_xlsx

ROOT = Path(__file__).resolve().parents[1]


def _measure(cmd: list[str], env: dict[str, str]) -> dict[str, Any]:
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=err, cwd=ROOT)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    if proc.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{stderr[-2000:]}")
    return {
        "seconds": round(seconds, 1),
        "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 1),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),  # Linux reports KiB
        "summary": stdout.splitlines()[0] if stdout else "",
    }


def run(rows: list[int], xlsx_rows: int, database_url: str | None) -> dict[str, Any]:
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        base = {**os.environ, "VAR_DIR": tmp}
        baseline = _measure([sys.executable, "-c", "import api.cli, store.firms"], base)
        files = [(n, write_csv(Path(tmp) / f"registry_{n}.csv", n)) for n in rows]
        if xlsx_rows:
            files.append(
                (xlsx_rows, write_xlsx(Path(tmp) / f"registry_{xlsx_rows}.xlsx", xlsx_rows))
            )
        for n, path in files:
            url = database_url or f"sqlite:///{tmp}/{path.stem}_{path.suffix[1:]}.db"
            env = {**base, "DATABASE_URL": url}
            cmd = [sys.executable, "-m", "api.cli", "import-registry", str(path), "--no-train"]
            first = _measure(cmd, env)
            again = _measure(cmd, env)
            results.append(
                {
                    "rows": n,
                    "format": path.suffix[1:],
                    "file_mb": round(path.stat().st_size / 1024 / 1024, 1),
                    "first": first,
                    "reimport": again,
                }
            )
            print(f"{n} rows ({path.suffix}): {first} / re-import {again}", flush=True)
    return {
        "command": "python -m api.cli import-registry FILE --no-train",
        "database": "PostgreSQL" if database_url else "SQLite",
        "baseline_peak_rss_mb": baseline["peak_rss_mb"],
        "runs": results,
        "machine": f"{os.cpu_count()} cores (shared)",
    }


def write_report(result: dict[str, Any]) -> None:
    reports = ROOT / "reports"
    reports.mkdir(exist_ok=True)
    (reports / "registry_import.json").write_text(
        json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    lines = [
        "# Registry import: time and peak memory",
        "",
        f"`{result['command']}` on generated exports (tests/fixtures/registry_fixture.py), "
        f"{result['database']}, {result['machine']}. Peak RSS of a process that only imports "
        f"the modules: {result['baseline_peak_rss_mb']} MB.",
        "",
        "| rows | format | file MB | first import s | CPU s | peak RSS MB | re-import s | re-import peak RSS MB |",
        "|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in result["runs"]:
        f, a = r["first"], r["reimport"]
        lines.append(
            f"| {r['rows']:,} | {r['format']} | {r['file_mb']} | {f['seconds']} | "
            f"{f['cpu_seconds']} | {f['peak_rss_mb']} | {a['seconds']} | {a['peak_rss_mb']} |"
        )
    lines += ["", "First-run summaries:", ""]
    lines += [f"- {r['rows']:,} {r['format']}: {r['first']['summary']}" for r in result["runs"]]
    (reports / "registry_import.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, nargs="+", default=[10_000, 100_000])
    p.add_argument("--xlsx-rows", type=int, default=0)
    p.add_argument("--database-url", default=None)
    a = p.parse_args()
    write_report(run(a.rows, a.xlsx_rows, a.database_url))


if __name__ == "__main__":
    main()

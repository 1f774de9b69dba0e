"""One KB at run time: after `python -m api.cli load-kb`, run as a separate process against the
service's database, `/v1/parks`, `/v1/match` and `/healthz` serve the new KB without a restart."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx

from api.settings import Settings
from features.kb import DATA_DIR, KnowledgeBase
from tests.conftest import LiveServer, provision

ROOT = Path(__file__).resolve().parents[2]
PARK = "langfang_cnc_machine_tools"
OLD, NEW = "廊坊数控机床基地", "廊坊数控机床产业基地（改名后）"
ASK = {"description": "研发生产数控机床、机床数控系统和精密主轴", "origin": "北京", "top_k": 50}


def _park_in_match(http: httpx.Client) -> dict[str, object]:
    r = http.post("/v1/match", json=ASK)
    assert r.status_code == 200, r.text
    return next(p for p in r.json()["parks"] if p["park_id"] == PARK)


def test_load_kb_from_another_process_is_served_without_restart(
    tmp_path: Path, db_url: str, trained_settings: Settings, kb: KnowledgeBase
) -> None:
    data = tmp_path / "data"
    shutil.copytree(DATA_DIR / "kb", data / "kb")
    (data / "reference").symlink_to(DATA_DIR / "reference")
    url = db_url
    provision(url, trained_settings, kb)
    settings = trained_settings.model_copy(update={"database_url": url, "data_dir": data})

    with LiveServer(settings) as server, httpx.Client(base_url=server.url, timeout=60) as http:
        assert http.get(f"/v1/parks/{PARK}").json()["name"] == OLD
        assert _park_in_match(http)["name"] == OLD
        before = http.get("/healthz").json()["kb_digest"]

        parks = data / "kb" / "parks.yaml"
        text = parks.read_text(encoding="utf-8")
        assert text.count(f"name: {OLD}\n") == 1
        parks.write_text(text.replace(f"name: {OLD}\n", f"name: {NEW}\n"), encoding="utf-8")
        env = {**os.environ, "DATABASE_URL": url, "DATA_DIR": str(data)}
        done = subprocess.run(
            [sys.executable, "-m", "api.cli", "load-kb"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr
        # The database answers at once; matching follows once the service has reloaded the KB.
        assert http.get(f"/v1/parks/{PARK}").json()["name"] == NEW
        deadline = time.monotonic() + 120
        while http.get("/healthz").json()["kb_digest"] == before:
            assert time.monotonic() < deadline, "the service never loaded the synced KB"
            time.sleep(0.5)
        assert _park_in_match(http)["name"] == NEW
        listed = http.get("/v1/parks", params={"q": "廊坊数控机床"}).json()["data"]
        assert [p["name"] for p in listed if p["park_id"] == PARK] == [NEW]

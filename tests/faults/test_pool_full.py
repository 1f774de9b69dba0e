"""Every pooled database connection is busy: requests that need the database get a 503 in Chinese
with Retry-After after a short wait, never a 500, and the service answers again once connections
are free."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from api.settings import Settings
from features.kb import KnowledgeBase
from store.db import get_engine
from tests.conftest import ADMIN_TOKEN, LiveServer, provision


def test_a_full_connection_pool_answers_503_in_chinese(
    trained_settings: Settings, kb: KnowledgeBase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DB_POOL_TIMEOUT", "0.5")
    settings = trained_settings.model_copy(
        update={
            "database_url": f"sqlite:///{tmp_path / 'full.db'}",
            "leads_warm": False,
            "var_dir": tmp_path,
        }
    )
    provision(settings.database_url, trained_settings, kb, enterprises=5)
    engine = get_engine(settings.database_url)
    auth = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    with LiveServer(settings) as server, httpx.Client(base_url=server.url, timeout=30) as c:
        assert c.get("/v1/parks/tangshan_robotics/leads", headers=auth).status_code == 200
        held = [engine.connect() for _ in range(engine.pool.size() + engine.pool._max_overflow)]  # type: ignore[attr-defined]
        try:
            for path in ("/v1/parks/tangshan_robotics/leads", "/v1/enterprises"):
                r = c.get(path, headers=auth)
                assert r.status_code == 503, (path, r.text)
                assert "数据库连接繁忙" in r.json()["detail"] and r.headers["retry-after"] == "1"
        finally:
            for conn in held:
                conn.close()
        assert c.get("/v1/parks/tangshan_robotics/leads", headers=auth).status_code == 200

"""The database goes away mid-run: matching goes on from the loaded model, database work gets 503
in Chinese, /healthz says degraded, and the service recovers by itself when the database returns."""

from __future__ import annotations

import os
import time

import httpx
import pytest
from sqlalchemy.engine import make_url

from api.settings import Settings
from features.kb import KnowledgeBase
from store.db import get_sessionmaker, migrate
from store.kb_sync import sync_kb
from store.registry import active_version, register
from tests.conftest import ADMIN_TOKEN, LiveServer, _postgres_schema_url
from tests.faults.proxy import CuttableProxy

BASE = os.environ.get("TEST_DATABASE_URL")
pytestmark = pytest.mark.skipif(
    not BASE, reason="needs PostgreSQL: set TEST_DATABASE_URL (.ci/run does)"
)
ASK = {"description": "生产高效光伏电池组件和逆变器", "origin": "天津"}


def _wait_for(client: httpx.Client, status: str, timeout: float = 20) -> dict:  # type: ignore[type-arg]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = client.get("/healthz").json()
        if body["status"] == status:
            return body
        time.sleep(0.2)
    raise AssertionError(f"/healthz never said {status}")


def test_database_outage_and_recovery(
    trained_settings: Settings, kb: KnowledgeBase, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    assert BASE
    target = make_url(BASE)
    proxy = CuttableProxy(target.host or "127.0.0.1", target.port or 5432).start()
    proxied = target.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    schema = _postgres_schema_url(proxied)
    url = next(schema)
    try:
        migrate(url)
        sync_kb(get_sessionmaker(url), kb)
        with get_sessionmaker(trained_settings.database_url)() as s:
            trained = active_version(s)
        assert trained is not None
        with get_sessionmaker(url).begin() as s:
            register(
                s,
                trained.version,
                trained.path,
                metrics=trained.metrics,
                data_hash="t",
                kb_digest=kb.digest,
                activate=True,
            )
        settings = Settings(database_url=url, var_dir=tmp_path, admin_token=ADMIN_TOKEN)
        with LiveServer(settings) as server, httpx.Client(base_url=server.url, timeout=30) as c:
            assert _wait_for(c, "ok")["model_version"] == trained.version
            assert c.get("/v1/parks", params={"limit": 1}).status_code == 200

            proxy.cut()
            answer = c.post("/v1/match", json=ASK)
            assert answer.status_code == 200 and answer.json()["parks"]
            assert answer.json()["model_version"] == trained.version
            health = c.get("/healthz")
            assert health.status_code == 200
            assert health.json() == {
                **health.json(),
                "status": "degraded",
                "database": "unavailable",
            }
            parks = c.get("/v1/parks")
            assert parks.status_code == 503 and "数据库暂时不可用" in parks.json()["detail"]
            admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
            write = c.post(f"/v1/models/{trained.version}/activate", headers=admin)
            assert write.status_code == 503 and "数据库" in write.json()["detail"]

            proxy.restore()
            _wait_for(c, "ok")
            assert c.get("/v1/parks", params={"limit": 1}).status_code == 200
            assert (
                c.post(f"/v1/models/{trained.version}/activate", headers=admin).status_code == 200
            )
    finally:
        if proxy._server is None:
            proxy.restore()
        next(schema, None)  # drops the schema through the proxy
        proxy.cut()

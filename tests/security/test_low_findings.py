"""The low findings of issue 10: headers on 500s, redacted access log, nothing kept from a
self-check without consent beyond an anonymous audit, no invented-looking ids, one warm-up at a
time, trusted forwarding in compose."""

from __future__ import annotations

import logging
import re
import uuid
from pathlib import Path

import httpx
import pytest
import yaml

from api.middleware import RedactQuery
from api.settings import Settings
from store import orm
from store.audit import flush_all
from store.db import get_sessionmaker
from tests.conftest import LiveServer, post_form

ROOT = Path(__file__).resolve().parents[2]
DESCRIPTION = "主要从事工业机器人减速器、伺服电机的研发与生产"


def test_a_500_is_json_in_chinese_with_the_security_headers(trained_settings: Settings) -> None:
    server = LiveServer(trained_settings)
    app = server.server.config.app

    def boom() -> None:
        raise RuntimeError("a bug")

    app.add_api_route("/boom", boom)
    with server, httpx.Client(base_url=server.url, timeout=30) as client:
        r = client.get("/boom")
    assert r.status_code == 500
    assert r.json()["code"] == "internal_error" and "服务器内部错误" in r.json()["detail"]
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["cache-control"] == "no-store"
    assert "default-src" in r.headers["content-security-policy"]


def test_access_log_drops_query_strings() -> None:
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        (
            "127.0.0.1:5000",
            "GET",
            "/bureau/report?name=某公司&description=机密&token=abc",
            "1.1",
            200,
        ),
        None,
    )
    assert RedactQuery().filter(record)
    line = record.getMessage()
    assert "某公司" not in line and "机密" not in line and "abc" not in line
    assert "/bureau/report?[已隐去]" in line


def test_the_served_app_redacts_its_access_log(live_server: LiveServer) -> None:
    assert any(isinstance(f, RedactQuery) for f in logging.getLogger("uvicorn.access").filters)


def test_selfcheck_without_consent_keeps_only_an_anonymous_audit(
    http: httpx.Client, trained_settings: Settings
) -> None:
    marker = f"匿名{uuid.uuid4().hex[:8]}"
    form = {
        "description": f"{DESCRIPTION}{marker}",
        "name": f"{marker}公司",
        "industry_code": "C3491",
    }
    r = post_form(http, "/", form)
    assert r.status_code == 200
    m = re.search(r"请求编号 ([0-9a-f]+)", r.text)
    assert m
    assert flush_all()  # the audit is written by its own thread, after the answer
    with get_sessionmaker(trained_settings.database_url)() as s:
        row = s.get(orm.MatchRequest, m.group(1))
    assert row is not None
    assert marker not in str(row.request) and marker not in str(row.response)
    assert row.request["anonymous"] is True and row.request["industry_code"] == "C3491"
    assert row.response["parks"]


def test_api_match_audit_is_anonymous(http: httpx.Client, trained_settings: Settings) -> None:
    marker = f"接口{uuid.uuid4().hex[:8]}"
    r = http.post("/v1/match", json={"description": f"{DESCRIPTION}{marker}", "name": marker})
    assert r.status_code == 200
    assert flush_all()  # the audit is written by its own thread, after the answer
    with get_sessionmaker(trained_settings.database_url)() as s:
        row = s.get(orm.MatchRequest, r.json()["request_id"])
    assert row is not None and marker not in str(row.request) + str(row.response)


@pytest.mark.parametrize("ext", ["db20024", "DB7"])
def test_external_ids_cannot_take_the_invented_db_form(bureau: httpx.Client, ext: str) -> None:
    r = bureau.post("/v1/enterprises", json={"external_id": ext, "description": DESCRIPTION})
    assert r.status_code == 422 and "db+数字" in r.json()["detail"]
    data = f"企业编号,主营业务描述\n{ext},{DESCRIPTION}\n".encode()
    imp = bureau.post("/v1/enterprises/import", files={"file": ("ids.csv", data, "text/csv")})
    assert imp.status_code == 422 and any("db+数字" in e for e in imp.json()["errors"])


def test_compose_trusts_forwarded_headers_from_the_docker_network() -> None:
    doc = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    allowed = doc["services"]["app"]["environment"]["FORWARDED_ALLOW_IPS"]
    assert "172.16.0.0/12" in allowed and "*" not in allowed

"""What a new user sees after `make run` on a fresh clone: no invented enterprise, interaction or
placement; the learned part off and said so; and the demo (`make demo`) marked 演示数据 everywhere."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from api import cli
from api.settings import Settings
from features.kb import KnowledgeBase
from recommender.synthetic import GeneratorParams, generate_history
from store import orm
from store.db import get_sessionmaker, migrate
from store.history import import_history
from store.kb_sync import sync_kb
from store.registry import register
from tests.conftest import ADMIN_TOKEN, LiveServer, post_form

ROBOT = {"description": "主要从事工业机器人减速器、伺服电机的研发与生产", "top_k": 5}


def _counts(url: str) -> dict[str, int]:
    with get_sessionmaker(url)() as s:
        return {
            t.__tablename__: int(s.scalar(select(func.count()).select_from(t)) or 0)
            for t in (orm.Enterprise, orm.Interaction, orm.ModelVersion)
        }


def _settings(tmp: Path, **kw: object) -> Settings:
    return Settings(
        database_url=f"sqlite:///{tmp / 'app.db'}",
        var_dir=tmp,
        admin_token=ADMIN_TOKEN,
        rate_limit_per_minute=0,
        leads_warm=False,
        **kw,  # type: ignore[arg-type]
    )


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Settings, LiveServer]]:
    settings = _settings(tmp_path_factory.mktemp("fresh"))
    assert cli.cmd_setup(settings) == 0
    with LiveServer(settings) as server:
        yield settings, server


def test_fresh_setup_creates_no_enterprise_interaction_or_model(
    fresh: tuple[Settings, LiveServer],
) -> None:
    settings, _ = fresh
    assert _counts(settings.database_url) == {
        "enterprises": 0,
        "interactions": 0,
        "model_versions": 0,
    }


def test_fresh_setup_match_says_learned_part_is_off(fresh: tuple[Settings, LiveServer]) -> None:
    _, server = fresh
    body = httpx.post(f"{server.url}/v1/match", json=ROBOT, timeout=30).json()
    assert body["learned"] is False and body["demo"] is False
    assert "未导入真实数据" in body["model_version"] and "协同部分未启用" in body["model_version"]
    assert "未启用" in body["notice"]
    assert body["parks"] and all(p["score_breakdown"]["collaborative"] == 0 for p in body["parks"])
    assert not any(r["kind"] == "similar" for p in body["parks"] for r in p["reasons"])
    assert httpx.get(f"{server.url}/healthz").json()["learned"] is False


def test_fresh_setup_pages_show_the_learned_part_is_off(
    fresh: tuple[Settings, LiveServer],
) -> None:
    _, server = fresh
    with httpx.Client(base_url=server.url, timeout=30) as client:
        page = post_form(client, "/", {"description": ROBOT["description"]})
        assert page.status_code == 200 and "协同部分（相似企业的落户记录）未启用" in page.text
        assert "演示数据" not in page.text
        client.headers["Authorization"] = f"Bearer {ADMIN_TOKEN}"
        leads = client.get("/v1/parks/qinghe_cashmere/leads")
        pool = client.get("/v1/enterprises")
    assert leads.status_code == 200 and leads.json()["count"] == 0
    assert pool.status_code == 200 and pool.json()["count"] == 0


def test_setup_removes_an_earlier_versions_synthetic_history(
    tmp_path: Path, kb: KnowledgeBase, db_url: str
) -> None:
    settings = _settings(tmp_path).model_copy(update={"database_url": db_url})
    migrate(settings.database_url)
    sessions = get_sessionmaker(settings.database_url)
    sync_kb(sessions, kb)
    ents, inter = generate_history(kb, GeneratorParams(n_enterprises=60, seed=5))
    import_history(sessions, ents, inter, record_source="synthetic")
    with sessions.begin() as s:
        register(s, "old", str(tmp_path), metrics={}, data_hash="x", kb_digest="", activate=True)
    assert cli.cmd_setup(settings) == 0
    counts = _counts(settings.database_url)
    assert counts["enterprises"] == 0 and counts["interactions"] == 0
    with sessions() as s:
        assert s.scalars(select(orm.ModelVersion.status)).all() == ["retired"]


def test_demo_marks_every_page_and_response(tmp_path: Path, kb: KnowledgeBase) -> None:
    settings = _settings(tmp_path, demo=True, history_enterprises=300, train_epochs=3)
    assert cli.cmd_setup(settings) == 0
    assert _counts(settings.database_url)["enterprises"] == 300
    with (
        LiveServer(settings) as server,
        httpx.Client(base_url=server.url, timeout=60, follow_redirects=True) as client,
    ):
        match = client.post("/v1/match", json=ROBOT)
        assert match.headers["x-demo-data"] == "1" and match.json()["demo"] is True
        assert match.json()["learned"] is True
        for path in ("/", "/browse", "/bureau"):
            page = client.get(path)
            assert page.headers["x-demo-data"] == "1" and "演示数据" in page.text, path
        assert client.get("/v1/chains").headers["x-demo-data"] == "1"
        assert client.get("/v1/nothing-here").headers["x-demo-data"] == "1"

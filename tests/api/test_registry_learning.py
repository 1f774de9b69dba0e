"""After a registry import (a generated fixture imported through `store.firms`, as
`make import-registry` does), set-up trains on the placements; the service then answers with registry evidence, lists
counties as places and counts the registry in chain gaps with its source."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from api import cli
from api.settings import Settings
from features.kb import KnowledgeBase
from recommender.evaluate_realworld import MIX
from recommender.synthetic_registry import RegistryParams, generate_registry, to_export
from store import firms as registry
from store.db import get_sessionmaker, migrate
from tests.conftest import ADMIN_TOKEN, LiveServer

CASHMERE = {"description": "羊绒纱线、羊绒制品的生产、销售", "top_k": 10}


@pytest.fixture(scope="module")
def registry_server(
    tmp_path_factory: pytest.TempPathFactory, kb: KnowledgeBase
) -> Iterator[LiveServer]:
    export = to_export(generate_registry(kb, RegistryParams(n_firms=3000, seed=17)), kb)
    var = tmp_path_factory.mktemp("registry")
    settings = Settings(
        database_url=f"sqlite:///{var / 'app.db'}",
        var_dir=var,
        admin_token=ADMIN_TOKEN,
        train_epochs=3,
        train_threads=1,
        rate_limit_per_minute=0,
        leads_warm=False,
    )
    migrate(settings.database_url)
    rows = ([str(v) for v in row] for row in export.itertuples(index=False))
    report = registry.import_registry(
        get_sessionmaker(settings.database_url), list(export.columns), rows, bureau="测试商务局"
    )
    assert report.imported > 2000
    assert cli.cmd_setup(settings) == 0
    with LiveServer(settings) as server:
        yield server


def test_setup_trains_on_registry_placements_and_match_cites_them(
    registry_server: LiveServer,
) -> None:
    body = httpx.post(f"{registry_server.url}/v1/match", json=CASHMERE, timeout=30).json()
    assert body["learned"] is True and "content-policy-only" not in body["model_version"]
    reasons = [r for p in body["parks"] for r in p["reasons"] if "已登记经营范围相近" in r["text"]]
    assert reasons and all(r["source"].startswith("企业登记名录（") for r in reasons)
    assert "测试" not in str(body)  # the public answer names no registered firm
    top = [p["park_id"] for p in body["parks"][:5]]
    assert "county_130534" in top or "qinghe_cashmere" in top


def test_counties_are_listed_as_places(registry_server: LiveServer) -> None:
    r = httpx.get(f"{registry_server.url}/v1/parks", params={"q": "清河县", "limit": 50})
    places = {p["park_id"]: p for p in r.json()["data"]}
    assert places["county_130534"]["kind"] == "county"
    assert places["county_130534"]["city"] == "邢台"
    one = httpx.get(f"{registry_server.url}/v1/parks/county_130534").json()
    assert one["name"] == "清河县" and one["county"] == "清河县"


def test_chain_gaps_count_the_registry_with_its_source(registry_server: LiveServer) -> None:
    r = httpx.get(
        f"{registry_server.url}/v1/parks/qinghe_cashmere/chain-gaps",
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        timeout=60,
    )
    assert r.status_code == 200, r.text
    segments = [s for c in r.json()["chains"] for s in c["segments"]]
    sources = {c["source"] for s in segments for c in s["counts"]}
    assert "招商部门记录的签约/落地（互动记录）" in sources
    registry = [c for s in segments for c in s["counts"] if c["source"].startswith("企业登记名录")]
    assert registry and sum(c["count"] for c in registry) > 0
    assert all("清河县已登记" in c["source"] for c in registry)


def test_learned_share_is_chosen_on_the_public_real_world_cases(
    registry_server: LiveServer,
) -> None:
    r = httpx.get(
        f"{registry_server.url}/v1/models",
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        timeout=30,
    )
    served = next(m for m in r.json()["data"] if m["serving"])
    metrics = served["metrics"]
    assert metrics["learned_share"] in MIX
    assert 0 <= metrics["realworld_city@3"] <= 1 and "realworld_chain@1" in metrics

"""Policy documents over real HTTP: the documents in force, and a second real document drafted,
reviewed and applied by an admin, after which /v1/match ranks and quotes it."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from api.settings import Settings
from features.kb import DATA_DIR, KnowledgeBase
from tests.conftest import ADMIN_TOKEN, LiveServer, provision

SECOND = DATA_DIR / "reference" / "policies" / "hebei_2023_emerging_industry_clusters.txt"
TITLE = "加快河北省战略性新兴产业融合集群发展行动方案(2023-2027年)"


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, trained_settings: Settings, kb: KnowledgeBase
) -> Iterator[tuple[LiveServer, Path]]:
    """A server of its own, on a copy of data/ (applying writes into the KB directory)."""
    root = tmp_path_factory.mktemp("policy")
    data = root / "data"
    data.mkdir()
    shutil.copytree(DATA_DIR / "kb", data / "kb")
    (data / "reference").symlink_to(DATA_DIR / "reference")
    url = f"sqlite:///{root / 'app.db'}"
    provision(url, trained_settings, kb)
    settings = trained_settings.model_copy(
        update={"database_url": url, "data_dir": data, "var_dir": root, "leads_warm": False}
    )
    with LiveServer(settings) as srv:
        yield srv, data


def test_policy_draft_review_apply_then_match_quotes_it(server):
    srv, data = server
    auth = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    with httpx.Client(base_url=srv.url, timeout=120) as c:
        before = c.get("/v1/policies").json()
        assert [d["date"] for d in before["data"]] == ["2017-02-22"]

        assert c.post("/v1/policies/drafts", json={"text": SECOND.read_text()}).status_code == 401
        r = c.post("/v1/policies/drafts", json={"text": SECOND.read_text()}, headers=auth)
        assert r.status_code == 201, r.text
        review = r.json()
        park = next(i for i in review["items"] if i["kind"] == "parks")
        # The 2023 cluster is the 2017 base of the same city and trade: a change, with its sentence.
        assert park["action"] == "changed" and park["id"] == "shijiazhuang_biomedicine_base"
        assert park["source"].startswith("1.石家庄生物医药产业集群。以石家庄高新区为核心承载区")
        assert park["source"] in SECOND.read_text()

        url = f"/v1/policies/drafts/{review['draft_id']}/apply"
        bad = c.post(url, json={"accept": ["no_such_record"]}, headers=auth)
        assert bad.status_code == 422 and "accept" in bad.json()["detail"]
        untitled = c.post(url, json={"accept": [park["id"]]}, headers=auth)
        assert untitled.status_code == 422 and "title" in untitled.json()["detail"]
        assert not (data / "kb" / "policies").exists()  # nothing applied by a refused request

        doc = {"title": TITLE, "issuer": "河北省人民政府办公厅", "date": "2023-04-20"}
        ok = c.post(url, json={"accept": [park["id"]], "document": doc}, headers=auth)
        assert ok.status_code == 200, ok.text
        assert ok.json()["applied"]["parks"] == 1

        after = c.get("/v1/policies").json()
        assert [d["title"] for d in after["data"]][-1] == TITLE and after["count"] == 2

        m = c.post(
            "/v1/match",
            json={"description": "生物技术药、高端化学药和现代中药的研发与生产", "top_k": 10},
        ).json()
        hit = next(p for p in m["parks"] if p["park_id"] == "shijiazhuang_biomedicine_base")
        assert hit["name"] == "石家庄生物医药产业集群"
        quoted = [x for x in hit["reasons"] if x["document"] and x["document"]["title"] == TITLE]
        assert quoted, hit["reasons"]
        assert any("取代" in x["text"] and "2017-02-22" in x["text"] for x in hit["reasons"])
        print("ANSWER", hit)

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


@pytest.fixture
def server(
    tmp_path_factory: pytest.TempPathFactory,
    trained_settings: Settings,
    kb: KnowledgeBase,
    db_url: str,
) -> Iterator[tuple[LiveServer, Path, str]]:
    """A server of its own, on a copy of data/ (applying writes into the KB directory)."""
    root = tmp_path_factory.mktemp("policy")
    data = root / "data"
    data.mkdir()
    shutil.copytree(DATA_DIR / "kb", data / "kb")
    (data / "reference").symlink_to(DATA_DIR / "reference")
    url = db_url
    provision(url, trained_settings, kb)
    settings = trained_settings.model_copy(
        update={"database_url": url, "data_dir": data, "var_dir": root, "leads_warm": False}
    )
    with LiveServer(settings) as srv:
        yield srv, data, url


def test_policy_draft_review_apply_then_match_quotes_it(server):
    srv, data, _url = server
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
        rank = [p["park_id"] for p in m["parks"]].index(hit["park_id"]) + 1
        print("ANSWER rank", rank, [(p["name"], p["score"]) for p in m["parks"][:5]], hit)


def test_admin_pages_upload_review_apply(server):
    """The officer's way: log in, upload the file, read each record with its sentence, fill in the
    document's title, apply; a bureau (non-admin) token is turned away."""
    srv, data, url = server
    bureau_token = create_token(get_sessionmaker(url), "某市商务局", "bureau")
    with httpx.Client(base_url=srv.url, timeout=120) as c:
        assert post_form(c, "/bureau/login", {"token": bureau_token}).status_code == 303
        denied = c.get("/bureau/admin/policies")
        assert denied.status_code == 403 and "管理员" in denied.text
    with httpx.Client(base_url=srv.url, timeout=120) as c:
        r = post_form(c, "/bureau/login", {"token": ADMIN_TOKEN, "next": "/bureau/admin/policies"})
        assert r.status_code == 303
        listing = c.get("/bureau/admin/policies")
        assert "河北省人民政府关于加快推进工业转型升级建设现代化工业体系的指导意见" in listing.text
        token = CSRF_INPUT.search(listing.text).group(1)
        forged = c.post("/bureau/admin/policies", files={"file": ("p.txt", b"x" * 30)})
        assert forged.status_code == 403
        up = c.post(
            "/bureau/admin/policies",
            data={"csrf_token": token},
            files={"file": ("plan.txt", SECOND.read_text().encode("gb18030"), "text/plain")},
        )
        assert up.status_code == 303, up.text
        review = c.get(up.headers["location"])
        assert review.status_code == 200
        assert "修改（1）" in review.text and "石家庄生物医药产业集群" in review.text
        assert "以石家庄高新区为核心承载区" in review.text  # the sentence it rests on
        assert 'value="shijiazhuang_biomedicine_base" aria-label' in review.text
        page_token = CSRF_INPUT.search(review.text).group(1)
        apply_url = up.headers["location"] + "/apply"
        form = {"csrf_token": page_token, "accept": "shijiazhuang_biomedicine_base"}
        untitled = c.post(apply_url, data=form)
        assert untitled.status_code == 422 and "文件标题" in untitled.text
        assert not (data / "kb" / "policies").exists()
        done = c.post(apply_url, data={**form, "title": TITLE, "issuer": "河北省人民政府办公厅"})
        assert done.status_code == 200 and "已应用" in done.text
        assert (data / "kb" / "policies").is_dir()
        again = c.post(apply_url, data={**form, "title": TITLE})
        assert again.status_code == 409
        assert c.get("/v1/policies").json()["count"] == 2


from api.auth import create_token  # noqa: E402
from store.db import get_sessionmaker  # noqa: E402
from tests.conftest import CSRF_INPUT, post_form  # noqa: E402


def test_redraft_of_the_seed_keeps_its_document_and_a_bad_record_changes_nothing(server):
    """Drafting the seed again: its records are unchanged or removed under the seed's own id; an
    accepted record that cannot be placed is refused by name, and a valid one is served at once."""
    srv, data, _url = server
    auth = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    seed = (DATA_DIR / "reference" / "hebei-industrial-upgrading-guidance.txt").read_text()
    with httpx.Client(base_url=srv.url, timeout=120) as c:
        review = c.post("/v1/policies/drafts", json={"text": seed}, headers=auth).json()
        assert review["document"]["document_id"] == "hebei_2017_industrial_upgrading"
        by_action: dict[str, list[dict]] = {}
        for it in review["items"]:
            by_action.setdefault(it["action"], []).append(it)
        same = by_action["unchanged"] + by_action["changed"]
        assert len(same) > 100 and not any(it["suggest"] for it in same)
        assert any("京南" in (it["name"] or "") for it in by_action["removed"])
        added = {it["name"]: it for it in by_action["added"] if it["kind"] == "parks"}
        homeless = added["光启新型转子发动机基地"]  # the text names no city for it
        assert "缺少所在城市" in homeless["problems"][0] and not homeless["suggest"]
        fine = added["沙河工艺玻璃产业集群"]
        url = f"/v1/policies/drafts/{review['draft_id']}/apply"
        before = (data / "kb" / "documents.yaml").read_text()
        bad = c.post(url, json={"accept": [homeless["id"], fine["id"]]}, headers=auth)
        assert bad.status_code == 422 and homeless["id"] in bad.json()["detail"]
        assert (data / "kb" / "documents.yaml").read_text() == before
        assert c.get(f"/v1/parks/{fine['id']}").status_code == 404
        ok = c.post(url, json={"accept": [fine["id"]]}, headers=auth)
        assert ok.status_code == 200, ok.text
        park = c.get(f"/v1/parks/{fine['id']}").json()
        assert park["name"] == "沙河工艺玻璃产业集群" and park["city"] == "邢台"
        assert park["source"] == fine["source"]
        assert c.get("/v1/policies").json()["count"] == 1  # still one document
        m = c.post(
            "/v1/match", json={"description": "工艺玻璃制品的设计与生产", "top_k": 30}
        ).json()
        assert fine["id"] in [p["park_id"] for p in m["parks"]]

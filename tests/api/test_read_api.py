"""The read API of the contract: zones, chains, parks and health, over real HTTP."""

from __future__ import annotations

import httpx

from features.kb import KnowledgeBase


def test_get_zones_returns_core_and_four_zones(http: httpx.Client) -> None:
    body = http.get("/v1/zones").json()
    assert body["count"] == 5
    by_id = {z["zone_id"]: z for z in body["data"]}
    assert by_id["xiongan"]["cities"] == ["雄安新区"]
    assert (
        "严格限制承接和布局一般性制造业"
        in by_id["xiongan"]["positioning"] + by_id["xiongan"]["source"]
    )
    assert all(z["source"] for z in body["data"])


def test_get_chains_returns_sixteen_named_as_policy(http: httpx.Client) -> None:
    body = http.get("/v1/chains").json()
    assert body["count"] == 16
    names = [c["name"] for c in body["data"]]
    assert {"高端装备产业", "钢铁工业", "现代物流"} <= set(names)
    equipment = next(c for c in body["data"] if c["name"] == "高端装备产业")
    assert equipment["group"] == "strategic_emerging"
    assert equipment["segments"][0] == {**equipment["segments"][0], "name": "智能装备"}


def test_get_parks_lists_named_and_catalogue_parks(http: httpx.Client, kb: KnowledgeBase) -> None:
    body = http.get("/v1/parks", params={"limit": 1000}).json()
    assert body["count"] == len(kb.parks) == len(body["data"])
    names = {p["name"] for p in body["data"]}
    assert any("清河羊绒" in n for n in names) and any("白沟" in n for n in names)
    assert "石家庄经济技术开发区" in names or any(
        p["devzone_code"] == "G131055" for p in body["data"]
    )


def test_get_parks_count_ignores_limit_and_filters_work(http: httpx.Client) -> None:
    page = http.get("/v1/parks", params={"city": "邢台", "limit": 2}).json()
    assert len(page["data"]) == 2 and page["count"] > 2
    assert all(p["city"] == "邢台" for p in page["data"])
    steel = http.get("/v1/parks", params={"chain_id": "steel", "limit": 1000}).json()
    assert steel["count"] > 0
    assert all(any(c["chain_id"] == "steel" for c in p["chains"]) for p in steel["data"])
    zone = http.get("/v1/parks", params={"zone_id": "zhangcheng", "limit": 1000}).json()
    assert {p["city"] for p in zone["data"]} <= {"张家口", "承德"}
    q = http.get("/v1/parks", params={"q": "羊绒"}).json()
    assert q["count"] >= 1


def test_get_park_by_id_and_unknown_id(http: httpx.Client) -> None:
    first = http.get("/v1/parks", params={"limit": 1}).json()["data"][0]
    one = http.get(f"/v1/parks/{first['park_id']}")
    assert one.status_code == 200 and one.json()["park_id"] == first["park_id"]
    missing = http.get("/v1/parks/no_such_park")
    assert missing.status_code == 404
    assert "no_such_park" in missing.json()["detail"] and missing.json()["code"] == "not_found"


def test_get_parks_rejects_bad_limit_in_chinese(http: httpx.Client) -> None:
    r = http.get("/v1/parks", params={"limit": 5000})
    assert r.status_code == 422
    assert "limit" in r.json()["detail"] and "1000" in r.json()["detail"]


def test_healthz_reports_model_and_database(http: httpx.Client) -> None:
    body = http.get("/healthz").json()
    assert body["status"] == "ok" and body["database"] == "ok"
    assert body["model_version"] and body["model_version"] != "content-only"

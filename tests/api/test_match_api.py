"""`POST /v1/match` per the contract: shape, reasons, policy, bad input and the audit."""

from __future__ import annotations

import httpx
from sqlalchemy import func, select

from api.settings import Settings
from store import orm
from store.audit import flush_all
from store.db import get_sessionmaker

ROBOT = {
    "description": "主要从事工业机器人减速器、伺服电机和控制器的研发与生产，产品用于汽车焊接生产线",
    "name": "某某智能装备有限公司",
    "industry_code": "C3491",
    "products": ["RV减速器", "伺服电机"],
    "employees": 320,
    "annual_revenue_wan": 45000,
    "investment_wan": 30000,
    "rd_intensity": 0.06,
    "energy_tce": 1800,
    "land_mu": 80,
    "origin": "北京",
    "top_k": 5,
}


def _audits(settings: Settings) -> int:
    assert flush_all()  # the audit is written by its own thread, after the answer
    with get_sessionmaker(settings.database_url)() as s:
        return int(s.scalar(select(func.count()).select_from(orm.MatchRequest)) or 0)


def test_match_answers_per_contract(http: httpx.Client, trained_settings: Settings) -> None:
    before = _audits(trained_settings)
    r = http.post("/v1/match", json=ROBOT)
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) >= {
        "request_id",
        "model_version",
        "chains",
        "zones",
        "parks",
        "warnings",
        "excluded",
    }
    assert len(body["parks"]) == 5
    assert body["chains"][0]["name"] == "高端装备产业"
    assert body["chains"][0]["segment"]["name"] == "智能装备"
    scores = [p["score"] for p in body["parks"]]
    assert scores == sorted(scores, reverse=True)
    for p in body["parks"]:
        # the registry term is 0 here: this model was trained without a registry
        assert p["score_breakdown"] == {**p["score_breakdown"], "registry": 0.0}
        assert set(p["score_breakdown"]) == {"content", "collaborative", "policy", "registry"}
        assert abs(sum(p["score_breakdown"].values()) - p["score"]) < 1e-3
        assert p["reasons"] and all(
            r["kind"] in {"chain", "industry", "cluster", "zone", "policy", "similar", "registry"}
            for r in p["reasons"]
        )
        assert any(r["kind"] == "chain" and r["source"] for r in p["reasons"])
        assert p["city"] and not p["city"].endswith("市")
    assert [z["score"] for z in body["zones"]] == sorted(
        (z["score"] for z in body["zones"]), reverse=True
    )
    assert _audits(trained_settings) == before + 1


def test_match_steel_mill_excludes_xiongan_and_warns(http: httpx.Client) -> None:
    body = http.post(
        "/v1/match",
        json={
            "description": "年产300万吨粗钢的钢铁联合企业，拟新建高炉和转炉，生产热轧板卷",
            "energy_tce": 800000,
        },
    ).json()
    assert all(p["zone_id"] != "xiongan" for p in body["parks"])
    assert any(e["park_id"] for e in body["excluded"])
    codes = {w["code"] for w in body["warnings"]}
    assert "overcapacity_swap" in codes
    assert all(w["source"] for w in body["warnings"] if w["code"] == "overcapacity_swap")


def test_match_rejects_bad_input_in_chinese_and_stores_nothing(
    http: httpx.Client, trained_settings: Settings
) -> None:
    before = _audits(trained_settings)
    cases = [
        ({"description": "短"}, "description"),
        ({}, "description"),
        ({"description": "生产羊绒制品和纱线", "employees": -5}, "employees"),
        ({"description": "生产羊绒制品和纱线", "rd_intensity": 5}, "rd_intensity"),
        ({"description": "生产羊绒制品和纱线", "origin": "火星"}, "origin"),
        ({"description": "生产羊绒制品和纱线", "industry_code": "C9999"}, "industry_code"),
        ({"description": "生产羊绒制品和纱线", "industry_code": "abc"}, "industry_code"),
        ({"description": "生产羊绒制品和纱线", "employees": "很多"}, "employees"),
        ({"description": "生产羊绒制品和纱线", "top_k": 0}, "top_k"),
        ({"description": "x" * 4001}, "description"),
    ]
    for payload, field in cases:
        r = http.post("/v1/match", json=payload)
        assert r.status_code == 422, (payload, r.text)
        detail = r.json()["detail"]
        assert field in detail, (field, detail)
        assert any("\u4e00" <= ch <= "\u9fff" for ch in detail)
    malformed = http.post(
        "/v1/match", content=b'{"description": ', headers={"content-type": "application/json"}
    )
    assert malformed.status_code == 422 and "JSON" in malformed.json()["detail"]
    assert _audits(trained_settings) == before


def test_match_body_over_limit_gets_413(http: httpx.Client) -> None:
    r = http.post(
        "/v1/match",
        content=b"{" + b" " * 1_000_000 + b"}",
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 413
    assert "请求体过大" in r.json()["detail"]


def test_openapi_documents_every_match_field_in_chinese(http: httpx.Client) -> None:
    from openapi_spec_validator import validate

    spec = http.get("/openapi.json").json()
    validate(spec)
    props = spec["components"]["schemas"]["MatchRequest"]["properties"]
    for name in (
        "description",
        "name",
        "industry_code",
        "products",
        "employees",
        "annual_revenue_wan",
        "investment_wan",
        "rd_intensity",
        "energy_tce",
        "land_mu",
        "origin",
        "top_k",
    ):
        desc = props[name].get("description", "")
        assert any("\u4e00" <= ch <= "\u9fff" for ch in desc), name

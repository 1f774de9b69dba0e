"""Leads, chain gaps and lead exports over real HTTP with a bureau token, on the 3,000-enterprise
synthetic history: shape, order, filters, pagination, equality with /v1/match, and exports."""

from __future__ import annotations

import csv
import io
import uuid
from typing import Any

import httpx
import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from api.settings import Settings
from features.history import POSITIVE_KINDS
from features.kb import KnowledgeBase
from store.db import get_sessionmaker
from store.orm import Enterprise, Interaction

PARK = "tangshan_robotics"
CHAIN_PARK = "cangzhou_canal_laser"
HEADERS = [
    "企业编号",
    "企业名称",
    "来源地",
    "员工人数",
    "综合得分",
    "内容契合",
    "相似企业",
    "政策调整",
    "对应环节",
    "是否补链",
    "推荐理由",
    "导入编号",
]


def _enterprise(settings: Settings, enterprise_id: int) -> Enterprise:
    with get_sessionmaker(settings.database_url)() as s:
        e = s.get(Enterprise, enterprise_id)
        assert e is not None
        s.expunge(e)
        return e


def _placed(settings: Settings, park_id: str) -> set[int]:
    with get_sessionmaker(settings.database_url)() as s:
        rows = s.execute(
            select(Enterprise)
            .join(Interaction, Interaction.enterprise_id == Enterprise.id)
            .where(Interaction.park_id == park_id, Interaction.kind.in_(POSITIVE_KINDS))
        ).scalars()
        return {e.id for e in rows}


def _match_payload(e: Enterprise) -> dict[str, Any]:
    payload = {
        "description": e.description,
        "name": e.name,
        "industry_code": e.industry_code,
        "products": list(e.products or []),
        "employees": e.employees,
        "annual_revenue_wan": e.annual_revenue_wan,
        "investment_wan": e.investment_wan,
        "rd_intensity": e.rd_intensity,
        "energy_tce": e.energy_tce,
        "land_mu": e.land_mu,
        "origin": e.origin,
        "top_k": 50,
    }
    return {k: v for k, v in payload.items() if v is not None}


def test_leads_answer_in_shape_and_sorted(bureau: httpx.Client) -> None:
    # How long this takes is measured by `make bench` (benchmarks/bench.py, leads over HTTP).
    r = bureau.get(f"/v1/parks/{PARK}/leads")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["park_id"] == PARK and body["park_name"] == "唐山机器人基地"
    assert body["model_version"] and body["count"] > 2000
    data = body["data"]
    assert len(data) == 20
    scores = [d["score"] for d in data]
    assert scores == sorted(scores, reverse=True)
    first = data[0]
    assert set(first) >= {
        "enterprise_id",
        "name",
        "description",
        "origin",
        "employees",
        "score",
        "score_breakdown",
        "segment",
        "fills_gap",
        "reasons",
    }
    assert len(first["description"]) <= 120
    assert set(first["score_breakdown"]) == {"content", "collaborative", "policy", "registry"}
    assert first["segment"]["name"] == "智能装备"
    chain = first["reasons"][0]
    assert chain["kind"] == "chain" and "园区「高端装备产业·智能装备」环节" in chain["text"]

    other = bureau.get(f"/v1/parks/{CHAIN_PARK}/leads", params={"limit": 200})
    assert other.status_code == 200 and len(other.json()["data"]) == 200


def test_leads_leave_out_enterprises_placed_in_the_park(
    bureau: httpx.Client, trained_settings: Settings
) -> None:
    placed = _placed(trained_settings, PARK)
    assert placed
    seen: list[int] = []
    offset, count = 0, None
    while count is None or offset < count:
        body = bureau.get(f"/v1/parks/{PARK}/leads", params={"limit": 200, "offset": offset}).json()
        count = body["count"]
        seen += [d["enterprise_id"] for d in body["data"]]
        offset += 200
    assert len(seen) == count == len(set(seen))
    assert not placed & set(seen)


def test_lead_score_equals_the_park_score_of_match(
    bureau: httpx.Client, http: httpx.Client, trained_settings: Settings
) -> None:
    leads = bureau.get(f"/v1/parks/{CHAIN_PARK}/leads", params={"limit": 10}).json()["data"]
    compared = 0
    for lead in leads:
        e = _enterprise(trained_settings, lead["enterprise_id"])
        answer = http.post("/v1/match", json=_match_payload(e)).json()
        park = next((p for p in answer["parks"] if p["park_id"] == CHAIN_PARK), None)
        if park is None:  # not in this enterprise's top 50
            continue
        assert lead["score"] == park["score"]
        assert lead["score_breakdown"] == park["score_breakdown"]
        compared += 1
    assert compared >= 3


def test_a_lead_is_recorded_by_the_id_it_shows_and_then_leaves_the_leads(
    bureau: httpx.Client,
) -> None:
    park = "xianghe_robotics"
    first = bureau.get(f"/v1/parks/{park}/leads", params={"limit": 1}).json()
    lead = first["data"][0]
    r = bureau.post(
        "/v1/interactions",
        json={"enterprise_id": lead["enterprise_id"], "park_id": park, "kind": "signed"},
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )
    assert r.status_code == 201, r.text
    assert (
        bureau.get(f"/v1/enterprises/{lead['enterprise_id']}").json()["external_id"]
        == (lead["external_id"])
    )
    after = bureau.get(f"/v1/parks/{park}/leads", params={"limit": 200}).json()
    assert after["count"] == first["count"] - 1
    assert lead["enterprise_id"] not in [d["enterprise_id"] for d in after["data"]]
    gaps = bureau.get(f"/v1/parks/{park}/chain-gaps").json()
    candidates = [
        c["enterprise_id"] for ch in gaps["chains"] for s in ch["segments"] for c in s["candidates"]
    ]
    assert lead["enterprise_id"] not in candidates


def test_leads_filter_and_paginate(bureau: httpx.Client) -> None:
    url = f"/v1/parks/{CHAIN_PARK}/leads"
    everyone = bureau.get(url, params={"limit": 5}).json()
    beijing = bureau.get(url, params={"origin": "北京", "limit": 200}).json()
    assert 0 < beijing["count"] < everyone["count"]
    assert all(d["origin"] == "北京" for d in beijing["data"])
    large = bureau.get(url, params={"scale": "large", "limit": 200}).json()
    assert all(300 <= d["employees"] < 1000 for d in large["data"])
    seg = "high_end_equipment.intelligent_equipment"
    robots = bureau.get(url, params={"segment_id": seg, "limit": 200}).json()
    assert robots["count"] > 0
    assert all(d["segment"]["segment_id"] == seg for d in robots["data"])
    chain = bureau.get(url, params={"chain_id": "high_end_equipment", "limit": 1}).json()
    assert robots["count"] <= chain["count"] <= everyone["count"]

    page1 = bureau.get(url, params={"limit": 7, "offset": 0}).json()
    page2 = bureau.get(url, params={"limit": 7, "offset": 7}).json()
    both = bureau.get(url, params={"limit": 14}).json()
    assert page1["count"] == page2["count"] == both["count"] == everyone["count"]
    ids = [d["enterprise_id"] for d in page1["data"] + page2["data"]]
    assert ids == [d["enterprise_id"] for d in both["data"]]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"scale": "huge"}, "scale"),
        ({"origin": "上海"}, "origin"),
        ({"chain_id": "nope"}, "chain_id"),
        ({"chain_id": "steel"}, "chain_id"),  # a chain the park does not serve
        ({"segment_id": "steel.special_steel"}, "segment_id"),
        ({"limit": 500}, "limit"),
        ({"offset": -1}, "offset"),
    ],
)
def test_leads_refuse_bad_filters_naming_the_field(
    bureau: httpx.Client, params: dict[str, Any], field: str
) -> None:
    r = bureau.get(f"/v1/parks/{PARK}/leads", params=params)
    assert r.status_code == 422
    assert r.json()["detail"].startswith(field)


def test_unknown_park_is_404_in_chinese(bureau: httpx.Client) -> None:
    for path in ("leads", "chain-gaps", "leads.csv", "leads.xlsx"):
        r = bureau.get(f"/v1/parks/nowhere/{path}")
        assert r.status_code == 404
        assert "园区“nowhere”不存在" in r.json()["detail"]


def test_leads_need_a_token(http: httpx.Client) -> None:
    for path in ("leads", "chain-gaps", "leads.csv", "leads.xlsx"):
        assert http.get(f"/v1/parks/{PARK}/{path}").status_code == 401


def test_chain_gaps_list_served_segments_with_statuses(
    bureau: httpx.Client, kb: KnowledgeBase
) -> None:
    r = bureau.get(f"/v1/parks/{CHAIN_PARK}/chain-gaps")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["park_id"] == CHAIN_PARK and body["thin_rule"]
    assert [c["chain_id"] for c in body["chains"]] == ["high_end_equipment"]
    segments = body["chains"][0]["segments"]
    policy_order = [s.segment_id for s in kb.chain_by_id["high_end_equipment"].segments]
    assert [s["segment_id"] for s in segments] == policy_order  # the whole chain, in order
    placed = [s["placed"] for s in segments]
    assert sum(placed) + body["placed_unassigned"] == body["placed_total"]
    median = sorted(placed)[len(placed) // 2]
    for s in segments:
        expected = (
            "empty" if s["placed"] == 0 else "thin" if s["placed"] < max(3, 0.25 * median) else "ok"
        )
        assert s["status"] == expected
        # every count says where it comes from; this database has no registry import
        assert s["counts"] == [
            {"count": s["placed"], "source": "招商部门记录的签约/落地（互动记录）"}
        ]
        assert len(s["candidates"]) <= 5
        for c in s["candidates"]:
            assert set(c) >= {"enterprise_id", "name", "score", "segment_fit"}
    assert any(s["candidates"] for s in segments)


def test_chain_gaps_of_a_multi_chain_park_follow_the_policy_order(
    bureau: httpx.Client, kb: KnowledgeBase
) -> None:
    park = kb.park_by_id["shahe_glass"]
    body = bureau.get(f"/v1/parks/{park.park_id}/chain-gaps").json()
    served = {r.chain_id for r in park.chains}
    assert [c["chain_id"] for c in body["chains"]] == [
        c.chain_id for c in kb.chains if c.chain_id in served
    ]
    green = next(c for c in body["chains"] if c["chain_id"] == "energy_saving_env")
    assert [s["segment_id"] for s in green["segments"]] == [
        "energy_saving_env.green_building_materials"
    ]  # the park names one segment of this chain


def test_leads_export_as_csv_and_xlsx_with_chinese_headers(bureau: httpx.Client) -> None:
    params: dict[str, str | int] = {"origin": "北京", "limit": 30}
    api = bureau.get(f"/v1/parks/{CHAIN_PARK}/leads", params=params).json()
    n = min(30, api["count"])

    r = bureau.get(f"/v1/parks/{CHAIN_PARK}/leads.csv", params=params)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    assert r.content.startswith(b"\xef\xbb\xbf")  # BOM, for Excel
    disposition = r.headers["content-disposition"]
    assert disposition.startswith("attachment;") and f"leads-{CHAIN_PARK}.csv" in disposition
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert rows[0] == HEADERS
    assert len(rows) == n + 1
    assert [int(row[0]) for row in rows[1:]] == [d["enterprise_id"] for d in api["data"][:n]]
    assert [row[11] for row in rows[1:]] == [d["external_id"] or "" for d in api["data"][:n]]
    assert all(row[2] == "北京" and row[9] in ("是", "否") for row in rows[1:])
    assert float(rows[1][4]) == api["data"][0]["score"]

    x = bureau.get(f"/v1/parks/{CHAIN_PARK}/leads.xlsx", params=params)
    assert x.status_code == 200
    assert f"leads-{CHAIN_PARK}.xlsx" in x.headers["content-disposition"]
    ws = load_workbook(io.BytesIO(x.content)).active
    values = list(ws.iter_rows(values_only=True))
    # A title row naming the park and the day, then the frozen headers.
    park_name = bureau.get(f"/v1/parks/{CHAIN_PARK}").json()["name"]
    assert park_name in values[0][0] and "导出日期" in values[0][0]
    assert list(values[1]) == HEADERS and ws.freeze_panes == "A3"
    assert len(values) == n + 2
    assert values[2][0] == api["data"][0]["enterprise_id"]
    assert values[2][4] == api["data"][0]["score"]
    assert values[2][10]  # the reasons


def test_leads_export_refuses_an_unknown_format(bureau: httpx.Client) -> None:
    r = bureau.get(f"/v1/parks/{CHAIN_PARK}/leads.pdf")
    assert r.status_code == 422 and "csv" in r.json()["detail"]

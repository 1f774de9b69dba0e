"""Advice over real HTTP: only on request in the API, always on the self-check result page."""

from __future__ import annotations

import httpx

from tests.conftest import post_form

FIRM = {
    "description": "主要从事工业机器人减速器、伺服电机和智能焊接装备的研发与生产",
    "rd_intensity": 0.005,
    "employees": 320,
    "origin": "北京",
    "top_k": 8,
}


def test_match_gives_advice_only_when_asked(http: httpx.Client) -> None:
    plain = http.post("/v1/match", json=FIRM).json()
    assert plain["advice"] is None
    r = http.post("/v1/match", params={"advice": "true"}, json=FIRM)
    assert r.status_code == 200
    body = r.json()
    assert [p["park_id"] for p in body["parks"]] == [p["park_id"] for p in plain["parks"]]
    advice = body["advice"]
    assert 1 <= len(advice) <= 3
    rd = next(a for a in advice if a["field"] == "rd_intensity")
    assert rd["kind"] == "gain" and "1%" in rd["text"] and "研发" in rd["source"]
    top = {p["park_id"]: p["score"] for p in plain["parks"]}
    for p in rd["parks"]:  # "before" is the score this very answer gave
        if p["park_id"] in top:
            assert p["score_before"] == top[p["park_id"]]


def test_match_advice_flag_must_be_a_boolean(http: httpx.Client) -> None:
    r = http.post("/v1/match", params={"advice": "maybe"}, json=FIRM)
    assert r.status_code == 422 and "advice" in r.json()["detail"]


def test_selfcheck_result_page_shows_advice_with_its_sentence(http: httpx.Client) -> None:
    form = {k: str(v) for k, v in FIRM.items()}
    form["rd_intensity"] = "0.5"  # the form takes a percent
    r = post_form(http, "/", form)
    assert r.status_code == 200
    html = r.text
    assert 'id="h-advice"' in html and "研发投入强度由0.5%提高到1%" in html
    section = html[html.index('id="h-advice"') : html.index('id="h-chains"')]
    assert "可争取加分" in section and '<blockquote class="policy">' in section
    assert "第 " in section  # the ranks of the parks it moves

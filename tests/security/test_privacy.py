"""The public side (self-check form and API, browse pages, health, the OpenAPI document) never
shows a stored enterprise, even when asked about the very same business."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy import select

from api.settings import Settings
from features.kb import KnowledgeBase
from store.db import get_sessionmaker
from store.orm import Enterprise
from tests.conftest import post_form

DESCRIPTION = "主要从事工业机器人减速器、伺服电机的研发与生产，产品用于汽车焊接生产线"


def test_public_responses_never_show_a_stored_enterprise(
    http: httpx.Client, bureau: httpx.Client, trained_settings: Settings, kb: KnowledgeBase
) -> None:
    marker = f"保密企业{uuid.uuid4().hex[:8]}"
    record = {"description": DESCRIPTION, "name": marker, "external_id": f"SECRET-{marker}"}
    assert bureau.post("/v1/enterprises", json=record).status_code == 201
    form = {"description": DESCRIPTION, "name": "", "consent": "yes", "top_k": "50"}
    assert post_form(http, "/", {**form, "name": f"{marker}自检"}).status_code == 200
    with get_sessionmaker(trained_settings.database_url)() as s:
        stored = [n for n in s.scalars(select(Enterprise.name).limit(200)) if n]
    secrets = {marker, f"{marker}自检", f"SECRET-{marker}", *stored}

    park = kb.parks[0].park_id
    public = [
        http.get("/"),
        http.get("/browse"),
        http.get(f"/browse/parks/{park}"),
        http.get("/browse/chains/high_end_equipment"),
        http.get("/healthz"),
        http.get("/v1/zones"),
        http.get("/v1/chains"),
        http.get("/v1/parks", params={"limit": 1000}),
        http.get(f"/v1/parks/{park}"),
        http.get("/openapi.json"),
        http.get("/docs"),
        http.post("/v1/match", json={"description": DESCRIPTION, "top_k": 50}),
        post_form(http, "/", form),
    ]
    for r in public:
        assert r.status_code == 200, r.request.url
        leaked = [s for s in secrets if s in r.text]
        assert not leaked, f"{r.request.method} {r.request.url} shows {leaked[:3]}"
    # Match answers name parks and policy, never the enterprises behind the "similar" reasons.
    answer = public[-2].json()
    assert all(
        r["kind"] != "similar" or marker not in r["text"]
        for p in answer["parks"]
        for r in p["reasons"]
    )


def test_stored_enterprises_need_a_bureau_token(http: httpx.Client) -> None:
    for path in (
        "/v1/enterprises",
        "/v1/enterprises/1",
        "/v1/interactions",
        "/v1/parks/cangzhou_canal_laser/leads",
        "/v1/parks/cangzhou_canal_laser/leads.csv",
        "/v1/parks/cangzhou_canal_laser/chain-gaps",
    ):
        r = http.get(path)
        assert r.status_code == 401, path
        assert "令牌" in r.json()["detail"]
    page = http.get("/bureau/report", params={"enterprise_id": "db1"}, follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"].startswith("/bureau/login")

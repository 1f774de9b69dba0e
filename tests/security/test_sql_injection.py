"""SQL injection strings through every text field of the API and the forms: no 5xx, nothing run,
every table as it was (bar the rows the valid requests were meant to add), stored text verbatim."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from urllib.parse import quote

import httpx
import pytest
from sqlalchemy import func, inspect, select, table, text

from api.settings import Settings
from features.kb import KnowledgeBase
from store.db import get_engine, get_sessionmaker
from store.orm import Enterprise
from tests.conftest import ADMIN_TOKEN, CSRF_INPUT, LiveServer, provision

INJECTIONS = [
    "'; DROP TABLE parks; --",
    "1 OR 1=1",
    '" OR ""="',
    "%' --",
    "') OR ('a'='a",
    "1; UPDATE enterprises SET name='pwned' --",
    "' UNION SELECT token_hash FROM api_tokens --",
    "\\'; DELETE FROM interactions; --",
    "null\x00byte",
]
PARK = "cangzhou_canal_laser"


def row_counts(url: str) -> dict[str, int]:
    engine = get_engine(url)
    with engine.connect() as conn:
        return {
            name: conn.execute(select(func.count()).select_from(table(name))).scalar_one()
            for name in inspect(engine).get_table_names()
        }


@pytest.fixture
def server(
    db_url: str, trained_settings: Settings, kb: KnowledgeBase, tmp_path
) -> Iterator[tuple[LiveServer, str]]:  # type: ignore[no-untyped-def]
    provision(db_url, trained_settings, kb, enterprises=5)
    settings = Settings(
        database_url=db_url, var_dir=tmp_path, admin_token=ADMIN_TOKEN, rate_limit_per_minute=0
    )
    with LiveServer(settings) as live:
        yield live, db_url


def test_injection_strings_change_nothing(server: tuple[LiveServer, str]) -> None:
    live, url = server
    before = row_counts(url)
    assert before["parks"] > 100 and before["enterprises"] == 5
    created = {"enterprises": 0, "interactions": 0}
    stored_names: list[str] = []
    responses: list[httpx.Response] = []
    auth = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    with httpx.Client(base_url=live.url, timeout=60, headers=auth) as c:
        eid = c.get("/v1/enterprises", params={"limit": 1}).json()["data"][0]["id"]
        for s in INJECTIONS:
            desc = f"生产工业机器人减速器 {s}"
            responses += [
                c.post(
                    "/v1/match",
                    json={"description": desc, "name": s, "products": [s, "伺服电机"], "top_k": 3},
                ),
                c.post("/v1/match", json={"description": desc, "industry_code": s}),
                c.get("/v1/parks", params={"q": s}),
                c.get("/v1/parks", params={"city": s, "zone_id": s, "chain_id": s}),
                c.get(f"/v1/parks/{quote(s, safe='')}"),
                c.get(f"/v1/chains/{quote(s, safe='')}"),
                c.get("/v1/enterprises", params={"q": s}),
                c.get("/v1/interactions", params={"park_id": s}),
                c.get(
                    f"/v1/parks/{PARK}/leads",
                    params={"chain_id": s, "segment_id": s, "origin": s, "scale": s},
                ),
                c.get(f"/v1/parks/{quote(s, safe='')}/chain-gaps"),
                c.post(f"/v1/models/{quote(s, safe='')}/activate"),
                c.post(
                    "/v1/interactions",
                    json={"enterprise_id": eid, "park_id": s, "kind": "viewed"},
                    headers={"Idempotency-Key": f"sqli-{uuid.uuid4()}"},
                ),
                c.get("/v1/models", headers={"Authorization": f"Bearer {s.replace(chr(0), '')}"}),
            ]
            made = c.post(
                "/v1/enterprises",
                json={"description": desc, "name": s, "external_id": f"X{len(stored_names)}{s}"},
            )
            responses.append(made)
            if made.status_code == 201:
                created["enterprises"] += 1
                stored_names.append(made.json()["name"])
            note = c.post(
                "/v1/interactions",
                json={"enterprise_id": eid, "park_id": PARK, "kind": "viewed", "note": s},
                headers={"Idempotency-Key": f"sqli-{uuid.uuid4()}"},
            )
            responses.append(note)
            created["interactions"] += note.status_code == 201
        with httpx.Client(base_url=live.url, timeout=60) as page:
            for s in INJECTIONS:
                token = CSRF_INPUT.search(page.get("/").text)
                assert token
                form = {"description": f"生产工业机器人减速器 {s}", "name": s, "products": s}
                responses.append(page.post("/", data={**form, "csrf_token": token.group(1)}))
                login = CSRF_INPUT.search(page.get("/bureau/login").text)
                assert login
                responses.append(
                    page.post("/bureau/login", data={"token": s, "csrf_token": login.group(1)})
                )
            responses.append(
                page.post(
                    "/bureau/login", data={"token": ADMIN_TOKEN, "csrf_token": login.group(1)}
                )
            )
            for s in INJECTIONS:
                responses += [
                    page.get("/bureau", params={"q": s}),
                    page.get("/bureau/report", params={"enterprise_id": s}),
                    page.get(
                        "/bureau/report", params={"description": f"生产减速器 {s}", "name": s}
                    ),
                    page.get(f"/bureau/parks/{PARK}/leads", params={"origin": s, "scale": s}),
                    page.get(f"/browse/parks/{quote(s, safe='')}"),
                ]

    errors = [
        f"{r.request.method} {r.request.url} → {r.status_code}"
        for r in responses
        if r.status_code >= 500
    ]
    assert not errors, "\n".join(errors)

    after = row_counts(url)
    assert created["enterprises"] >= len(INJECTIONS) - 1 and created["interactions"] >= 1
    grown = {"enterprises", "interactions", "match_requests", "web_sessions"}
    assert after["enterprises"] == before["enterprises"] + created["enterprises"]
    assert after["interactions"] == before["interactions"] + created["interactions"]
    assert {k: v for k, v in after.items() if k not in grown} == {
        k: v for k, v in before.items() if k not in grown
    }
    # Stored verbatim (bound parameters), and nothing was rewritten by an injected UPDATE.
    with get_sessionmaker(url)() as s:
        names = set(s.scalars(select(Enterprise.name)).all())
        assert "pwned" not in names
        assert set(stored_names) <= names
        assert s.execute(text("SELECT count(*) FROM parks")).scalar_one() == before["parks"]
    with httpx.Client(base_url=live.url, timeout=30) as c:
        park = c.get(f"/v1/parks/{PARK}")
        assert park.status_code == 200 and park.json()["park_id"] == PARK
        # % and _ are literal text, not LIKE wildcards.
        assert c.get("/v1/parks", params={"q": "激光"}).json()["count"] > 0
        assert c.get("/v1/parks", params={"q": "激%光"}).json()["count"] == 0
        assert c.get("/v1/parks", params={"q": "激_"}).json()["count"] == 0

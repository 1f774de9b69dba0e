"""Bureaus as tenants (issue 10 finding 4): a token belongs to a bureau; interactions and records
carry it; idempotency keys are per bureau; a bureau reads only its own interactions, an admin all;
error messages say nothing about another bureau's records."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest

from api.auth import create_token
from api.settings import Settings
from features.kb import KnowledgeBase
from store.db import get_sessionmaker
from tests.conftest import LiveServer


def bureau_client(server: LiveServer, settings: Settings, bureau: str) -> httpx.Client:
    token = create_token(
        get_sessionmaker(settings.database_url), f"{bureau}干部", "bureau", bureau=bureau
    )
    return httpx.Client(
        base_url=server.url, timeout=60, headers={"Authorization": f"Bearer {token}"}
    )


@pytest.fixture
def two_bureaus(
    live_server: LiveServer, trained_settings: Settings
) -> Iterator[tuple[httpx.Client, httpx.Client]]:
    tag = uuid.uuid4().hex[:6]
    with (
        bureau_client(live_server, trained_settings, f"唐山招商局{tag}") as a,
        bureau_client(live_server, trained_settings, f"沧州招商局{tag}") as b,
    ):
        yield a, b


def new_enterprise(client: httpx.Client, external_id: str) -> int:
    r = client.post(
        "/v1/enterprises",
        json={"external_id": external_id, "description": "研发制造工业机器人和自动化焊接生产线"},
    )
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def test_two_bureaus_cannot_see_each_others_interactions(
    two_bureaus: tuple[httpx.Client, httpx.Client], admin: httpx.Client, kb: KnowledgeBase
) -> None:
    a, b = two_bureaus
    eid = new_enterprise(a, f"T-{uuid.uuid4().hex[:10]}")
    park = kb.parks[0].park_id
    secret = f"唐山内部备注{uuid.uuid4().hex[:6]}"
    key = f"shared-{uuid.uuid4()}"
    first = a.post(
        "/v1/interactions",
        json={"enterprise_id": eid, "park_id": park, "kind": "visited", "note": secret},
        headers={"Idempotency-Key": key},
    )
    assert first.status_code == 201, first.text
    # Bureau B reuses bureau A's key: a record of its own, not A's record and not a 409 about it.
    other = b.post(
        "/v1/interactions",
        json={"enterprise_id": eid, "park_id": park, "kind": "contacted", "note": "沧州记录"},
        headers={"Idempotency-Key": key},
    )
    assert other.status_code == 201, other.text
    assert other.json()["id"] != first.json()["id"] and secret not in other.text
    listed_b = b.get("/v1/interactions", params={"enterprise_id": eid, "limit": 500}).json()
    assert [r["note"] for r in listed_b["data"]] == ["沧州记录"] and listed_b["count"] == 1
    assert secret not in b.get("/v1/interactions", params={"limit": 500}).text
    listed_a = a.get("/v1/interactions", params={"enterprise_id": eid}).json()
    assert [r["note"] for r in listed_a["data"]] == [secret]
    # An admin reads all bureaus'.
    both = admin.get("/v1/interactions", params={"enterprise_id": eid}).json()
    assert {r["note"] for r in both["data"]} == {secret, "沧州记录"}


def test_conflict_message_names_only_the_callers_own_record(
    two_bureaus: tuple[httpx.Client, httpx.Client],
) -> None:
    a, b = two_bureaus
    ext = f"DUP-{uuid.uuid4().hex[:10]}"
    pk = new_enterprise(a, ext)
    r = b.post("/v1/enterprises", json={"external_id": ext, "description": "生产羊绒纱线和服装"})
    assert r.status_code == 409
    assert str(pk) not in r.json()["detail"] and "已存在" in r.json()["detail"]
    own = a.post("/v1/enterprises", json={"external_id": ext, "description": "生产羊绒纱线和服装"})
    assert own.status_code == 409 and f"id {pk}" in own.json()["detail"]


def test_a_bureau_deletes_only_its_own_records(
    two_bureaus: tuple[httpx.Client, httpx.Client], admin: httpx.Client, kb: KnowledgeBase
) -> None:
    a, b = two_bureaus
    pk = new_enterprise(a, f"DEL-{uuid.uuid4().hex[:10]}")
    note = a.post(
        "/v1/interactions",
        json={"enterprise_id": pk, "park_id": kb.parks[0].park_id, "kind": "viewed"},
        headers={"Idempotency-Key": f"del-{uuid.uuid4()}"},
    )
    assert note.status_code == 201
    refused = b.delete(f"/v1/enterprises/{pk}")
    assert refused.status_code == 404 and "不属于本部门" in refused.json()["detail"]
    assert a.get(f"/v1/enterprises/{pk}").status_code == 200
    assert a.delete(f"/v1/enterprises/{pk}").status_code == 204
    assert a.get(f"/v1/enterprises/{pk}").status_code == 404
    assert a.get("/v1/interactions", params={"enterprise_id": pk}).json()["count"] == 0
    assert admin.delete(f"/v1/enterprises/{pk}").status_code == 404

"""Lead progress over real HTTP: one row per idempotency key however often and however concurrently a
request is retried; 409 when a key is reused for something else; recorded rows feed training."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from api.settings import Settings
from features.kb import KnowledgeBase
from store.db import get_sessionmaker
from store.history import read_history
from tests.conftest import LiveServer


@pytest.fixture
def enterprise_id(bureau: httpx.Client) -> int:
    r = bureau.post(
        "/v1/enterprises",
        json={
            "external_id": f"INT-{uuid.uuid4().hex[:12]}",
            "name": "唐山测试机器人有限公司",
            "description": "研发制造工业机器人、减速器和自动化焊接生产线",
            "industry_code": "C3491",
        },
    )
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


@pytest.fixture
def park_id(kb: KnowledgeBase) -> str:
    return kb.parks[0].park_id


def key() -> str:
    return f"test-{uuid.uuid4()}"


def post(client: httpx.Client, body: dict[str, Any], k: str | None) -> httpx.Response:
    headers = {"Idempotency-Key": k} if k is not None else {}
    return client.post("/v1/interactions", json=body, headers=headers)


def listed(client: httpx.Client, **params: Any) -> dict[str, Any]:
    r = client.get("/v1/interactions", params=params)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def test_record_interaction_first_is_201_and_a_retry_is_200_with_the_same_row(
    bureau: httpx.Client, enterprise_id: int, park_id: str, kb: KnowledgeBase
) -> None:
    body = {
        "enterprise_id": enterprise_id,
        "park_id": park_id,
        "kind": "visited",
        "note": "实地考察",
    }
    k = key()
    first = post(bureau, body, k)
    assert first.status_code == 201, first.text
    row = first.json()
    assert row["kind"] == "visited" and row["kind_name"] == "已考察"
    assert row["park_name"] == kb.park_by_id[park_id].name
    assert row["idempotency_key"] == k and row["note"] == "实地考察"
    assert row["occurred_at"].endswith(("Z", "+00:00"))

    again = post(bureau, body, k)
    assert again.status_code == 200
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == row
    assert listed(bureau, enterprise_id=enterprise_id)["count"] == 1


def test_record_interaction_key_reused_for_another_body_is_409(
    bureau: httpx.Client, enterprise_id: int, park_id: str
) -> None:
    body = {"enterprise_id": enterprise_id, "park_id": park_id, "kind": "contacted"}
    k = key()
    assert post(bureau, body, k).status_code == 201
    r = post(bureau, {**body, "kind": "signed"}, k)
    assert r.status_code == 409
    err = r.json()
    assert err["code"] == "idempotency_key_reused"
    assert k in err["detail"] and "kind" in err["detail"] and "换一个新键" in err["detail"]
    data = listed(bureau, enterprise_id=enterprise_id)["data"]
    assert [d["kind"] for d in data] == ["contacted"]


def test_record_interaction_explicit_time_is_part_of_the_body(
    bureau: httpx.Client, enterprise_id: int, park_id: str
) -> None:
    body = {
        "enterprise_id": enterprise_id,
        "park_id": park_id,
        "kind": "signed",
        "occurred_at": "2024-05-20T10:00:00",  # no offset: Beijing time
    }
    k = key()
    first = post(bureau, body, k)
    assert first.status_code == 201
    assert first.json()["occurred_at"].replace("+00:00", "Z") == "2024-05-20T02:00:00Z"
    same_instant = {**body, "occurred_at": "2024-05-20T02:00:00Z"}
    assert post(bureau, same_instant, k).status_code == 200
    without_time = {k2: v for k2, v in body.items() if k2 != "occurred_at"}
    assert post(bureau, without_time, k).status_code == 200
    other_time = {**body, "occurred_at": "2024-05-21T10:00:00+08:00"}
    r = post(bureau, other_time, k)
    assert r.status_code == 409 and "occurred_at" in r.json()["detail"]


@pytest.mark.parametrize("k", [None, "", "short", "x" * 121, "有中文的幂等键值12345"])
def test_record_interaction_without_a_valid_key_is_422(
    bureau: httpx.Client, enterprise_id: int, park_id: str, k: str | None
) -> None:
    body = {"enterprise_id": enterprise_id, "park_id": park_id, "kind": "viewed"}
    # Bytes, because a header value in Chinese is not ASCII (the server sees it as Latin-1).
    headers = {b"Idempotency-Key": k.encode("utf-8")} if k is not None else {}
    r = bureau.post("/v1/interactions", json=body, headers=headers)
    assert r.status_code == 422
    assert r.json()["code"] == "idempotency_key_invalid"
    assert "Idempotency-Key" in r.json()["detail"] and "8–120" in r.json()["detail"]
    assert listed(bureau, enterprise_id=enterprise_id)["count"] == 0


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"enterprise_id": 987654321}, "enterprise_id（企业记录编号）987654321 不存在"),
        ({"park_id": "no_such_park"}, "park_id（园区编号）“no_such_park” 不是知识库中的园区"),
        ({"kind": "married"}, "kind 只能取以下值之一"),
        ({"note": "很" * 2001}, "note 最多 2000 个字"),
        ({"occurred_at": "2999-01-01T00:00:00Z"}, "occurred_at（发生时间）"),
        ({"enterprise_id": None}, "enterprise_id 应为数字"),
    ],
)
def test_record_interaction_bad_field_is_422_naming_it(
    bureau: httpx.Client, enterprise_id: int, park_id: str, change: dict[str, Any], expected: str
) -> None:
    body = {"enterprise_id": enterprise_id, "park_id": park_id, "kind": "visited", **change}
    r = post(bureau, body, key())
    assert r.status_code == 422, r.text
    assert expected in r.json()["detail"]
    assert listed(bureau, enterprise_id=enterprise_id)["count"] == 0


def test_record_interaction_concurrent_retries_make_exactly_one_row(
    live_server: LiveServer, bureau_token: str, enterprise_id: int, park_id: str
) -> None:
    body = {"enterprise_id": enterprise_id, "park_id": park_id, "kind": "settled", "note": "已落地"}
    k = key()
    n = 16
    start = threading.Barrier(n)
    headers = {"Authorization": f"Bearer {bureau_token}", "Idempotency-Key": k}

    def send(_: int) -> httpx.Response:
        # One connection per thread, so that the requests really are in flight together.
        with httpx.Client(base_url=live_server.url, timeout=60, headers=headers) as c:
            start.wait()
            return c.post("/v1/interactions", json=body)

    with ThreadPoolExecutor(max_workers=n) as pool:
        responses = list(pool.map(send, range(n)))

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * (n - 1) + [201], [r.text for r in responses if r.status_code >= 300]
    assert len({r.json()["id"] for r in responses}) == 1
    with httpx.Client(base_url=live_server.url, headers=headers) as c:
        r = c.get("/v1/interactions", params={"enterprise_id": enterprise_id})
    assert r.json()["count"] == 1


def test_list_interactions_filters_and_counts(
    bureau: httpx.Client, enterprise_id: int, kb: KnowledgeBase
) -> None:
    parks = [p.park_id for p in kb.parks[:3]]
    for i, (pid, kind) in enumerate(zip(parks, ["contacted", "visited", "visited"], strict=True)):
        body = {
            "enterprise_id": enterprise_id,
            "park_id": pid,
            "kind": kind,
            "occurred_at": f"2024-0{i + 1}-01T09:00:00+08:00",
        }
        assert post(bureau, body, key()).status_code == 201
    everything = listed(bureau, enterprise_id=enterprise_id)
    assert everything["count"] == 3
    assert [d["park_id"] for d in everything["data"]] == parks[::-1]  # latest first
    assert listed(bureau, enterprise_id=enterprise_id, kind="visited")["count"] == 2
    one_park = listed(bureau, enterprise_id=enterprise_id, park_id=parks[0])
    assert one_park["count"] == 1 and one_park["data"][0]["kind"] == "contacted"
    page = listed(bureau, enterprise_id=enterprise_id, limit=1, offset=2)
    assert page["count"] == 3 and [d["park_id"] for d in page["data"]] == [parks[0]]
    assert bureau.get("/v1/interactions", params={"limit": 501}).status_code == 422


def test_interaction_routes_need_a_token(http: httpx.Client) -> None:
    assert http.get("/v1/interactions").status_code == 401
    r = http.post("/v1/interactions", json={}, headers={"Idempotency-Key": key()})
    assert r.status_code == 401 and "令牌" in r.json()["detail"]


def test_recorded_interactions_are_read_for_training(
    bureau: httpx.Client, enterprise_id: int, park_id: str, trained_settings: Settings
) -> None:
    body = {"enterprise_id": enterprise_id, "park_id": park_id, "kind": "settled"}
    assert post(bureau, body, key()).status_code == 201
    ents, inter = read_history(get_sessionmaker(trained_settings.database_url))
    # Training keys enterprises by the same record id the API answers with.
    assert str(enterprise_id) in set(ents["enterprise_id"])
    mine = inter[inter["enterprise_id"] == str(enterprise_id)]
    assert list(mine["kind"]) == ["settled"] and list(mine["park_id"]) == [park_id]


def test_enterprise_id_of_the_record_and_its_report_posts_as_it_is(
    bureau: httpx.Client, enterprise_id: int, park_id: str
) -> None:
    """`enterprise_id` means the record id in the record, its printed report and its interactions:
    a value copied from one answer is accepted by POST /v1/interactions unchanged."""
    record = bureau.get(f"/v1/enterprises/{enterprise_id}").json()
    assert record["enterprise_id"] == record["id"] == enterprise_id
    listed_ids = [e["enterprise_id"] for e in bureau.get("/v1/enterprises").json()["data"]]
    assert enterprise_id in listed_ids
    body = {"enterprise_id": record["enterprise_id"], "park_id": park_id, "kind": "contacted"}
    r = post(bureau, body, key())
    assert r.status_code == 201, r.text
    assert r.json()["enterprise_id"] == enterprise_id
    report = bureau.get(f"/v1/enterprises/{enterprise_id}/match-report.csv")
    assert report.status_code == 200

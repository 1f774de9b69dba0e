"""The public self-check is rate-limited per client address (429, Retry-After, Chinese message);
health checks and bureau routes are not. A server of its own with a limit of 3 a minute; client
addresses come from X-Forwarded-For, which uvicorn trusts from loopback only (a local proxy)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest

from api.security import RateLimit
from api.settings import Settings
from tests.conftest import LiveServer, form_token

LIMIT = 3
ASK = {"description": "生产工业机器人减速器和伺服电机"}


@pytest.fixture(scope="module")
def limited(trained_settings: Settings) -> Iterator[LiveServer]:
    settings = trained_settings.model_copy(update={"rate_limit_per_minute": LIMIT})
    with LiveServer(settings) as server:
        yield server


def client_at(server: LiveServer, address: str) -> httpx.Client:
    return httpx.Client(base_url=server.url, timeout=30, headers={"X-Forwarded-For": address})


def test_match_over_the_limit_gets_429_with_retry_after(limited: LiveServer) -> None:
    with client_at(limited, "10.1.0.1") as c:
        for _ in range(LIMIT):
            assert c.post("/v1/match", json=ASK).status_code == 200
        r = c.post("/v1/match", json=ASK)
    assert r.status_code == 429
    assert 1 <= int(r.headers["retry-after"]) <= 60
    body = r.json()
    assert body["code"] == "rate_limited"
    assert "自检过于频繁" in body["detail"] and f"每分钟最多 {LIMIT} 次" in body["detail"]
    assert r.headers["x-content-type-options"] == "nosniff"


def test_form_over_the_limit_gets_a_chinese_page(limited: LiveServer) -> None:
    with client_at(limited, "10.1.0.2") as c:
        token = form_token(c)
        for _ in range(LIMIT):
            assert c.post("/", data={**ASK, "csrf_token": token}).status_code == 200
        r = c.post("/", data={**ASK, "csrf_token": token})
        assert c.get("/").status_code == 200  # the form itself is not limited
    assert r.status_code == 429
    assert r.headers["content-type"].startswith("text/html")
    assert int(r.headers["retry-after"]) >= 1
    assert "<h1>请稍后再试</h1>" in r.text and "自检过于频繁" in r.text


def test_limit_is_per_address_and_shared_by_form_and_api(limited: LiveServer) -> None:
    with client_at(limited, "10.1.0.3") as c:
        for _ in range(LIMIT):
            assert c.post("/v1/match", json=ASK).status_code == 200
        token = form_token(c)
        assert c.post("/", data={**ASK, "csrf_token": token}).status_code == 429
    with client_at(limited, "10.1.0.4") as other:
        assert other.post("/v1/match", json=ASK).status_code == 200


def test_health_reads_and_bureau_are_not_limited(limited: LiveServer, bureau_token: str) -> None:
    with client_at(limited, "10.1.0.5") as c:
        for _ in range(LIMIT + 1):
            c.post("/v1/match", json=ASK)
        assert c.post("/v1/match", json=ASK).status_code == 429
        auth = {"Authorization": f"Bearer {bureau_token}"}
        for _ in range(2 * LIMIT):
            assert c.get("/healthz").status_code == 200
            assert c.get("/v1/parks", params={"limit": 1}).status_code == 200
            assert c.get("/v1/enterprises", params={"limit": 1}, headers=auth).status_code == 200


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_bucket_refills_at_the_configured_rate() -> None:
    clock = Clock()
    limiter = RateLimit(app=None, per_minute=60, clock=clock)  # type: ignore[arg-type]
    assert all(limiter.take("a") == 0 for _ in range(60))
    wait = limiter.take("a")
    assert wait == pytest.approx(1.0)
    clock.now += 1.0
    assert limiter.take("a") == 0 and limiter.take("a") > 0
    assert limiter.take("b") == 0  # another address has its own bucket


def test_zero_turns_the_limit_off() -> None:
    calls: list[str] = []

    async def app(scope, receive, send):  # type: ignore[no-untyped-def]
        calls.append(scope["path"])

    limiter = RateLimit(app, per_minute=0)
    scope = {"type": "http", "method": "POST", "path": "/v1/match", "client": ("1.2.3.4", 1)}
    for _ in range(100):
        asyncio.run(limiter(scope, None, None))  # type: ignore[arg-type]
    assert len(calls) == 100

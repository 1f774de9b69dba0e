"""Security headers on pages and API answers, pages that need no inline script or style (so the
Content-Security-Policy holds), and CORS closed unless CORS_ORIGINS names an origin."""

from __future__ import annotations

import re

import httpx
import pytest

from api.settings import Settings
from features.kb import KnowledgeBase
from tests.api.test_pages import ROBOT
from tests.conftest import LiveServer, post_form

PAGES = ["/", "/browse", "/browse/chains/biomedicine", "/bureau/login"]


def assert_guarded(r: httpx.Response) -> None:
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["referrer-policy"] == "no-referrer"
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]


@pytest.mark.parametrize("path", PAGES)
def test_pages_send_security_headers_and_are_not_cached(http: httpx.Client, path: str) -> None:
    r = http.get(path)
    assert r.status_code == 200
    assert_guarded(r)
    csp = r.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp and "style-src 'self'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert r.headers["cache-control"] == "no-store"


def test_self_check_result_is_guarded_and_not_cached(http: httpx.Client) -> None:
    r = post_form(http, "/", ROBOT)
    assert r.status_code == 200
    assert_guarded(r)
    assert r.headers["cache-control"] == "no-store"


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/v1/zones", 200),
        ("GET", "/v1/parks/no_such_park", 404),
        ("POST", "/v1/match", 422),
        ("GET", "/v1/enterprises", 401),
        ("GET", "/healthz", 200),
    ],
)
def test_api_answers_send_security_headers(
    http: httpx.Client, method: str, path: str, status: int
) -> None:
    r = http.request(method, path, json={} if method == "POST" else None)
    assert r.status_code == status
    assert_guarded(r)
    assert r.headers["content-security-policy"].startswith("default-src 'none'")
    assert r.headers["cache-control"] == "no-store"


def test_too_large_body_is_guarded_too(http: httpx.Client) -> None:
    r = http.post("/v1/match", content=b"x" * 300_000, headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert_guarded(r)


def test_static_files_may_be_cached(http: httpx.Client) -> None:
    r = http.get("/static/style.css")
    assert r.status_code == 200 and "no-store" not in r.headers.get("cache-control", "")
    assert r.headers["x-content-type-options"] == "nosniff"


INLINE = [
    (re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I), "inline <script>"),
    (re.compile(r"<style\b", re.I), "<style> element"),
    (re.compile(r"\sstyle=", re.I), "style= attribute"),
    (re.compile(r"\son[a-z]+=", re.I), "on…= event handler"),
    (re.compile(r"javascript:", re.I), "javascript: URL"),
]


def assert_no_inline_code(html: str, where: str) -> None:
    for pattern, what in INLINE:
        m = pattern.search(html)
        assert m is None, f"{where} has an {what} that the CSP would block: {m.group(0)!r}"


def test_pages_need_no_inline_script_or_style(
    http: httpx.Client, bureau_token: str, kb: KnowledgeBase
) -> None:
    for path in PAGES:
        assert_no_inline_code(http.get(path).text, path)
    assert_no_inline_code(post_form(http, "/", ROBOT).text, "POST /")
    assert_no_inline_code(post_form(http, "/", {"description": "ab"}).text, "POST / (422)")
    post_form(http, "/bureau/login", {"token": bureau_token, "next": "/bureau"})
    park = "cangzhou_canal_laser"
    for path in [
        "/bureau",
        f"/bureau/parks/{park}/leads",
        f"/bureau/parks/{park}/chain-gaps",
        "/bureau/report?description=研发制造工业机器人和高档数控机床",
        f"/browse/parks/{park}",
    ]:
        r = http.get(path)
        assert r.status_code == 200, path
        assert_no_inline_code(r.text, path)


PREFLIGHT = {
    "Origin": "https://evil.example",
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization, content-type",
}


def test_cors_is_closed_by_default(http: httpx.Client) -> None:
    pre = http.options("/v1/match", headers=PREFLIGHT)
    assert "access-control-allow-origin" not in pre.headers
    assert pre.status_code in (404, 405)
    r = http.get("/v1/zones", headers={"Origin": "https://evil.example"})
    assert r.status_code == 200 and "access-control-allow-origin" not in r.headers
    bureau = http.get(
        "/v1/enterprises",
        headers={"Origin": "https://evil.example", "Authorization": "Bearer x"},
    )
    assert "access-control-allow-origin" not in bureau.headers


def test_cors_opens_only_to_the_configured_origins(trained_settings: Settings) -> None:
    settings = trained_settings.model_copy(update={"cors_origins": "https://portal.example"})
    with LiveServer(settings) as server, httpx.Client(base_url=server.url) as client:
        ok = client.options("/v1/match", headers={**PREFLIGHT, "Origin": "https://portal.example"})
        assert ok.status_code == 200
        assert ok.headers["access-control-allow-origin"] == "https://portal.example"
        evil = client.options("/v1/match", headers=PREFLIGHT)
        assert "access-control-allow-origin" not in evil.headers
        r = client.get("/v1/zones", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in r.headers

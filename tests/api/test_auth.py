"""Access control, generated from the app's route table so that a new route cannot be forgotten:
every API operation not in the explicit public list must refuse a caller without a token."""

from __future__ import annotations

import re

import httpx
import pytest

from api.app import create_app
from api.settings import Settings

# The only API routes anyone may call without a token.
PUBLIC = {
    ("GET", "/healthz"),
    ("GET", "/v1/zones"),
    ("GET", "/v1/chains"),
    ("GET", "/v1/chains/{chain_id}"),
    ("GET", "/v1/parks"),
    ("GET", "/v1/parks/{park_id}"),
    ("POST", "/v1/match"),
    ("GET", "/v1/policies"),
}
ADMIN_ONLY_PREFIXES = ("/v1/models", "/v1/policies/drafts")


def _api_routes(settings: Settings) -> list[tuple[str, str]]:
    """(method, path) of every API operation, from the app's own route table (via its OpenAPI)."""
    spec = create_app(settings).openapi()
    return [
        (m.upper(), path) for path, ops in spec["paths"].items() for m in ops if m != "parameters"
    ]


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "x1", path)


def test_every_non_public_route_needs_a_token(
    trained_settings: Settings, http: httpx.Client
) -> None:
    protected = [r for r in _api_routes(trained_settings) if r not in PUBLIC]
    assert protected, "the bureau endpoints exist"
    for method, path in protected:
        r = http.request(method, _concrete(path), json={})
        assert r.status_code == 401, (method, path, r.status_code)
        assert r.headers.get("www-authenticate") == "Bearer"
        assert "令牌" in r.json()["detail"]
        bad = http.request(
            method, _concrete(path), json={}, headers={"Authorization": "Bearer nope"}
        )
        assert bad.status_code == 401, (method, path)


def test_bureau_token_cannot_reach_admin_routes(
    trained_settings: Settings, bureau: httpx.Client
) -> None:
    admin_routes = [
        r
        for r in _api_routes(trained_settings)
        if r[1].startswith(ADMIN_ONLY_PREFIXES) and r[0] != "GET"
    ]
    if not admin_routes:
        pytest.skip("no admin-only routes yet")
    for method, path in admin_routes:
        r = bureau.request(method, _concrete(path), json={})
        assert r.status_code == 403, (method, path, r.status_code)
        assert "管理员" in r.json()["detail"]

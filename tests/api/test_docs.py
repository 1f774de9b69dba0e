"""The API docs over real HTTP: pages that name only local assets, and a bearer scheme on exactly
the operations that need a token."""

from __future__ import annotations

import re

import httpx

from tests.api.test_auth import PUBLIC


def test_docs_pages_use_local_assets_and_a_csp_without_outside_hosts(http: httpx.Client) -> None:
    for path, asset in (("/docs", "swagger-ui-bundle.js"), ("/redoc", "redoc.standalone.js")):
        r = http.get(path)
        assert r.status_code == 200
        srcs = re.findall(r'(?:src|href)="([^"]+)"', r.text)
        assert f"/static/docs/{asset}" in srcs
        assert all(s.startswith("/") for s in srcs), srcs  # nothing from another host
        assert "<script>" not in r.text  # no inline script: the CSP needs none
        csp = r.headers["content-security-policy"]
        assert "http" not in csp and "script-src 'self';" in csp
        js = http.get(f"/static/docs/{asset}")
        assert js.status_code == 200 and len(js.content) > 500_000


def test_openapi_declares_bearer_on_every_bureau_operation(http: httpx.Client) -> None:
    spec = http.get("/openapi.json").json()
    assert spec["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": spec["components"]["securitySchemes"]["bearerAuth"]["description"],
    }
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            if (method.upper(), path) in PUBLIC:
                assert "security" not in op, (method, path)
            else:
                assert op.get("security") == [{"bearerAuth": []}], (method, path)
                names = [p["name"].lower() for p in op.get("parameters", [])]
                assert "authorization" not in names, (method, path)

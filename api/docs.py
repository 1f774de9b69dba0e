"""The API documentation pages (/docs, /redoc) served offline, and the OpenAPI bearer scheme.

Swagger UI and ReDoc come from the installed `fastapi-offline` package (its `static/` folder), never
from a CDN, so the docs work on a government network without internet. Each page starts its viewer
from a script file under /static, so the pages need no inline script.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import fastapi_offline
from fastapi import FastAPI, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

ASSETS_DIR = Path(fastapi_offline.__file__).resolve().parent / "static"
ASSETS_URL = "/static/docs"
TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
BEARER = "bearerAuth"
# The header a bureau dependency reads; OpenAPI 3 ignores an `Authorization` header parameter, so
# the scheme below replaces it and Swagger UI's 「Authorize」 button fills it.
AUTH_HEADER = "authorization"


def _is_auth_header(param: dict[str, Any]) -> bool:
    return param.get("in") == "header" and str(param.get("name", "")).lower() == AUTH_HEADER


def openapi_with_bearer(app: FastAPI) -> dict[str, Any]:
    """The app's OpenAPI with an HTTP bearer scheme on every operation that needs a token."""
    if app.openapi_schema:
        return app.openapi_schema
    spec = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
    )
    spec.setdefault("components", {})["securitySchemes"] = {
        BEARER: {
            "type": "http",
            "scheme": "bearer",
            "description": "招商部门或管理员令牌：Authorization: Bearer <令牌>。"
            "令牌由管理员用 `python -m api.cli create-token` 签发。",
        }
    }
    # The operations that need a token are those whose dependencies read the Authorization header
    # (api/auth.py); read from the spec itself, so included routers need no special walk.
    for ops in spec.get("paths", {}).values():
        for op in ops.values():
            params = op.get("parameters", [])
            kept = [p for p in params if not _is_auth_header(p)]
            if len(kept) == len(params):
                continue
            op["security"] = [{BEARER: []}]
            if kept:
                op["parameters"] = kept
            else:
                del op["parameters"]
    app.openapi_schema = spec
    return spec


def install_docs(app: FastAPI) -> None:
    """Serve /docs and /redoc from local assets, and declare the bearer scheme in /openapi.json.
    `app` must be built with docs_url=None and redoc_url=None."""
    templates = Jinja2Templates(directory=TEMPLATES_DIR)
    app.openapi = lambda: openapi_with_bearer(app)  # type: ignore[method-assign]
    # Before the /static mount, which would otherwise take these paths.
    app.mount(ASSETS_URL, StaticFiles(directory=ASSETS_DIR), name="docs-assets")

    def page(request: Request, name: str) -> HTMLResponse:
        context = {"title": app.title, "openapi_url": app.openapi_url, "assets": ASSETS_URL}
        return templates.TemplateResponse(request, name, context)

    @app.get("/docs", include_in_schema=False)
    def swagger_ui(request: Request) -> HTMLResponse:
        return page(request, "docs_swagger.html")

    @app.get("/redoc", include_in_schema=False)
    def redoc(request: Request) -> HTMLResponse:
        return page(request, "docs_redoc.html")

"""Guards of the public service: security headers, a per-address rate limit on the self-check,
CORS only when configured, and signed double-submit CSRF tokens for the HTML forms."""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import re
import secrets
import time
from collections.abc import Callable
from functools import cache
from pathlib import Path

from fastapi import FastAPI, Request, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.datastructures import MutableHeaders
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.auth import new_signer
from api.settings import Settings

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"

# -- security headers -----------------------------------------------------------------------------
# Pages load only their own stylesheet and script; no inline script or style (see api/static).
PAGE_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
# /docs and /redoc load Swagger UI / ReDoc from this server (api/docs.py): no outside host at all.
# ReDoc's styled-components inject <style> elements, hence 'unsafe-inline' for styles only; its
# search runs in a blob: worker.
DOCS_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self'; connect-src 'self'; worker-src 'self' blob:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
API_CSP = "default-src 'none'; frame-ancestors 'none'"
DOCS_PATHS = ("/docs", "/redoc")
COMMON_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=()",
}


class SecurityHeaders:
    """Adds the headers above to every response; `Cache-Control: no-store` unless the route set its
    own (answers and pages carry enterprise data; only /static may be cached)."""

    def __init__(self, app: ASGIApp, extra: dict[str, str] | None = None) -> None:
        self.app = app
        self.headers = {**COMMON_HEADERS, **(extra or {})}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in self.headers.items():
                    headers.setdefault(name, value)
                html = headers.get("content-type", "").startswith("text/html")
                if path.startswith(DOCS_PATHS):
                    csp = DOCS_CSP
                elif html:
                    csp = PAGE_CSP
                else:
                    csp = API_CSP
                headers.setdefault("content-security-policy", csp)
                if not path.startswith("/static/"):
                    headers.setdefault("cache-control", "no-store")
            await send(message)

        await self.app(scope, receive, send_with_headers)


# -- rate limiting --------------------------------------------------------------------------------
@cache
def _page_templates() -> Environment:
    return Environment(
        loader=FileSystemLoader(TEMPLATES_DIR), autoescape=select_autoescape(["html"])
    )


def rate_limited_message(limit: int, retry_after: int) -> str:
    return f"自检过于频繁：同一网络地址每分钟最多 {limit} 次，请 {retry_after} 秒后再试"


class RateLimit:
    """A token bucket per client address on the public self-check (`POST /v1/match`, `POST /`):
    `per_minute` requests at once, refilled at `per_minute` a minute. In memory, so per process.

    A refused request gets 429 with Retry-After and a Chinese message: JSON for the API, a page for
    the form. Health checks and bureau routes are never limited.
    """

    MAX_TRACKED = 10_000

    def __init__(
        self,
        app: ASGIApp,
        per_minute: int,
        paths: dict[str, str] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.app = app
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0  # tokens a second
        self.paths = paths if paths is not None else {"/v1/match": "json", "/": "html"}
        self.clock = clock
        self.buckets: dict[str, tuple[float, float]] = {}  # address → (tokens, last refill)

    def take(self, address: str) -> float:
        """Take a token for `address`: 0 when allowed, else the seconds until one is free."""
        now = self.clock()
        tokens, last = self.buckets.get(address, (self.capacity, now))
        tokens = min(self.capacity, tokens + (now - last) * self.rate)
        if tokens >= 1:
            self.buckets[address] = (tokens - 1, now)
            self._prune(now)
            return 0.0
        self.buckets[address] = (tokens, now)
        return (1 - tokens) / self.rate

    def _prune(self, now: float) -> None:
        if len(self.buckets) <= self.MAX_TRACKED:
            return
        full = self.capacity / self.rate  # seconds for an empty bucket to refill
        self.buckets = {a: b for a, b in self.buckets.items() if now - b[1] < full}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or self.capacity <= 0
            or scope.get("method") != "POST"
            or scope.get("path") not in self.paths
        ):
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        wait = self.take(client[0] if client else "unknown")
        if not wait:
            await self.app(scope, receive, send)
            return
        retry_after = max(1, math.ceil(wait))
        message = rate_limited_message(int(self.capacity), retry_after)
        if self.paths[scope["path"]] == "html":
            body = (
                _page_templates()
                .get_template("error.html")
                .render(title="请稍后再试", message=message + "。")
                .encode()
            )
            media = b"text/html; charset=utf-8"
        else:
            body = json.dumps(
                {"detail": message, "code": "rate_limited"}, ensure_ascii=False
            ).encode()
            media = b"application/json"
        headers = [
            (b"content-type", media),
            (b"content-length", str(len(body)).encode()),
            (b"retry-after", str(retry_after).encode()),
        ]
        await send({"type": "http.response.start", "status": 429, "headers": headers})
        await send({"type": "http.response.body", "body": body})


# -- CSRF -----------------------------------------------------------------------------------------
CSRF_COOKIE = "investmatch_csrf"
CSRF_FIELD = "csrf_token"
_NONCE = re.compile(r"^[A-Za-z0-9_-]{22,64}$")


class CsrfTokens:
    """Signed double-submit tokens: the browser holds a random nonce in a cookie, each form carries
    HMAC(secret, nonce). Another site can neither read the cookie nor sign a nonce it planted."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    @staticmethod
    def new_nonce() -> str:
        return secrets.token_urlsafe(24)

    @staticmethod
    def valid_nonce(nonce: str | None) -> bool:
        return bool(nonce and _NONCE.match(nonce))

    def sign(self, nonce: str) -> str:
        return hmac.new(self._secret, nonce.encode(), hashlib.sha256).hexdigest()

    def verify(self, nonce: str | None, token: str | None) -> bool:
        if not token or nonce is None or not self.valid_nonce(nonce):
            return False
        return hmac.compare_digest(self.sign(nonce), token.strip())


def csrf_tokens(request: Request) -> CsrfTokens:
    tokens: CsrfTokens = request.app.state.csrf
    return tokens


def csrf_cookie(request: Request) -> str:
    """The CSRF cookie's name: `__Host-` over HTTPS, so that a sibling subdomain cannot plant it."""
    return "__Host-" + CSRF_COOKIE if request.url.scheme == "https" else CSRF_COOKIE


def set_csrf_cookie(request: Request, response: Response, nonce: str) -> None:
    # Lax, not Strict: a link from another site must not replace the cookie of open forms.
    response.set_cookie(
        csrf_cookie(request),
        nonce,
        path="/",
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )


def renew_csrf(request: Request, response: Response) -> None:
    """A fresh nonce for this browser (at login), so that tokens from before it stop working."""
    set_csrf_cookie(request, response, CsrfTokens.new_nonce())


def csrf_ok(request: Request, token: str | None) -> bool:
    """Whether a form post carries the token signed for this browser's CSRF cookie."""
    return csrf_tokens(request).verify(request.cookies.get(csrf_cookie(request)), token)


# -- wiring ---------------------------------------------------------------------------------------
def install_security(app: FastAPI, settings: Settings) -> None:
    """Add the guards to `app` (outermost first: CORS, rate limit), its CSRF key and the key that
    signs session cookies. `SecurityHeaders` wraps the whole stack instead (see api.app), so
    that the 500s of Starlette's outermost error middleware carry the headers too."""
    secret = settings.csrf_secret.get_secret_value().encode() if settings.csrf_secret else None
    app.state.csrf = CsrfTokens(secret or secrets.token_bytes(32))
    key = settings.session_secret.get_secret_value().encode() if settings.session_secret else None
    app.state.session_signer = new_signer(key or secrets.token_bytes(32))
    app.add_middleware(RateLimit, per_minute=settings.rate_limit_per_minute)
    origins = settings.cors_origin_list
    if origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type", "Idempotency-Key"],
        )

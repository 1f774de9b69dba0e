"""Who is calling: bearer tokens for the API, server-side sessions for the bureau's web pages.

Roles are `bureau` and `admin` (admin ⊇ bureau). Every token belongs to a bureau, and what a bureau
writes carries its name (see `Principal`). Tokens are stored as SHA-256 hashes; a DB token may
expire and may be revoked (`python -m api.cli revoke-token`). The admin token comes from
ADMIN_TOKEN or, failing that, var/admin.token (written on first start by `api.cli serve`).

A web login creates a session: a random id whose SHA-256 is stored with an expiry, sent to the
browser signed (itsdangerous, with a timestamp) in an HttpOnly cookie. The cookie never holds the
token; logout deletes the row and revoking the token ends its sessions.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import Depends, Header, HTTPException, Request
from itsdangerous import BadSignature, TimestampSigner
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from api.deps import AppState, StateDep
from api.errors import DB_DOWN, AppError, ServiceUnavailable
from api.settings import Settings
from store import access
from store.orm import ApiToken

Role = Literal["bureau", "admin"]
ROLE_RANK = {"bureau": 1, "admin": 2}
ADMIN_BUREAU = ""  # the admin token's records belong to no bureau; an admin reads all bureaus'


class Unauthorized(AppError):
    status_code = 401
    code = "unauthorized"


class Forbidden(AppError):
    status_code = 403
    code = "forbidden"


@dataclass(frozen=True)
class Principal:
    """The caller: role, the bureau its records belong to, and its DB token (None: admin file)."""

    role: str
    bureau: str
    token_id: int | None = None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def admin_token_hash(settings: Settings) -> str | None:
    token = settings.admin_token
    if not token:
        path = settings.var_dir / "admin.token"
        token = path.read_text(encoding="utf-8").strip() if path.exists() else None
    return hash_token(token) if token else None


def create_token(
    sessions: sessionmaker[Session],
    name: str,
    role: Role,
    *,
    bureau: str | None = None,
    days: int | None = None,
) -> str:
    """Create a token and return it; only its hash is kept. `bureau` defaults to `name`;
    `days` None or 0 means no expiry."""
    token = secrets.token_urlsafe(32)
    expires = datetime.now(UTC) + timedelta(days=days) if days else None
    owner = bureau if bureau is not None else (name if role == "bureau" else ADMIN_BUREAU)
    with sessions.begin() as s:
        s.add(
            ApiToken(
                name=name, role=role, token_hash=hash_token(token), bureau=owner, expires_at=expires
            )
        )
    return token


def principal_of(state: AppState, token: str) -> Principal | None:
    """The caller a token stands for; None when unknown, revoked or expired."""
    digest = hash_token(token)
    admin = state.admin_hash
    if admin is not None and hmac.compare_digest(digest, admin):
        return Principal("admin", ADMIN_BUREAU)
    try:
        with state.sessions() as s:
            row = access.live_token(s, digest, datetime.now(UTC))
    except SQLAlchemyError as exc:
        raise ServiceUnavailable(DB_DOWN, code="database_unavailable") from exc
    if row is None or not hmac.compare_digest(row.token_hash, digest):
        return None
    return Principal(row.role, row.bureau, row.id)


def require(role: Role) -> Callable[..., Principal]:
    """A dependency that admits callers holding `role` (or a higher one) and returns them."""

    def check(
        state: StateDep,
        authorization: Annotated[
            str | None, Header(description="Bearer 令牌：Authorization: Bearer <token>")
        ] = None,
    ) -> Principal:
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("需要招商部门令牌：请在请求头中加入 Authorization: Bearer <令牌>")
        held = principal_of(state, token.strip())
        if held is None:
            raise Unauthorized("令牌无效、已过期或已停用，请向管理员申请新令牌")
        if ROLE_RANK[held.role] < ROLE_RANK[role]:
            raise Forbidden(
                f"此操作需要{'管理员' if role == 'admin' else '招商部门'}权限，当前令牌无权执行"
            )
        return held

    return check


BureauDep = Annotated[Principal, Depends(require("bureau"))]
AdminDep = Annotated[Principal, Depends(require("admin"))]


# -- web pages: the same principals, through a server-side session --------------------------------
PAGE_COOKIE = "investmatch_bureau"
PAGE_COOKIE_PATH = "/bureau"
LOGIN_PATH = "/bureau/login"
SESSION_HOURS = 8  # what the login page states; enforced by the session row and the signature
SESSION_SECONDS = SESSION_HOURS * 3600


def https(request: Request) -> bool:
    return request.url.scheme == "https"


def page_cookie(request: Request) -> tuple[str, str]:
    """(name, path) of the session cookie: `__Host-` over HTTPS (which requires path /), so that
    neither a sibling subdomain nor plain HTTP can plant or read it."""
    if https(request):
        return "__Host-" + PAGE_COOKIE, "/"
    return PAGE_COOKIE, PAGE_COOKIE_PATH


def session_signer(request: Request) -> TimestampSigner:
    signer: TimestampSigner = request.app.state.session_signer
    return signer


def new_signer(secret: bytes) -> TimestampSigner:
    return TimestampSigner(secret, salt="investmatch-bureau-session")


def _session_hash(request: Request) -> str | None:
    raw = request.cookies.get(page_cookie(request)[0])
    if not raw or len(raw) > 200:
        return None
    try:
        session_id = session_signer(request).unsign(raw, max_age=SESSION_SECONDS)
    except BadSignature:  # forged, altered or older than the stated lifetime
        return None
    return hash_token(session_id.decode("ascii", "replace"))


def start_session(request: Request, state: AppState, who: Principal) -> tuple[str, int]:
    """Store a new session for `who`; the signed cookie value and its max-age in seconds."""
    session_id = secrets.token_urlsafe(32)
    expires = datetime.now(UTC) + timedelta(seconds=SESSION_SECONDS)
    try:
        access.create_session(
            state.sessions,
            hash_token(session_id),
            role=who.role,
            bureau=who.bureau,
            token_id=who.token_id,
            expires_at=expires,
        )
    except SQLAlchemyError as exc:
        raise ServiceUnavailable(DB_DOWN, code="database_unavailable") from exc
    return session_signer(request).sign(session_id).decode("ascii"), SESSION_SECONDS


def end_session(request: Request, state: AppState) -> None:
    digest = _session_hash(request)
    if digest is None:
        return
    try:
        access.end_session(state.sessions, digest)
    except SQLAlchemyError as exc:
        raise ServiceUnavailable(DB_DOWN, code="database_unavailable") from exc


def session_principal(request: Request, state: AppState) -> Principal | None:
    """The principal of this browser's live session, None without one."""
    digest = _session_hash(request)
    if digest is None:
        return None
    try:
        with state.sessions() as s:
            row = access.live_session(s, digest, datetime.now(UTC))
    except SQLAlchemyError as exc:
        raise ServiceUnavailable(DB_DOWN, code="database_unavailable") from exc
    if row is None or ROLE_RANK.get(row.role, 0) < ROLE_RANK["bureau"]:
        return None
    return Principal(row.role, row.bureau, row.token_id)


def require_page(request: Request, state: StateDep) -> Principal:
    """A page dependency: the principal of the session started at /bureau/login, or a 303 to the
    login page that returns here afterwards."""
    who = session_principal(request, state)
    if who is None:
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise HTTPException(
            status_code=303,
            detail="请先登录：招商部门页面需要令牌",
            headers={"Location": f"{LOGIN_PATH}?next={quote(here, safe='')}"},
        )
    return who


BureauPageDep = Annotated[Principal, Depends(require_page)]

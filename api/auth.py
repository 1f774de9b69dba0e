"""Bearer-token access control for bureau endpoints: roles `bureau` and `admin` (admin ⊇ bureau).

Tokens are stored as SHA-256 hashes and compared in constant time. The admin token comes from
ADMIN_TOKEN or, failing that, var/admin.token (written on first start by `api.cli serve`).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import Depends, Header, HTTPException, Request
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from api.deps import DB_DOWN, AppState, StateDep
from api.errors import AppError, ServiceUnavailable
from api.settings import Settings
from store.orm import ApiToken

Role = Literal["bureau", "admin"]
ROLE_RANK = {"bureau": 1, "admin": 2}


class Unauthorized(AppError):
    status_code = 401
    code = "unauthorized"


class Forbidden(AppError):
    status_code = 403
    code = "forbidden"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def admin_token_hash(settings: Settings) -> str | None:
    token = settings.admin_token
    if not token:
        path = settings.var_dir / "admin.token"
        token = path.read_text(encoding="utf-8").strip() if path.exists() else None
    return hash_token(token) if token else None


def create_token(sessions: sessionmaker[Session], name: str, role: Role) -> str:
    """Create a token and return it; only its hash is kept."""
    token = secrets.token_urlsafe(32)
    with sessions.begin() as s:
        s.add(ApiToken(name=name, role=role, token_hash=hash_token(token)))
    return token


def _role_of(state: AppState, token: str) -> str | None:
    digest = hash_token(token)
    admin = state.admin_hash
    if admin is not None and hmac.compare_digest(digest, admin):
        return "admin"
    try:
        with state.sessions() as s:
            row = s.scalars(select(ApiToken).where(ApiToken.token_hash == digest)).first()
    except SQLAlchemyError as exc:
        raise ServiceUnavailable(DB_DOWN, code="database_unavailable") from exc
    if row is None or row.revoked or not hmac.compare_digest(row.token_hash, digest):
        return None
    return row.role


def require(role: Role) -> Callable[..., str]:
    """A dependency that admits callers holding `role` (or a higher one) and returns their role."""

    def check(
        state: StateDep,
        authorization: Annotated[
            str | None, Header(description="Bearer 令牌：Authorization: Bearer <token>")
        ] = None,
    ) -> str:
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("需要招商部门令牌：请在请求头中加入 Authorization: Bearer <令牌>")
        held = _role_of(state, token.strip())
        if held is None:
            raise Unauthorized("令牌无效或已停用，请向管理员申请新令牌")
        if ROLE_RANK[held] < ROLE_RANK[role]:
            raise Forbidden(
                f"此操作需要{'管理员' if role == 'admin' else '招商部门'}权限，当前令牌无权执行"
            )
        return held

    return check


BureauDep = Annotated[str, Depends(require("bureau"))]
AdminDep = Annotated[str, Depends(require("admin"))]


# -- web pages: the same roles, the token carried in a cookie -------------------------------------
PAGE_COOKIE = "investmatch_bureau"
PAGE_COOKIE_PATH = "/bureau"
LOGIN_PATH = "/bureau/login"


def page_role_of(state: AppState, token: str | None) -> str | None:
    """The role a page cookie grants (bureau or admin), None for a missing or invalid token."""
    if not token or not token.strip():
        return None
    role = _role_of(state, token.strip())
    return role if role is not None and ROLE_RANK[role] >= ROLE_RANK["bureau"] else None


def require_page(request: Request, state: StateDep) -> str:
    """A page dependency: the bureau role from the HttpOnly cookie set by /bureau/login, or a 303
    to the login page that returns here afterwards."""
    role = page_role_of(state, request.cookies.get(PAGE_COOKIE))
    if role is None:
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise HTTPException(
            status_code=303,
            detail="请先登录：招商部门页面需要令牌",
            headers={"Location": f"{LOGIN_PATH}?next={quote(here, safe='')}"},
        )
    return role


BureauPageDep = Annotated[str, Depends(require_page)]

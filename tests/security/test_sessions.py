"""Bureau web sessions (issue 10 finding 5, issue 14 item 3): server-side, signed, expiring; the
cookie never holds the token; logout and revocation end them; tokens expire and can be revoked."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select, update

from api import cli
from api.auth import PAGE_COOKIE, SESSION_SECONDS, create_token, hash_token
from api.security import CSRF_COOKIE
from api.settings import Settings
from store import orm
from store.access import revoke_tokens
from store.db import get_sessionmaker
from tests.conftest import LiveServer, post_form


@pytest.fixture
def browser(live_server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_server.url, timeout=60, follow_redirects=False) as client:
        yield client


@pytest.fixture
def own_token(trained_settings: Settings) -> str:
    """A token of its own, so that revoking or expiring it touches no other test."""
    name = f"会话测试{uuid.uuid4().hex[:8]}"
    return create_token(get_sessionmaker(trained_settings.database_url), name, "bureau")


def login(client: httpx.Client, token: str) -> httpx.Response:
    r = post_form(client, "/bureau/login", {"token": token, "next": "/bureau"})
    assert r.status_code == 303, r.text
    return r


def session_cookie(r: httpx.Response, name: str = PAGE_COOKIE) -> str:
    for header in r.headers.get_list("set-cookie"):
        if header.startswith(f"{name}="):
            return header.split(";", 1)[0].split("=", 1)[1]
    raise AssertionError(f"no {name} cookie in {r.headers.get_list('set-cookie')}")


def test_login_cookie_is_a_signed_session_id_not_the_token(
    browser: httpx.Client, own_token: str
) -> None:
    r = login(browser, own_token)
    value = session_cookie(r)
    assert own_token not in value and value.strip('"') != own_token
    header = next(h for h in r.headers.get_list("set-cookie") if h.startswith(PAGE_COOKIE))
    # The stated lifetime (8 hours, on the login page) is the cookie's and the session's.
    assert f"Max-Age={SESSION_SECONDS}" in header and SESSION_SECONDS == 8 * 3600
    assert "8 小时后失效" in browser.get("/bureau/login").text
    assert browser.get("/bureau").status_code == 200


def test_logout_ends_the_session_for_a_copied_cookie(
    live_server: LiveServer, browser: httpx.Client, own_token: str
) -> None:
    value = session_cookie(login(browser, own_token))
    cookie = {"Cookie": f"{PAGE_COOKIE}={value}"}
    with httpx.Client(base_url=live_server.url, timeout=60, follow_redirects=False) as thief:
        assert thief.get("/bureau", headers=cookie).status_code == 200
        assert post_form(browser, "/bureau/logout", {}, page="/bureau").status_code == 303
        # The copy kept from before the logout is refused, as a cookie and as a bearer token.
        again = thief.get("/bureau", headers=cookie)
        assert again.status_code == 303 and again.headers["location"].startswith("/bureau/login")
        bearer = thief.get("/v1/interactions", headers={"Authorization": f"Bearer {value}"})
        assert bearer.status_code == 401


def test_revoking_the_token_ends_its_sessions_and_api_access(
    browser: httpx.Client, own_token: str, trained_settings: Settings
) -> None:
    login(browser, own_token)
    assert browser.get("/bureau").status_code == 200
    factory = get_sessionmaker(trained_settings.database_url)
    token_id = token_id_of(trained_settings, own_token)
    assert revoke_tokens(factory, token_id=token_id, name=None) == 1
    assert browser.get("/bureau").status_code == 303
    api = browser.get("/v1/interactions", headers={"Authorization": f"Bearer {own_token}"})
    assert api.status_code == 401
    with factory() as s:
        assert not s.scalars(
            select(orm.WebSession).where(orm.WebSession.token_id == token_id)
        ).all()


def token_id_of(settings: Settings, token: str) -> int:
    with get_sessionmaker(settings.database_url)() as s:
        return int(
            s.scalars(
                select(orm.ApiToken.id).where(orm.ApiToken.token_hash == hash_token(token))
            ).one()
        )


def test_revoke_token_command_by_name(
    trained_settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    factory = get_sessionmaker(trained_settings.database_url)
    name = f"待停用{uuid.uuid4().hex[:8]}"
    create_token(factory, name, "bureau")
    monkeypatch.setattr(cli, "get_settings", lambda: trained_settings)
    assert cli.main(["revoke-token", "--name", name]) == 0
    assert "已停用 1 个令牌" in capsys.readouterr().out
    with factory() as s:
        assert s.scalars(select(orm.ApiToken.revoked).where(orm.ApiToken.name == name)).one()
    assert cli.main(["revoke-token", "--name", name]) == 1  # nothing left to revoke
    assert cli.main(["revoke-token"]) == 2


def test_an_expired_session_is_refused(
    browser: httpx.Client, own_token: str, trained_settings: Settings
) -> None:
    login(browser, own_token)
    assert browser.get("/bureau").status_code == 200
    factory = get_sessionmaker(trained_settings.database_url)
    past = datetime.now(UTC) - timedelta(seconds=1)
    token_id = token_id_of(trained_settings, own_token)
    with factory.begin() as s:
        s.execute(
            update(orm.WebSession)
            .where(orm.WebSession.token_id == token_id)
            .values(expires_at=past)
        )
    assert browser.get("/bureau").status_code == 303


def test_an_expired_token_is_refused(
    http: httpx.Client, own_token: str, trained_settings: Settings
) -> None:
    auth = {"Authorization": f"Bearer {own_token}"}
    assert http.get("/v1/interactions", headers=auth).status_code == 200
    with get_sessionmaker(trained_settings.database_url).begin() as s:
        s.execute(
            update(orm.ApiToken)
            .where(orm.ApiToken.token_hash == hash_token(own_token))
            .values(expires_at=datetime.now(UTC) - timedelta(minutes=1))
        )
    r = http.get("/v1/interactions", headers=auth)
    assert r.status_code == 401 and "已过期" in r.json()["detail"]


def test_new_tokens_expire_by_default(trained_settings: Settings) -> None:
    factory = get_sessionmaker(trained_settings.database_url)
    name = f"默认期限{uuid.uuid4().hex[:8]}"
    cli_token = create_token(factory, name, "bureau", days=cli.TOKEN_DAYS)
    with factory() as s:
        row = s.scalars(
            select(orm.ApiToken).where(orm.ApiToken.token_hash == hash_token(cli_token))
        ).one()
    expires = (
        row.expires_at.replace(tzinfo=UTC) if row.expires_at.tzinfo is None else row.expires_at
    )
    assert (
        timedelta(days=cli.TOKEN_DAYS - 1)
        < expires - datetime.now(UTC)
        <= timedelta(days=cli.TOKEN_DAYS)
    )
    assert row.bureau == name


def test_login_renews_the_csrf_nonce(browser: httpx.Client, own_token: str) -> None:
    browser.get("/bureau/login")
    before = browser.cookies.get(CSRF_COOKIE)
    assert before
    r = login(browser, own_token)
    after = session_cookie(r, CSRF_COOKIE)
    assert after and after != before
    # A form token signed for the old nonce no longer passes.
    page = browser.get("/bureau")
    assert page.status_code == 200
    fresh = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert fresh


def test_cookies_use_the_host_prefix_over_https(browser: httpx.Client, own_token: str) -> None:
    """Behind a TLS proxy (X-Forwarded-Proto from a trusted address, here loopback)."""
    https = {"X-Forwarded-Proto": "https"}
    page = browser.get("/bureau/login", headers=https)
    csrf = next(h for h in page.headers.get_list("set-cookie") if "csrf" in h)
    assert csrf.startswith(f"__Host-{CSRF_COOKIE}=") and "Secure" in csrf and "Path=/" in csrf
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token
    nonce = csrf.split(";", 1)[0].split("=", 1)[1]
    r = browser.post(
        "/bureau/login",
        data={"token": own_token, "next": "/bureau", "csrf_token": token.group(1)},
        headers={**https, "Cookie": f"__Host-{CSRF_COOKIE}={nonce}"},
    )
    assert r.status_code == 303, r.text
    session = next(h for h in r.headers.get_list("set-cookie") if "bureau" in h.split("=", 1)[0])
    assert session.startswith(f"__Host-{PAGE_COOKIE}=")
    assert "Secure" in session and "Path=/;" in session + ";" and "Domain" not in session

"""CSRF: every HTML form post needs the token signed for the browser's own cookie; the JSON API,
authenticated by bearer tokens, needs none."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from fastapi.routing import APIRoute

from api.app import create_app
from api.auth import PAGE_COOKIE
from api.security import CSRF_COOKIE
from api.settings import Settings
from tests.conftest import LiveServer, form_token, post_form

# Each HTML form post, and the page whose form posts it.
FORM_POSTS = {
    "/": "/",
    "/bureau/login": "/bureau/login",
    "/bureau/logout": "/bureau/login",
    "/bureau/admin/policies": "/bureau/login",
    "/bureau/admin/policies/{draft_id}/apply": "/bureau/login",
}


@pytest.fixture
def browser(live_server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_server.url, timeout=60, follow_redirects=False) as client:
        yield client


def test_every_html_form_post_is_covered(trained_settings: Settings) -> None:
    app = create_app(trained_settings)
    documented = app.openapi()["paths"]  # the JSON API; the pages are left out of the spec
    routes = []
    for r in app.routes:  # an included router's routes sit behind it (create_app adds no prefix)
        routes += r.original_router.routes if hasattr(r, "original_router") else [r]
    posts = {
        r.path
        for r in routes
        if isinstance(r, APIRoute) and "POST" in r.methods and r.path not in documented
    }
    assert "/v1/match" not in posts and len(routes) > 30
    assert posts == set(FORM_POSTS)


def assert_refused(r: httpx.Response) -> None:
    assert r.status_code == 403
    assert r.headers["content-type"].startswith("text/html")
    assert "安全校验未通过" in r.text and "刷新" in r.text
    assert PAGE_COOKIE not in r.headers.get("set-cookie", "")


@pytest.mark.parametrize("path", FORM_POSTS)
def test_form_post_without_token_is_refused(browser: httpx.Client, path: str) -> None:
    browser.get(FORM_POSTS[path])  # the cookie is there, the field is not
    assert_refused(browser.post(path, data={"description": "生产工业机器人减速器"}))


@pytest.mark.parametrize("path", FORM_POSTS)
def test_form_post_with_a_forged_token_is_refused(browser: httpx.Client, path: str) -> None:
    form_token(browser, FORM_POSTS[path])
    assert_refused(browser.post(path, data={"csrf_token": "0" * 64}))


def test_token_of_another_browser_is_refused(
    browser: httpx.Client, live_server: LiveServer, bureau_token: str
) -> None:
    theirs = form_token(browser, "/bureau/login")
    with httpx.Client(base_url=live_server.url, follow_redirects=False) as other:
        form_token(other, "/bureau/login")  # a cookie of its own
        assert_refused(
            other.post("/bureau/login", data={"token": bureau_token, "csrf_token": theirs})
        )
    with httpx.Client(base_url=live_server.url, follow_redirects=False) as fresh:  # no cookie
        assert_refused(
            fresh.post("/bureau/login", data={"token": bureau_token, "csrf_token": theirs})
        )


def test_login_needs_the_token_before_it_checks_the_bureau_token(
    browser: httpx.Client, bureau_token: str
) -> None:
    browser.get("/bureau/login")
    r = browser.post("/bureau/login", data={"token": bureau_token, "next": "/bureau"})
    assert_refused(r)
    assert browser.get("/bureau").status_code == 303  # not logged in


def test_logout_needs_the_token(browser: httpx.Client, bureau_token: str) -> None:
    assert post_form(browser, "/bureau/login", {"token": bureau_token}).status_code == 303
    assert_refused(browser.post("/bureau/logout"))
    assert browser.get("/bureau").status_code == 200  # still logged in
    assert post_form(browser, "/bureau/logout", {}, page="/bureau").status_code == 303
    assert browser.get("/bureau").status_code == 303


def test_csrf_cookie_is_http_only_and_lax(browser: httpx.Client) -> None:
    r = browser.get("/")
    cookie = r.headers["set-cookie"]
    assert cookie.startswith(f"{CSRF_COOKIE}=")
    lowered = cookie.lower()
    assert "httponly" in lowered and "samesite=lax" in lowered and "path=/" in lowered
    again = browser.get("/browse")
    assert "set-cookie" not in again.headers  # one cookie per browser, reused by every form


def test_json_api_needs_no_csrf_token(live_server: LiveServer) -> None:
    with httpx.Client(base_url=live_server.url) as client:
        r = client.post("/v1/match", json={"description": "生产工业机器人减速器"})
        assert r.status_code == 200


def test_signing_key_is_random_per_process_unless_configured(trained_settings: Settings) -> None:
    a, b = create_app(trained_settings), create_app(trained_settings)
    assert a.state.csrf.sign("nonce-" * 4) != b.state.csrf.sign("nonce-" * 4)
    fixed = Settings.model_validate({**trained_settings.model_dump(), "csrf_secret": "k" * 32})
    c, d = create_app(fixed), create_app(fixed)
    assert c.state.csrf.sign("nonce-" * 4) == d.state.csrf.sign("nonce-" * 4)

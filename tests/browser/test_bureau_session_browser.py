"""The bureau login in a real Chromium (issue 14 item 3): the session cookie never holds the token,
logout ends the session, and an expired session sends the officer back to the login page."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from api.auth import create_token, hash_token
from api.settings import Settings
from store import orm
from store.db import get_sessionmaker
from tests.browser.test_selfcheck_browser import (  # noqa: F401 - the module's fixture
    CHROMIUM,
    SCREENSHOTS,
    driver,
)
from tests.conftest import LiveServer

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is not installed"),
]


def log_in(browser: WebDriver, url: str, token: str) -> None:
    browser.delete_all_cookies()
    browser.get(url + "/bureau/login")
    browser.find_element(By.ID, "token").send_keys(token)
    browser.find_element(By.CSS_SELECTOR, "form.card button[type=submit]").click()
    WebDriverWait(browser, 30).until(ec.title_contains("招商部门工作台"))


def test_login_logout_and_expiry_in_the_browser(
    driver: WebDriver,  # noqa: F811 - the fixture imported above
    live_server: LiveServer,
    trained_settings: Settings,
) -> None:
    factory = get_sessionmaker(trained_settings.database_url)
    token = create_token(factory, f"浏览器会话{uuid.uuid4().hex[:6]}", "bureau")
    url = live_server.url
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    driver.get(url + "/bureau/login")
    assert "8 小时后失效" in driver.page_source
    driver.save_screenshot(str(SCREENSHOTS / "bureau-login.png"))
    log_in(driver, url, token)
    cookies = driver.get_cookies()  # HttpOnly ones included
    session = [c for c in cookies if c["name"] == "investmatch_bureau"]
    assert session and session[0]["httpOnly"] and session[0]["path"] == "/bureau"
    assert all(token not in c["value"] for c in cookies)
    driver.save_screenshot(str(SCREENSHOTS / "bureau-logged-in.png"))

    # Logout: the page returns to the login form and the workbench is closed again.
    driver.find_element(By.CSS_SELECTOR, "form[action='/bureau/logout'] button").click()
    WebDriverWait(driver, 30).until(ec.title_contains("招商部门登录"))
    driver.get(url + "/bureau")
    assert "招商部门登录" in driver.title

    # Expiry: the same browser, logged in again, after its session's 8 hours have passed.
    log_in(driver, url, token)
    with factory.begin() as s:
        s.execute(
            update(orm.WebSession)
            .where(orm.WebSession.bureau == session_bureau(factory, token))
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    driver.get(url + "/bureau")
    assert "招商部门登录" in driver.title
    driver.save_screenshot(str(SCREENSHOTS / "bureau-session-expired.png"))


def session_bureau(factory: sessionmaker[Session], token: str) -> str:
    with factory() as s:
        return str(
            s.scalars(
                select(orm.ApiToken.bureau).where(orm.ApiToken.token_hash == hash_token(token))
            ).one()
        )

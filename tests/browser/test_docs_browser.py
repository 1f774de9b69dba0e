"""/docs and /redoc in a real Chromium with the network unplugged: every request the pages make goes
to the service on 127.0.0.1, the CSP blocks nothing, and the operations are listed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from tests.browser.test_selfcheck_browser import CHROMIUM, SCREENSHOTS, chromium
from tests.conftest import LiveServer

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is not installed"),
]


REDOC_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"


@pytest.fixture(scope="module")
def offline_driver() -> Iterator[WebDriver]:
    """Chromium that can resolve no host name and has no proxy: the network as if unplugged,
    only 127.0.0.1 reachable. Its performance log records every request the page makes."""
    args = (
        "--no-proxy-server",
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
        "--window-size=1280,1600",
    )
    with chromium(args, logs=("browser", "performance")) as browser:
        yield browser


def sent_requests(driver: WebDriver) -> list[str]:
    """URLs the page asked for, less those the browser itself refused before sending (the CSP)."""
    urls: dict[str, str] = {}
    blocked: set[str] = set()
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        params = message.get("params", {})
        if message["method"] == "Network.requestWillBeSent":
            urls[params["requestId"]] = params["request"]["url"]
        elif message["method"] == "Network.loadingFailed" and params.get("blockedReason"):
            blocked.add(params["requestId"])
    return [u for rid, u in urls.items() if rid not in blocked]


def outside(urls: list[str], server: LiveServer) -> list[str]:
    """Requests to anything but the service (data: and blob: URLs never leave the browser)."""
    local = urlsplit(server.url).netloc
    return [
        u
        for u in urls
        if urlsplit(u).scheme in ("http", "https", "ws", "wss") and urlsplit(u).netloc != local
    ]


def csp_violations(driver: WebDriver, allowed: tuple[str, ...] = ()) -> list[str]:
    return [
        e["message"]
        for e in driver.get_log("browser")
        if "Security Policy" in e["message"] and not any(a in e["message"] for a in allowed)
    ]


def test_docs_swagger_ui_loads_offline_with_bearer_authorize(
    offline_driver: WebDriver, live_server: LiveServer
) -> None:
    d = offline_driver
    d.get(live_server.url + "/docs")
    WebDriverWait(d, 60).until(
        ec.presence_of_element_located((By.CSS_SELECTOR, ".opblock-summary-path"))
    )
    paths = {e.text for e in d.find_elements(By.CSS_SELECTOR, ".opblock-summary-path")}
    assert "/v1/match" in paths and "/v1/parks/{park_id}/leads" in paths
    # The 「Authorize」 button exists because OpenAPI declares the bearer scheme; it opens a form
    # that asks for the bearer value.
    d.find_element(By.CSS_SELECTOR, "button.authorize").click()
    dialog = WebDriverWait(d, 10).until(
        ec.visibility_of_element_located((By.CSS_SELECTOR, ".modal-ux"))
    )
    assert "bearerAuth" in dialog.text and "http, bearer" in dialog.text.lower()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    d.save_screenshot(str(SCREENSHOTS / "docs-offline-authorize.png"))

    urls = sent_requests(d)
    assert any(u.endswith("/static/docs/swagger-ui-bundle.js") for u in urls)
    assert not outside(urls, live_server), outside(urls, live_server)
    assert not csp_violations(d), csp_violations(d)


def test_redoc_loads_offline(offline_driver: WebDriver, live_server: LiveServer) -> None:
    d = offline_driver
    d.get(live_server.url + "/redoc")
    WebDriverWait(d, 60).until(
        ec.presence_of_element_located((By.CSS_SELECTOR, "[data-section-id]"))
    )
    assert "招商匹配" in d.find_element(By.TAG_NAME, "h1").text
    urls = sent_requests(d)
    assert any(u.endswith("/static/docs/redoc.standalone.js") for u in urls)
    assert not outside(urls, live_server), outside(urls, live_server)
    # ReDoc always draws its makers' logo from their CDN (no option turns it off): the CSP refuses
    # that image before it is requested, and nothing else may be refused.
    assert not csp_violations(d, allowed=(REDOC_LOGO,)), csp_violations(d, (REDOC_LOGO,))
    d.save_screenshot(str(SCREENSHOTS / "redoc-offline.png"))

"""The chain-gap page's map in a real Chromium: a bureau officer logs in and sees where the park's
chains are carried in the province and where nothing carries them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from api.drawing import GAP_FILL
from tests.browser.test_selfcheck_browser import CHROMIUM, SCREENSHOTS, chromium
from tests.conftest import LiveServer

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is not installed"),
]
PARK = "cangzhou_canal_laser"


@pytest.fixture(scope="module")
def bureau_driver() -> Iterator[WebDriver]:
    with chromium(("--window-size=1280,2000",)) as browser:
        yield browser


def test_chain_gaps_page_shows_the_chains_parks_and_gaps_on_the_map(
    bureau_driver: WebDriver, live_server: LiveServer, bureau_token: str
) -> None:
    d = bureau_driver
    d.get(f"{live_server.url}/bureau/login?next=/bureau/parks/{PARK}/chain-gaps")
    d.find_element(By.ID, "token").send_keys(bureau_token)
    d.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    chain_map = WebDriverWait(d, 60).until(ec.visibility_of_element_located((By.ID, "chain-map")))
    assert chain_map.size["width"] > 300
    fills = [
        p.get_attribute("fill")
        for p in chain_map.find_elements(By.CSS_SELECTOR, ".map-counties path[fill]")
    ]
    # Counties that carry the chain in green, the gaps in light red.
    assert len(fills) == 167 and GAP_FILL in fills and len(set(fills)) >= 2
    here = chain_map.find_elements(By.CSS_SELECTOR, ".marker text")
    assert [t.text for t in here] == ["本"]
    assert len(chain_map.find_elements(By.CSS_SELECTOR, ".map-markers > circle")) > 5
    violations = [e["message"] for e in d.get_log("browser") if "Security Policy" in e["message"]]
    assert not violations, violations
    d.execute_script("arguments[0].scrollIntoView()", chain_map)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    d.find_element(By.CSS_SELECTOR, "section[aria-labelledby=h-chain-map]").screenshot(
        str(SCREENSHOTS / "bureau-chain-map.png")
    )

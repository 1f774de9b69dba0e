"""The self-check page in a real Chromium: fill the form as a user would, read the ranking, and see
the server-side validation message; screenshots go to reports/screenshots/."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests.conftest import ROOT, LiveServer

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
SCREENSHOTS = ROOT / "reports" / "screenshots"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="/usr/bin/chromium is not installed (apt-get install chromium chromium-driver)",
    ),
]


def start_chromium(options: Options, attempts: int = 3) -> WebDriver:
    """Start Chromium under chromedriver. Only the start is retried: a browser's first launch on a
    new machine (building its font cache) can outlast chromedriver's start-up wait."""
    for attempt in range(1, attempts + 1):
        try:
            return webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
        except WebDriverException:
            if attempt == attempts:
                raise
            time.sleep(2)
    raise AssertionError("unreachable")


BASE_ARGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


@contextmanager
def chromium(
    args: tuple[str, ...] = ("--window-size=1280,2000",), logs: tuple[str, ...] = ("browser",)
) -> Iterator[WebDriver]:
    """A headless Chromium with its own profile; `logs` are the log types it keeps (browser:
    console and CSP reports; performance: every network request)."""
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        options = Options()
        options.binary_location = str(CHROMIUM)
        for arg in (*BASE_ARGS, *args, f"--user-data-dir={profile}"):
            options.add_argument(arg)
        options.set_capability("goog:loggingPrefs", dict.fromkeys(logs, "ALL"))
        browser = start_chromium(options)
        browser.set_page_load_timeout(60)
        try:
            yield browser
        finally:
            browser.quit()


@pytest.fixture(scope="module")
def driver() -> Iterator[WebDriver]:
    with chromium() as browser:
        yield browser


def fill_robotics_form(driver: WebDriver, url: str) -> None:
    driver.get(url + "/")
    driver.find_element(By.ID, "f-description").send_keys(
        "主要从事工业机器人减速器、伺服电机和智能焊接装备的研发与生产，产品用于汽车焊接生产线"
    )
    driver.find_element(By.ID, "f-name").send_keys("某某智能装备有限公司")
    driver.find_element(By.ID, "f-industry_code").send_keys("C3491")
    driver.find_element(By.ID, "f-products").send_keys("RV减速器\n伺服电机")
    for field, value in (
        ("employees", "320"),
        ("annual_revenue_wan", "45000"),
        ("investment_wan", "30000"),
        ("rd_intensity", "6"),
        ("energy_tce", "1800"),
        ("land_mu", "80"),
    ):
        driver.find_element(By.ID, f"f-{field}").send_keys(value)
    Select(driver.find_element(By.ID, "f-origin")).select_by_visible_text("北京")
    top_k = driver.find_element(By.ID, "f-top_k")
    top_k.clear()
    top_k.send_keys("8")


def submit(driver: WebDriver) -> None:
    button = driver.find_element(By.CSS_SELECTOR, "form.selfcheck button[type=submit]")
    button.click()
    WebDriverWait(driver, 60).until(ec.staleness_of(button))


def test_selfcheck_submit_shows_ranking(driver: WebDriver, live_server: LiveServer) -> None:
    fill_robotics_form(driver, live_server.url)
    submit(driver)

    assert driver.find_element(By.TAG_NAME, "h1").text == "匹配结果：某某智能装备有限公司"
    names = driver.find_elements(By.CSS_SELECTOR, "h3.park-name")
    assert len(names) == 8
    assert names[0].is_displayed() and names[0].text.strip()
    first = driver.find_element(By.ID, "park-1")
    reasons = first.find_elements(By.CSS_SELECTOR, "li.reason")
    assert reasons and all(r.is_displayed() for r in reasons[:3])
    assert first.find_element(By.CSS_SELECTOR, "blockquote.policy").is_displayed()
    chart = driver.find_element(By.CSS_SELECTOR, "svg.score-chart")
    assert chart.is_displayed() and chart.size["width"] > 300
    assert "内容契合" in (chart.get_attribute("innerHTML") or "")
    assert (
        "高端装备产业" in driver.find_element(By.ID, "h-chains").find_element(By.XPATH, "..").text
    )

    # The Content-Security-Policy blocked nothing the page needs (no inline style or script).
    violations = [
        e["message"] for e in driver.get_log("browser") if "Security Policy" in e["message"]
    ]
    assert not violations, violations
    meter = driver.find_element(By.CSS_SELECTOR, "svg.meter rect")
    assert meter.size["width"] > 0  # the fit bar is drawn without an inline style

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(SCREENSHOTS / "selfcheck-result.png"))


def test_selfcheck_empty_description_shows_chinese_message(
    driver: WebDriver, live_server: LiveServer
) -> None:
    fill_robotics_form(driver, live_server.url)
    description = driver.find_element(By.ID, "f-description")
    description.clear()
    # Drop the browser-side checks so the server's validation is what answers.
    driver.execute_script(
        "arguments[0].removeAttribute('required'); arguments[0].removeAttribute('minlength');",
        description,
    )
    submit(driver)

    message = driver.find_element(By.ID, "err-description")
    assert message.is_displayed()
    assert "主营业务描述" in message.text and "必填" in message.text
    assert driver.find_element(By.CSS_SELECTOR, ".error-summary").is_displayed()
    assert driver.find_element(By.ID, "f-name").get_attribute("value") == "某某智能装备有限公司"
    assert driver.find_element(By.ID, "f-rd_intensity").get_attribute("value") == "6"
    selected = Select(driver.find_element(By.ID, "f-origin")).first_selected_option
    assert selected.text == "北京"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(SCREENSHOTS / "selfcheck-invalid.png"))


def test_selfcheck_result_fits_a_phone(driver: WebDriver, live_server: LiveServer) -> None:
    fill_robotics_form(driver, live_server.url)
    submit(driver)
    driver.set_window_size(390, 2400)
    try:
        width = driver.execute_script("return document.documentElement.clientWidth")
        scroll = driver.execute_script("return document.documentElement.scrollWidth")
        assert scroll <= width, "the result page scrolls sideways on a 390px screen"
        chart = driver.find_element(By.CSS_SELECTOR, "svg.score-chart")
        assert chart.size["width"] <= width
        driver.save_screenshot(str(SCREENSHOTS / "selfcheck-mobile.png"))
    finally:
        driver.set_window_size(1280, 2000)


def test_selfcheck_result_shows_map_and_advice(driver: WebDriver, live_server: LiveServer) -> None:
    fill_robotics_form(driver, live_server.url)
    rd = driver.find_element(By.ID, "f-rd_intensity")
    rd.clear()
    rd.send_keys("0.5")  # below the policy's 1%: advice to raise it
    submit(driver)

    fit_map = driver.find_element(By.ID, "fit-map")
    assert fit_map.is_displayed() and fit_map.size["width"] > 300
    shaded = [
        p.get_attribute("fill")
        for p in fit_map.find_elements(By.CSS_SELECTOR, ".map-cities path[fill]")
    ]
    assert len(shaded) == 11 and len(set(shaded)) >= 2  # cities shaded by their best fit
    numbers = [t.text for t in fit_map.find_elements(By.CSS_SELECTOR, ".marker text")]
    assert sorted(numbers, key=int) == [str(i) for i in range(1, 9)]  # the 8 parks numbered
    caption = driver.find_element(By.CSS_SELECTOR, "figure.map figcaption").text
    assert "示意图，不作为权属及边界依据" in caption
    driver.execute_script("arguments[0].scrollIntoView()", fit_map)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    fit_map.screenshot(str(SCREENSHOTS / "selfcheck-map.png"))

    advice = driver.find_element(By.ID, "h-advice").find_element(By.XPATH, "..")
    items = advice.find_elements(By.CSS_SELECTOR, "li.advice-item")
    assert 1 <= len(items) <= 3 and all(i.is_displayed() for i in items)
    assert "研发投入强度由0.5%提高到1%" in advice.text
    assert advice.find_elements(By.CSS_SELECTOR, "blockquote.policy")
    violations = [
        e["message"] for e in driver.get_log("browser") if "Security Policy" in e["message"]
    ]
    assert not violations, violations
    driver.execute_script("arguments[0].scrollIntoView()", advice)
    advice.screenshot(str(SCREENSHOTS / "selfcheck-advice.png"))

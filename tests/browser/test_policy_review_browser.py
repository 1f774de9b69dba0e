"""The admin's review of a new policy document in a real Chromium: log in, upload the text file,
read the proposed change with its sentence, fill in the document's title and apply."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from api.settings import Settings
from features.kb import DATA_DIR, KnowledgeBase
from tests.browser.test_selfcheck_browser import SCREENSHOTS, driver  # noqa: F401 (fixture)
from tests.conftest import ADMIN_TOKEN, LiveServer, provision

pytestmark = [pytest.mark.browser]
SECOND = DATA_DIR / "reference" / "policies" / "hebei_2023_emerging_industry_clusters.txt"


@pytest.fixture(scope="module")
def policy_server(
    tmp_path_factory: pytest.TempPathFactory, trained_settings: Settings, kb: KnowledgeBase
) -> Iterator[tuple[LiveServer, Path]]:
    root = tmp_path_factory.mktemp("policy-browser")
    data = root / "data"
    data.mkdir()
    shutil.copytree(DATA_DIR / "kb", data / "kb")
    (data / "reference").symlink_to(DATA_DIR / "reference")
    url = f"sqlite:///{root / 'app.db'}"
    provision(url, trained_settings, kb)
    settings = trained_settings.model_copy(
        update={"database_url": url, "data_dir": data, "var_dir": root, "leads_warm": False}
    )
    with LiveServer(settings) as srv:
        yield srv, data


def test_admin_reviews_and_applies_a_policy_in_chromium(driver: WebDriver, policy_server):  # noqa: F811
    srv, data = policy_server
    wait = WebDriverWait(driver, 60)
    driver.get(srv.url + "/bureau/login?next=/bureau/admin/policies")
    driver.find_element(By.ID, "token").send_keys(ADMIN_TOKEN)
    driver.find_element(By.CSS_SELECTOR, "form.card button[type=submit]").click()
    wait.until(ec.title_contains("政策文件"))

    driver.find_element(By.ID, "file").send_keys(str(SECOND))
    driver.find_element(By.CSS_SELECTOR, "form.card button[type=submit]").click()
    wait.until(ec.presence_of_element_located((By.ID, "draft-status")))
    page = (
        driver.find_element(By.TAG_NAME, "main").text
        if driver.find_elements(By.TAG_NAME, "main")
        else driver.page_source
    )
    assert "修改（1）" in page and "石家庄生物医药产业集群" in page
    assert "以石家庄高新区为核心承载区" in page
    box = driver.find_element(
        By.CSS_SELECTOR, 'input[name=accept][value="shijiazhuang_biomedicine_base"]'
    )
    assert box.is_selected()  # a newer document's change is proposed
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(SCREENSHOTS / "policy_review.png"))

    driver.find_element(By.ID, "title").send_keys(
        "加快河北省战略性新兴产业融合集群发展行动方案(2023-2027年)"
    )
    driver.find_element(By.ID, "issuer").send_keys("河北省人民政府办公厅")
    driver.find_element(By.ID, "date").send_keys("2023-04-20")
    driver.find_element(By.XPATH, "//button[text()='应用勾选的记录']").click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "draft-status"), "已应用"))
    assert "已写入知识库并立即生效" in driver.page_source
    assert (data / "kb" / "policies").is_dir()
    driver.save_screenshot(str(SCREENSHOTS / "policy_applied.png"))

"""The admin pages in a real headless Chromium, against the real stack."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.wait import WebDriverWait

from shared.keys import RenderRequest
from tests.e2e.conftest import ADMIN_PASSWORD, Stack
from tests.helpers import require

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.server]


@pytest.fixture(scope="module")
def chromium() -> Iterator[webdriver.Chrome]:
    """A headless Chromium driven by Selenium through Debian's chromedriver."""
    options = webdriver.ChromeOptions()
    options.binary_location = require("chromium")
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--no-first-run"):  # fmt: skip
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(require("chromedriver")), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def loaded(driver: webdriver.Chrome, image: object) -> bool:
    """Whether an <img> really loaded (CSP and auth let it through)."""
    return bool(
        driver.execute_script(
            "return arguments[0].complete && arguments[0].naturalWidth > 0", image
        )
    )


def test_log_in_see_open_and_delete(stack: Stack, chromium: webdriver.Chrome) -> None:
    """Log in, see the thumbnail in the list, open the detail, delete: the next fetch is a miss."""
    page = stack.page("admin-browser")
    assert requests.get(stack.image_url(page), timeout=60).headers["X-Ogshot-Cache"] == "miss"
    key = RenderRequest.build(page).cache_key()
    driver = chromium
    driver.delete_all_cookies()
    driver.get(f"{stack.web}/admin/login")
    driver.find_element(By.NAME, "password").send_keys(ADMIN_PASSWORD)
    driver.find_element(By.CSS_SELECTOR, "form.login button[type=submit]").click()
    WebDriverWait(driver, 20).until(lambda d: "/admin/login" not in d.current_url)
    driver.get(f"{stack.web}/admin/?q={stack.name}-admin-browser")
    thumb = driver.find_element(By.CSS_SELECTOR, f"img[src$='/admin/file/{key}']")
    # The list's thumbnails load lazily: after the page's load event, not before it.
    WebDriverWait(driver, 20).until(lambda d: loaded(d, thumb))
    thumb.click()
    WebDriverWait(driver, 20).until(lambda d: d.current_url.endswith(f"/admin/image/{key}"))
    assert loaded(driver, driver.find_element(By.CSS_SELECTOR, "img.full"))
    assert "x-card" in driver.page_source
    driver.find_element(By.CSS_SELECTOR, "button.danger").click()
    # Submitting navigates asynchronously: wait for the list page to come back.
    WebDriverWait(driver, 20).until(lambda d: d.current_url.rstrip("/").endswith("/admin"))
    assert "Delete: 1 image(s)." in driver.page_source
    again = requests.get(stack.image_url(page), timeout=60)
    assert again.headers["X-Ogshot-Cache"] == "miss"
    assert stack.pages.count(f"/page/{stack.name}-admin-browser") == 2

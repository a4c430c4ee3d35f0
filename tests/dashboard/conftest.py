"""Headless Chromium (Debian's ``chromium`` + ``chromium-driver``) driven by Selenium.

``scripts/setup.sh`` installs both; screenshots land in ``test-artifacts/dashboard/``.
:class:`Dashboard` signs in, opens pages by their route, checks the browser log and saves
full-page screenshots at a laptop and a phone size.
"""

from __future__ import annotations

import base64
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.server.conftest import served  # noqa: F401  (a server with a job worker, for test_pages)
from tests.services import require

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "dashboard"
LAPTOP = (1280, 800)
PHONE = (390, 844)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    require("chromium")  # setup.sh installs it; a bare checkout may not have run it
    driver_path = shutil.which("chromedriver")
    options = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1366,900"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    driver.set_page_load_timeout(30)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    try:
        yield driver
    finally:
        driver.quit()


class Dashboard:
    """The dashboard of the server at ``url``, signed in with ``key``, in ``browser``."""

    def __init__(self, browser: Any, url: str, key: str):
        self.browser = browser
        self.url = url
        self.key = key

    def sign_in(self) -> None:
        self.browser.get(self.url + "/")
        self.browser.execute_script("localStorage.setItem('openrft.apiKey', arguments[0])", self.key)
        self.browser.get(self.url + "/")
        self.wait_rendered(None)

    def ready(self) -> str | None:
        return self.browser.execute_script("return document.getElementById('view').dataset.ready || null")

    def wait_rendered(self, before: str | None, timeout: float = 30) -> None:
        """Until the router has rendered a page again (``#view[data-ready]`` moved past ``before``)."""
        deadline = time.monotonic() + timeout
        while self.ready() in (None, before):
            assert time.monotonic() < deadline, "the page did not render"
            time.sleep(0.05)

    def open(self, route: str, *, charts: int = 0) -> Any:
        """Go to ``#{route}``, wait for the page and for ``charts`` drawn uPlot canvases; the view."""
        from selenium.webdriver.common.by import By

        before = self.ready()
        self.browser.execute_script("location.hash = arguments[0]", route)
        self.wait_rendered(before)
        self.wait(lambda: len(self.browser.find_elements(By.CSS_SELECTOR, "#view .uplot canvas")) >= charts)
        view = self.browser.find_element(By.ID, "view")
        assert "Could not load this page" not in view.text, view.text
        return view

    def click(self, css: str, timeout: float = 30) -> None:
        """Click the element ``css`` finds; again if a live page re-rendered under the click."""
        from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
        from selenium.webdriver.common.by import By

        deadline = time.monotonic() + timeout
        while True:
            try:
                self.browser.find_element(By.CSS_SELECTOR, css).click()
                return
            except (NoSuchElementException, StaleElementReferenceException):
                assert time.monotonic() < deadline, f"nothing to click at {css}"
                time.sleep(0.1)

    def wait(self, condition: Any, timeout: float = 30) -> Any:
        deadline = time.monotonic() + timeout
        while not (value := condition()):
            assert time.monotonic() < deadline, "timed out waiting in the browser"
            time.sleep(0.05)
        return value

    def errors(self) -> list[dict[str, Any]]:
        """The browser log's errors since the last call (reading the log empties it)."""
        return [e for e in self.browser.get_log("browser") if e["level"] == "SEVERE"]

    def screenshot(self, name: str, size: tuple[int, int] = LAPTOP) -> Path:
        """The whole page, laid out at ``size`` (CSS pixels), as ``test-artifacts/dashboard/{name}.png``."""
        width, height = size
        self.browser.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600},
        )
        try:
            time.sleep(0.3)  # charts follow their box's new width on the next animation frame
            content = self.browser.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
            shot = self.browser.execute_cdp_cmd(
                "Page.captureScreenshot",
                {
                    "format": "png",
                    "captureBeyondViewport": True,
                    "clip": {"x": 0, "y": 0, "width": width, "height": content["height"], "scale": 1},
                },
            )
        finally:
            self.browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
        path = ARTIFACTS / f"{name}.png"
        path.write_bytes(base64.b64decode(shot["data"]))
        return path

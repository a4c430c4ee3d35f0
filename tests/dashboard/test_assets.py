"""The dashboard's page loads in headless Chromium with only packaged assets and no script errors.

The pages that show jobs and evals are exercised against a real server in the server's tests;
this checks the shell every page runs in.
"""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from openrft.dashboard import STATIC_DIR, mount_dashboard
from tests.dashboard.conftest import ARTIFACTS

pytestmark = [pytest.mark.slow, pytest.mark.needs("chromium")]


@pytest.fixture(scope="module")
def dashboard_url() -> Iterator[str]:
    import uvicorn
    from fastapi import FastAPI

    app = FastAPI()
    mount_dashboard(app)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


def test_no_asset_comes_from_the_network():
    for path in STATIC_DIR.rglob("*"):
        if path.suffix in {".html", ".js", ".css"} and "vendor" not in path.parts:
            text = path.read_text()
            assert not re.search(r"(src|href)=[\"']https?://", text), path
            assert "cdn" not in text.lower(), path


def test_the_sign_in_page_renders_without_errors(browser, dashboard_url):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(dashboard_url + "/")
    WebDriverWait(browser, 15).until(ec.presence_of_element_located((By.CSS_SELECTOR, "form.login")))
    assert browser.find_element(By.TAG_NAME, "h1").text == "Sign in"
    assert browser.execute_script("return typeof uPlot") == "function"  # the vendored chart library loaded
    severe = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert severe == []
    browser.save_screenshot(str(ARTIFACTS / "sign-in.png"))

"""The dashboard under the server's Content-Security-Policy: it signs in, shows the project the
key belongs to, lists only that project's resources, and the browser reports no violation."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.dashboard.conftest import Dashboard, browser  # noqa: F401  (the headless Chromium)
from tests.server.conftest import Running, run_server

pytestmark = [pytest.mark.slow, pytest.mark.needs("chromium")]
GRADER = {
    "type": "string_check",
    "name": "s",
    "input": "{{sample.output_text}}",
    "reference": "a",
    "operation": "eq",
}


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    with run_server(tmp_path_factory.mktemp("dashboard-projects")) as server:
        yield server


def test_the_header_shows_the_signed_in_project_and_nothing_breaks_the_policy(
    browser: Any,  # noqa: F811
    running: Running,
) -> None:
    from selenium.webdriver.common.by import By

    _, key_a = running.store.keys.create("team-a")
    _, key_b = running.store.keys.create("team-b")
    for key, name in ((key_a, "graded-by-a"), (key_b, "graded-by-b")):
        body = {"name": name, "grader": GRADER}
        httpx.post(
            f"{running.base_url}/openrft/graders", json=body, headers={"Authorization": f"Bearer {key}"}
        )
    dash = Dashboard(browser, running.url, key_a)
    dash.sign_in()
    dash.wait(lambda: browser.find_element(By.ID, "project").is_displayed())
    assert browser.find_element(By.ID, "project").text == "project team-a"
    view = dash.open("/playground")
    dash.wait(lambda: "graded-by-a" in view.text)
    assert "graded-by-b" not in browser.find_element(By.ID, "view").text
    Dashboard(browser, running.url, running.key).sign_in()  # the server's own key: an admin key
    dash.wait(lambda: "admin" in browser.find_element(By.ID, "project").text)
    assert browser.find_element(By.ID, "project").text.startswith("project default")
    severe = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert severe == [], severe

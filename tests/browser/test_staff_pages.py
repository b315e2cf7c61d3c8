"""The agent desk and the trace viewer in headless Chromium, driven by keyboard."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.browser.test_widget_browser import ARTIFACTS, _wait, browser  # noqa: F401 - fixture
from tests.integration.live_server import LiveServer, cli_path, live_server

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with live_server(tmp_path_factory.mktemp("staff-pages")) as live:
        yield live


def _escalated_thread(server: LiveServer) -> str:
    token = subprocess.run(
        [cli_path(), "token", "--customer", "james_li_5688"],
        env=server.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.strip()
    headers = {"x-api-key": server.create_key("customer"), "authorization": f"Bearer {token}"}
    thread_id = ""
    with httpx.Client(base_url=server.url, timeout=60) as client:
        for message in ("How do I return an item?", "I want to talk to a human"):
            body: dict[str, Any] = {"message": message}
            if thread_id:
                body["thread_id"] = thread_id
            response = client.post("/v1/chat/stream", json=body, headers=headers)
            first = next(line for line in response.text.splitlines() if line.startswith("data:"))
            thread_id = str(json.loads(first[5:])["thread_id"])
    return thread_id


def _login(driver: Any, url: str, key: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    driver.get(url)
    field = driver.find_element(By.ID, "key")
    field.send_keys(key)
    driver.find_element(By.ID, "save-key").send_keys(Keys.ENTER)


def test_agent_desk_claims_drafts_and_replies(browser: Any, server: LiveServer) -> None:  # noqa: F811
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    thread_id = _escalated_thread(server)
    _login(browser, server.url + "/agent", server.create_key("agent"))
    item = _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#queue button"))[0]
    assert "customer_requested_human" in item.text
    item.send_keys(Keys.ENTER)
    _wait(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#messages .msg")) >= 3)
    assert "Claimed" in browser.find_element(By.ID, "conv-meta").text
    browser.find_element(By.ID, "ticket").send_keys("How long do PayPal refunds take?")
    browser.find_element(By.ID, "draft").send_keys(Keys.ENTER)
    reply = browser.find_element(By.ID, "reply")
    _wait(browser, lambda d: "business days" in reply.get_attribute("value"))
    assert browser.find_elements(By.CSS_SELECTOR, "#sources li")
    reply.send_keys(" Anything else I can do?")
    browser.find_element(By.ID, "send").send_keys(Keys.ENTER)
    status = browser.find_element(By.ID, "status-line")
    _wait(browser, lambda d: "Sent (edit)" in status.text)
    ARTIFACTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "agent-desk.png"))
    with httpx.Client(base_url=server.url, timeout=30) as client:
        state = client.get(
            f"/threads/{thread_id}/state", headers={"x-api-key": server.create_key("engineer")}
        ).json()
    assert state["values"]["messages"][-1]["content"].endswith("Anything else I can do?")


def test_trace_page_shows_path_and_timeline(browser: Any, server: LiveServer) -> None:  # noqa: F811
    from selenium.webdriver.common.by import By

    thread_id = _escalated_thread(server)
    _login(browser, server.url + f"/traces/{thread_id}", server.create_key("engineer"))
    _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#path li"))
    path = [li.text for li in browser.find_elements(By.CSS_SELECTOR, "#path li")]
    assert path[:3] == ["input_guard", "route", "retrieve"]
    assert "escalate" in path
    assert browser.find_elements(By.CSS_SELECTOR, "#steps tr")
    browser.save_screenshot(str(ARTIFACTS / "trace-page.png"))

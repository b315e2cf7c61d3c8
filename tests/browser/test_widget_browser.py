"""The demo page in a real headless Chromium: the widget opens, streams, cites and recovers."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import skip_or_fail
from tests.fake_llm_server import INVENT
from tests.integration.live_server import LiveServer, live_server_with_model
from tests.integration.tcp_proxy import CuttableProxy

pytestmark = pytest.mark.integration
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    # Slow enough that a run spans seconds, so the test can cut the network mid-run and
    # see the first sentences before the model has finished.
    data_dir = tmp_path_factory.mktemp("browser-server")
    with live_server_with_model(data_dir, ttft=0.3, tps=16, tokens=48) as live:
        yield live


@pytest.fixture
def browser() -> Iterator[Any]:
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        skip_or_fail("Debian chromium and chromium-driver are not installed")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1200,900",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def _ask(driver: Any, server: LiveServer, text: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    driver.get(server.url + "/")
    launcher = driver.find_element(By.CSS_SELECTOR, ".sf-launcher")
    launcher.send_keys(Keys.ENTER)
    box = driver.switch_to.active_element
    assert box.get_attribute("id") == "sf-input"
    box.send_keys(text)
    box.send_keys(Keys.ENTER)


def _wait(driver: Any, condition: Any, seconds: float = 60) -> Any:
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, seconds, poll_frequency=0.1).until(condition)


def _bot_text(driver: Any) -> str:
    from selenium.webdriver.common.by import By

    texts = driver.find_elements(By.CSS_SELECTOR, ".sf-msg.sf-bot .sf-text")
    return str(texts[-1].text) if texts else ""


def _finished(driver: Any) -> bool:
    from selenium.webdriver.common.by import By

    button = driver.find_element(By.CSS_SELECTOR, ".sf-send")
    return bool(button.is_enabled() and _bot_text(driver))


def test_widget_streams_an_answer_with_a_citation(browser: Any, server: LiveServer) -> None:
    from selenium.webdriver.common.by import By

    _ask(browser, server, "How do I return an item?")
    _wait(browser, _finished)
    answer = _bot_text(browser)
    assert "return" in answer.lower()
    sources = browser.find_elements(By.CSS_SELECTOR, ".sf-sources li")
    assert sources
    assert sources[0].text
    log = browser.find_element(By.CSS_SELECTOR, ".sf-log")
    assert log.get_attribute("role") == "log"
    assert log.get_attribute("aria-live") == "polite"
    ARTIFACTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "widget-answer.png"))


def test_widget_shows_the_handoff(browser: Any, server: LiveServer) -> None:
    from selenium.webdriver.common.by import By

    _ask(browser, server, "I want to talk to a human")
    banner = _wait(browser, lambda d: d.find_element(By.CSS_SELECTOR, ".sf-banner"))
    _wait(browser, lambda d: banner.is_displayed())
    assert "support team" in banner.text
    assert browser.find_elements(By.CSS_SELECTOR, ".sf-msg.sf-human")


def test_widget_resumes_after_a_network_drop(browser: Any, server: LiveServer) -> None:
    from selenium.webdriver.common.by import By

    port = int(server.url.rsplit(":", 1)[1])
    proxy = CuttableProxy(port)
    try:
        proxied = LiveServer(f"http://127.0.0.1:{proxy.port}", server.process, server.env)
        _ask(browser, proxied, "How long do refunds take?")
        status = browser.find_element(By.CSS_SELECTOR, ".sf-status")
        _wait(browser, lambda d: "help centre" in status.text or "Writing" in status.text)
        assert proxy.cut() > 0
        _wait(browser, _finished)
    finally:
        proxy.close()
    answer = _bot_text(browser)
    assert "refund" in answer.lower()
    bubbles = browser.find_elements(By.CSS_SELECTOR, ".sf-msg.sf-bot")
    assert len(bubbles) == 1, [b.text for b in bubbles]
    assert "Connection lost" not in answer
    browser.save_screenshot(str(ARTIFACTS / "widget-after-reconnect.png"))


def _sending(driver: Any) -> bool:
    from selenium.webdriver.common.by import By

    return not driver.find_element(By.CSS_SELECTOR, ".sf-send").is_enabled()


def test_widget_shows_sentences_while_the_answer_is_written(
    browser: Any, server: LiveServer
) -> None:
    _ask(browser, server, "How do I return an item?")
    first = _wait(browser, lambda d: _bot_text(d))
    assert _sending(browser)  # the turn is still running: the model is still writing
    _wait(browser, _finished)
    answer = _bot_text(browser)
    assert answer.startswith(first)
    assert len(answer) > len(first)


def test_widget_withdraws_sentences_of_a_rejected_answer(browser: Any, server: LiveServer) -> None:
    from selenium.webdriver.common.by import By

    _ask(browser, server, f"How do I return an item? {INVENT}")
    shown = _wait(browser, lambda d: _bot_text(d))
    banner = _wait(browser, lambda d: d.find_element(By.CSS_SELECTOR, ".sf-banner"))
    _wait(browser, lambda d: banner.is_displayed())
    texts = [t.text for t in browser.find_elements(By.CSS_SELECTOR, ".sf-msg.sf-bot .sf-text")]
    assert all(shown not in text for text in texts), texts
    assert browser.find_elements(By.CSS_SELECTOR, ".sf-msg.sf-human")

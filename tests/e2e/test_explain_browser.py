"""The Explain page in a real browser: a link with method, class and opacity opens on a trained digits run and
draws its overlay, with no exception box. The screenshot goes to test-artifacts/browser/explain-link.png."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlparse

import pytest

from bench.live_app import browser, wait_text
from tests.live_app import ARTIFACTS, serve_app, train_digits_run


@pytest.fixture(scope="module")
def trained_server(tmp_path_factory):
    """A server whose cache holds one digits run, trained here first (2 epochs); yields (url, run id)."""
    cache = tmp_path_factory.mktemp("explain-browser-cache")
    run_id = train_digits_run(str(cache))
    log_path = tmp_path_factory.mktemp("log") / "streamlit.log"
    for url in serve_app(cache, log_path, "streamlit-explain.log"):
        yield url, run_id


def test_an_explain_link_opens_with_its_method_class_and_opacity(trained_server):
    from selenium.webdriver.support.ui import WebDriverWait

    url, run_id = trained_server
    driver = browser()
    try:
        driver.get(f"{url}/explain?run={run_id}&method=Saliency&class=3&opacity=0.4")
        wait_text(driver, run_id, timeout=180)
        wait_text(driver, "Saliency: evidence for class 3", timeout=180)  # the overlay's title, drawn by Plotly
        WebDriverWait(driver, 120, poll_frequency=0.5).until(
            lambda d: len(d.find_elements("css selector", ".js-plotly-plot .heatmaplayer")) >= 1
        )
        time.sleep(1.0)
        assert not driver.find_elements("css selector", '[data-testid="stException"]')
        body = driver.find_element("tag name", "body").text
        assert "Class probabilities" in body
        query = parse_qs(urlparse(driver.current_url).query)
        assert query.get("opacity") == ["0.4"] and query.get("class") == ["3"] and query.get("method") == ["Saliency"]
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        driver.set_window_size(1400, 2200)
        time.sleep(1.0)
        driver.save_screenshot(str(ARTIFACTS / "explain-link.png"))
    finally:
        driver.quit()

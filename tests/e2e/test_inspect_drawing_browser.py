"""Inspect's drawing in a real browser: strokes drawn with the mouse on the real canvas survive a tab switch and a
page switch (the tab is drawn only while open, so the canvas mounts again from the kept drawing), "What the model
sees" is back at once, and the canvas's bin and the page's Clear empty it for good. The screenshot of the restored
drawing goes to test-artifacts/browser/inspect-drawing.png."""

from __future__ import annotations

import time

import pytest

from bench.live_app import browser, wait_text
from tests.live_app import ARTIFACTS, serve_app, train_digits_run

EMPTY = "draw a digit first"
SEES = "What the model sees"
# The canvas component draws into a shadow root; fabric.js takes the mouse on its upper canvas and paints the
# strokes on the lower one.
CANVAS_JS = "return [...document.querySelectorAll('*')].find(e => e.shadowRoot)?.shadowRoot"
INK_JS = """
const root = [...document.querySelectorAll('*')].find(e => e.shadowRoot)?.shadowRoot;
const canvas = root && root.querySelector('canvas.dc-canvas.lower-canvas');
if (!canvas) return -1;
const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
let ink = 0;
for (let i = 0; i < data.length; i += 4) if (data[i] > 128 && data[i + 3] > 128) ink++;
return ink;
"""


@pytest.fixture(scope="module")
def trained_server(tmp_path_factory):
    """A server whose cache holds one digits run (1 epoch: only its input and probabilities are looked at)."""
    cache = tmp_path_factory.mktemp("inspect-drawing-cache")
    run_id = train_digits_run(str(cache), epochs=1)
    log_path = tmp_path_factory.mktemp("log") / "streamlit.log"
    for url in serve_app(cache, log_path, "streamlit-inspect-drawing.log"):
        yield url, run_id


def _upper_canvas(driver):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, 60, poll_frequency=0.5).until(
        lambda d: d.execute_script(CANVAS_JS.replace("?.shadowRoot", "?.shadowRoot?.querySelector('.upper-canvas')"))
    )


def _draw_seven(driver) -> None:
    """Two mouse strokes on the 280x280 canvas (offsets from its centre): the bar and the diagonal of a 7."""
    from selenium.webdriver.common.action_chains import ActionChains

    canvas = _upper_canvas(driver)
    for (x0, y0), (x1, y1) in (((-70, -90), (70, -90)), ((70, -90), (-20, 100))):
        chain = ActionChains(driver).move_to_element_with_offset(canvas, x0, y0).click_and_hold()
        for step in range(1, 11):
            chain.move_to_element_with_offset(canvas, x0 + (x1 - x0) * step // 10, y0 + (y1 - y0) * step // 10)
        chain.release().perform()
        time.sleep(0.3)


def _press(driver, label: str) -> None:
    """One of the canvas's toolbar buttons, by its label; then the rerun it starts."""
    driver.execute_script(CANVAS_JS + f".querySelector('[aria-label=\"{label}\"]').click()")
    _settled(driver, 1.0)


def _ink(driver) -> int:
    return driver.execute_script(INK_JS)


def _open_tab(driver, label: str, then: str) -> None:
    driver.find_element("xpath", f"//*[@role='tab'][contains(., '{label}')]").click()
    wait_text(driver, then, timeout=120)


def _settled(driver, seconds: float = 2.0) -> str:
    """The page's text once the rerun after a click has finished (Streamlit shows a running widget meanwhile)."""
    from selenium.webdriver.support.ui import WebDriverWait

    time.sleep(seconds)
    WebDriverWait(driver, 60, poll_frequency=0.5).until(
        lambda d: not d.find_elements("css selector", '[data-testid="stStatusWidget"]')
    )
    return driver.find_element("tag name", "body").text


def test_a_drawing_survives_tab_and_page_switches_and_clears_for_good(trained_server):
    url, run_id = trained_server
    driver = browser()
    try:
        driver.get(f"{url}/inspect?run={run_id}&tab=Draw%20a%20digit")
        wait_text(driver, EMPTY, timeout=180)
        _upper_canvas(driver)
        time.sleep(1.0)

        # The bin on a canvas that opened empty: the drawing is gone, and stays gone after a tab switch.
        _draw_seven(driver)
        wait_text(driver, SEES)
        assert _ink(driver) > 500
        _press(driver, "Reset canvas & history")
        wait_text(driver, EMPTY)
        _open_tab(driver, "First-layer kernels", "Edge and stroke detectors")
        _open_tab(driver, "Draw a digit", "Brush")
        assert EMPTY in _settled(driver) and _ink(driver) == 0

        # Drawn again: back after a tab switch, strokes and results.
        _draw_seven(driver)
        wait_text(driver, SEES)
        drawn = _ink(driver)
        assert drawn > 500
        # The canvas was not reloaded by a stroke (its undo history would be gone): Undo takes back the diagonal.
        _press(driver, "Undo")
        assert 0 < _ink(driver) < drawn * 0.8, (_ink(driver), drawn)
        _press(driver, "Redo")
        assert abs(_ink(driver) - drawn) <= drawn * 0.02, (_ink(driver), drawn)
        _open_tab(driver, "A test image", "Feature maps")
        assert SEES not in _settled(driver)
        _open_tab(driver, "Draw a digit", SEES)
        assert abs(_ink(driver) - drawn) <= drawn * 0.02, (_ink(driver), drawn)  # the same strokes, redrawn
        assert not driver.find_elements("css selector", '[data-testid="stException"]')
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        time.sleep(1.0)
        driver.save_screenshot(str(ARTIFACTS / "inspect-drawing.png"))

        # ... and after a page switch.
        driver.find_element("css selector", '[data-testid="stSidebarNav"] a[href$="/data"]').click()
        wait_text(driver, "Class distribution", timeout=120)
        driver.find_element("css selector", '[data-testid="stSidebarNav"] a[href$="/inspect"]').click()
        wait_text(driver, "Inspect", timeout=120)
        if "Brush" not in _settled(driver):  # the page opened on another tab
            _open_tab(driver, "Draw a digit", "Brush")
        wait_text(driver, SEES)
        assert abs(_ink(driver) - drawn) <= drawn * 0.02, (_ink(driver), drawn)

        # Clear: a fresh canvas, and nothing comes back after a tab switch.
        driver.find_element("xpath", "//button[normalize-space(.)='Clear']").click()
        wait_text(driver, EMPTY)
        assert _ink(driver) == 0
        _open_tab(driver, "First-layer kernels", "Edge and stroke detectors")
        _open_tab(driver, "Draw a digit", "Brush")
        assert EMPTY in _settled(driver) and SEES not in _settled(driver, 0.5) and _ink(driver) == 0
        assert not driver.find_elements("css selector", '[data-testid="stException"]')
    finally:
        driver.quit()

"""The Data page in a real browser, used as a person uses it: the Leakage tab opened from a link shows the counts a
brute-force numpy comparison of every test/train pair gives, and "Pictures on hover" on the 2-D map makes the
tooltip show the hovered point's own image (a PNG data URI that decodes to that dataset image's pixels).

Oracles are independent of the code under test: the leakage counts come from a full numpy distance matrix (no
neighbour search), and the tooltip's picture is checked against the raw dataset array scaled here by hand.
"""

from __future__ import annotations

import base64
import io
import math
import re
import time

import numpy as np
import pytest

from bench.live_app import browser, wait_text
from tests.live_app import ARTIFACTS, serve_app, train_digits_run

PNG_PREFIX = "data:image/png;base64,"


@pytest.fixture(scope="module")
def trained_server(tmp_path_factory):
    """The app on a cache holding one digits run (2 epochs, trained here first); yields (url, run id). The Data page
    tests use it too: one server for the file."""
    cache = tmp_path_factory.mktemp("data-browser-cache")
    run_id = train_digits_run(str(cache))
    log_path = tmp_path_factory.mktemp("data-log") / "streamlit.log"
    for url in serve_app(cache, log_path, "streamlit-data-leakage-hover.log"):
        yield url, run_id


@pytest.fixture(scope="module")
def server(trained_server):
    return trained_server[0]


@pytest.fixture(scope="module")
def digits():
    from engine.datasets import load_dataset

    return load_dataset("digits")


@pytest.fixture
def driver():
    chrome = browser()
    yield chrome
    chrome.quit()


def _nearest_rms(digits) -> np.ndarray:
    """Each test image's RMS distance (pixels scaled to 0..1) to its nearest training image: every pair computed."""
    test = digits.x_test.reshape(len(digits.x_test), -1).astype(np.float64) / digits.value_max
    train = digits.x_train.reshape(len(digits.x_train), -1).astype(np.float64) / digits.value_max
    distances = np.sqrt(((test[:, None, :] - train[None, :, :]) ** 2).mean(axis=2))
    return distances.min(axis=1)


def _body(driver) -> str:
    return driver.find_element("tag name", "body").text


def _metric(driver, label: str, timeout: float = 180) -> int:
    """The whole number an `st.metric` labelled `label` shows, once it is on the page."""
    from selenium.webdriver.support.ui import WebDriverWait

    found = WebDriverWait(driver, timeout, poll_frequency=0.5).until(
        lambda d: re.search(rf"{re.escape(label)}\s*\n\s*([\d,]+)", _body(d))
    )
    return int(found.group(1).replace(",", ""))


def _assert_no_error(driver) -> None:
    assert not driver.find_elements("css selector", '[data-testid="stException"]'), "an exception box is shown"
    body = _body(driver)
    assert "Traceback" not in body
    assert not driver.find_elements("css selector", '[data-testid="stAlertContentError"]'), body[-2000:]


def test_the_leakage_tab_from_a_link_counts_what_brute_force_finds(server, driver, digits):
    nearest = _nearest_rms(digits)
    from engine.leakage import DEFAULT_THRESHOLD

    driver.get(f"{server}/data?dataset=digits&tab=Leakage")
    wait_text(driver, "Train/test leakage", timeout=180)
    exact = _metric(driver, "Exact copies")
    near = _metric(driver, "Near copies")
    compared = _metric(driver, "Test images compared")
    _assert_no_error(driver)
    assert exact == int((nearest == 0).sum()) == 0  # the UCI digits hold no byte-identical test/train pair
    assert exact + near == int((nearest <= DEFAULT_THRESHOLD + 1e-12).sum())
    assert compared == len(digits.x_test)
    if exact + near == 0:
        wait_text(driver, f"No test image lies within {DEFAULT_THRESHOLD:g} of a training image", timeout=30)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(ARTIFACTS / "data-leakage.png"))


def test_a_looser_threshold_in_the_link_finds_the_brute_force_pairs(server, driver, digits):
    """At 0.09 some distinct but similar digits count as near copies: a count that is not zero, and the caption for
    the pairs not listed (pairs=10) says how many more there are."""
    threshold, listed = 0.09, 10
    nearest = _nearest_rms(digits)
    expected = int((nearest <= threshold).sum())
    assert expected > listed  # the oracle itself: this threshold must give a count worth checking

    driver.get(f"{server}/data?dataset=digits&tab=Leakage&near={threshold}&pairs={listed}")
    wait_text(driver, "Train/test leakage", timeout=180)
    exact = _metric(driver, "Exact copies")
    near = _metric(driver, "Near copies")
    assert (exact, near) == (0, expected)
    wait_text(driver, f"{expected - listed:,} more pair(s) not listed", timeout=60)
    _assert_no_error(driver)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(ARTIFACTS / "data-leakage-near.png"))


# ----- pictures on hover ---------------------------------------------------------------------------------------------


def _expected_thumbnail(image: np.ndarray, value_max: float, min_side: int = 48) -> np.ndarray:
    """A dataset image as the tooltip should draw it: 0..value_max to 0..255 grey, each pixel a square block so the
    longer side is at least `min_side` (written out here, not taken from the product)."""
    grey = np.clip(np.round(image.reshape(image.shape[0], image.shape[1]) / value_max * 255.0), 0, 255)
    scale = max(1, math.ceil(min_side / max(grey.shape)))
    return np.kron(grey, np.ones((scale, scale))).astype(np.uint8)


def _decode_png(uri: str) -> np.ndarray:
    from PIL import Image

    assert uri.startswith(PNG_PREFIX), uri[:80]
    picture = Image.open(io.BytesIO(base64.b64decode(uri[len(PNG_PREFIX) :], validate=True)))
    assert picture.format == "PNG"
    return np.asarray(picture.convert("L"))


def _tooltip(driver):
    """The Vega tooltip, shown (vega-tooltip marks it "visible") and holding a picture, or None."""
    for element in driver.find_elements("css selector", "#vg-tooltip-element"):
        shown = element.is_displayed() and "visible" in (element.get_attribute("class") or "").split()
        if shown and element.find_elements("css selector", "img"):
            return element
    return None


def _hover_until_tooltip(driver, chart, timeout: float = 120):
    """Point at the chart's marks until the tooltip shows a picture: SVG marks one by one, or (canvas) a spiral of
    positions out from the plot's centre. Returns the tooltip element."""
    from selenium.webdriver.common.action_chains import ActionChains

    deadline = time.time() + timeout
    symbols = chart.find_elements("css selector", ".mark-symbol path")
    if symbols:
        for symbol in symbols[len(symbols) // 2 :] + symbols[: len(symbols) // 2]:
            ActionChains(driver).move_to_element(symbol).perform()
            time.sleep(0.15)
            if (tip := _tooltip(driver)) is not None:
                return tip
            if time.time() > deadline:
                break
        pytest.fail("no SVG point showed a tooltip with a picture")
    canvas = chart.find_element("css selector", "canvas")
    width, height = canvas.size["width"], canvas.size["height"]
    # The plot area sits left of the legend; its centre is roughly 45% across and halfway down.
    cx, cy = int(width * 0.45), int(height * 0.5)
    step = 5
    for radius in range(0, max(width, height) // 2, step):
        ring = [(0, 0)] if radius == 0 else []
        if radius:
            for k in range(max(8, int(2 * math.pi * radius / step))):
                angle = 2 * math.pi * k / max(8, int(2 * math.pi * radius / step))
                ring.append((int(radius * math.cos(angle)), int(radius * math.sin(angle))))
        for dx, dy in ring:
            x, y = cx + dx, cy + dy
            if not (2 <= x < width - 2 and 2 <= y < height - 2):
                continue
            # Selenium 4 offsets are from the element's centre.
            ActionChains(driver).move_to_element_with_offset(canvas, x - width // 2, y - height // 2).perform()
            if (tip := _tooltip(driver)) is not None:
                return tip
            if time.time() > deadline:
                pytest.fail("no position on the canvas showed a tooltip with a picture")
    pytest.fail("no position on the canvas showed a tooltip with a picture")


def _check_tooltip_picture(tip, images: np.ndarray, labels: np.ndarray, value_max: float, index_label: str) -> int:
    """The tooltip's picture decodes to the image its own index names, and the class it names is that image's
    label (the bundled digits' class names are the digits); returns that index."""
    source = tip.find_element("css selector", "img").get_attribute("src")
    shown = _decode_png(source)
    found = re.search(rf"{re.escape(index_label)}\s*:?\s*([\d,]+)", tip.text)
    assert found, f"the tooltip names no {index_label!r}: {tip.text!r}"
    index = int(found.group(1).replace(",", ""))
    expected = _expected_thumbnail(images[index], value_max)
    assert shown.shape == expected.shape, (shown.shape, expected.shape)
    assert np.array_equal(shown, expected), f"the tooltip's picture is not {index_label} {index}"
    named_class = re.search(r"(?m)^\s*class\s*:?\s*(\d+)\s*$", tip.text)
    assert named_class, f"the tooltip names no class: {tip.text!r}"
    assert int(named_class.group(1)) == int(labels[index])
    return index


def test_pictures_on_hover_on_the_data_map_show_the_hovered_image(server, driver, digits):
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(f"{server}/data?dataset=digits&tab=2-D+map")
    wait_text(driver, "2-D map of the images", timeout=180)
    wait_text(driver, "Pictures on hover", timeout=60)
    toggle = WebDriverWait(driver, 60).until(
        lambda d: next(
            (t for t in d.find_elements("css selector", '[data-testid="stCheckbox"]') if "Pictures on hover" in t.text),
            None,
        )
    )
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", toggle)
    toggle.find_element("css selector", "label").click()  # as a person does: click the toggle
    wait_text(driver, "Hover a point to see its image; click one", timeout=120)
    chart = WebDriverWait(driver, 120).until(
        lambda d: next(
            (
                c
                for c in d.find_elements("css selector", '[data-testid="stVegaLiteChart"], .stVegaLiteChart')
                if c.find_elements("css selector", "canvas, svg.marks")
            ),
            None,
        )
    )
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", chart)
    time.sleep(1.5)  # let Vega finish its first render
    tip = _hover_until_tooltip(driver, chart)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(ARTIFACTS / "data-map-pictures-on-hover.png"))
    _check_tooltip_picture(tip, digits.x_train, digits.y_train, digits.value_max, "train image #")
    _assert_no_error(driver)


def test_pictures_on_hover_on_explains_embedding_map_show_the_test_image_and_a_click_selects_it(
    trained_server, driver, digits
):
    """The link turns the pictures on; the learned-features map's tooltip shows the hovered test image, and a click on
    that point still opens it below the maps, as the Plotly maps do."""
    from selenium.webdriver.common.action_chains import ActionChains

    url, run_id = trained_server
    driver.get(f"{url}/explain?run={run_id}&tab=Embedding+map&pictures=1")
    wait_text(driver, "Click a point on either map", timeout=240)
    charts = []
    for _ in range(240):
        charts = [
            c
            for c in driver.find_elements("css selector", '[data-testid="stVegaLiteChart"], .stVegaLiteChart')
            if c.find_elements("css selector", "canvas, svg.marks")
        ]
        if len(charts) >= 2:
            break
        time.sleep(0.5)
    assert len(charts) == 2, "the two maps are not drawn as Vega-Lite charts with the pictures on"
    assert not driver.find_elements("css selector", ".stPlotlyChart .scatterlayer"), "a Plotly map is still shown"
    learned = charts[0]  # left column: the learned features
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", learned)
    time.sleep(1.5)
    tip = _hover_until_tooltip(driver, learned)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(ARTIFACTS / "explain-map-pictures-on-hover.png"))
    assert re.search(r"predicted\s*:?\s*\d", tip.text), tip.text
    index = _check_tooltip_picture(tip, digits.x_test, digits.y_test, digits.value_max, "test image #")
    ActionChains(driver).click().perform()  # the pointer is on that point
    wait_text(driver, f"Test image #{index}, clicked on the map", timeout=120)
    wait_text(driver, "Class probabilities: predicted", timeout=60)
    _assert_no_error(driver)

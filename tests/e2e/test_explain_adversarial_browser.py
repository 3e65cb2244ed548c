"""The Explain page's Adversarial tab in a real browser. A link carrying the tab's settings opens on a trained digits
run and draws the accuracy-vs-eps curve and the perturbed-image gallery with no exception box; the accuracy the
curve shows at eps 0 is the run's stored test accuracy (scikit-learn on its stored predictions) and the one at the
largest eps is not above it; switching the attack to PGD and lowering eps in the browser reruns it, and the
chart's title and the caption follow. A hosted server (DIGIT_LAB_HOSTED=1) caps the sliders at the hosted limits.
Screenshots and server logs go to test-artifacts/browser/."""

from __future__ import annotations

import re
import time
from urllib.parse import parse_qs, urlparse

import pytest

from bench.live_app import browser, start_server, stop_server, wait_healthy, wait_text
from tests.live_app import ARTIFACTS, serve_app, train_digits_run

HOSTED_IMAGES = "100"  # below digits' 360 test images, so the hosted cap (not the test set) bounds the slider
HOSTED_ENV = {"DIGIT_LAB_HOSTED": "1", "DIGIT_LAB_MAX_ADVERSARIAL_IMAGES": HOSTED_IMAGES}


@pytest.fixture(scope="module")
def trained_cache(tmp_path_factory):
    """A cache holding one digits run (2 epochs), trained here first; (cache, run id)."""
    cache = tmp_path_factory.mktemp("adversarial-browser-cache")
    return cache, train_digits_run(str(cache))


@pytest.fixture(scope="module")
def oracle_accuracy(trained_cache):
    """The run's test accuracy by scikit-learn from its stored test labels and predictions (via the engine's store)."""
    from sklearn.metrics import accuracy_score

    cache, run_id = trained_cache
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DIGIT_LAB_CACHE", str(cache))
        from engine.store import RunStore

        run = RunStore().get(run_id)
        accuracy = float(accuracy_score(run.test_labels(), run.test_probabilities().argmax(axis=1)))
        assert accuracy == pytest.approx(run.meta["metrics"]["test_accuracy"], abs=1e-9)
    return accuracy


@pytest.fixture(scope="module")
def served(trained_cache, tmp_path_factory):
    """The app (not hosted) on the trained cache; (url, log path). Its log must hold no traceback (tests.live_app)."""
    cache, _ = trained_cache
    log_path = tmp_path_factory.mktemp("log") / "streamlit.log"
    for url in serve_app(cache, log_path, "streamlit-explain-adversarial.log"):
        yield url, log_path


def _until(driver, condition, timeout: float = 180):
    """Until `condition(driver)` is truthy; an element replaced by a rerun meanwhile is just looked up again."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, 0.5, ignored_exceptions=(StaleElementReferenceException,)).until(condition)


def _curve(driver, method: str):
    """The accuracy-vs-eps chart whose title names `method`, once drawn with its markers; else None."""
    for chart in driver.find_elements("css selector", ".stPlotlyChart"):
        titles = [t.text for t in chart.find_elements("css selector", ".gtitle")]
        named = any(t.startswith(f"Test accuracy under {method}") for t in titles)
        if named and chart.find_elements("css selector", ".scatterlayer .trace .points path"):
            return chart
    return None


def _gallery_titles(driver) -> list[str]:
    return [
        t.text
        for t in driver.find_elements("css selector", ".stPlotlyChart .gtitle")
        if re.match(r"#\d+: ", t.text or "")
    ]


def _hover_accuracy(driver, chart, point: int) -> tuple[str, str]:
    """Hover the first trace's `point`-th marker: the (eps, accuracy) texts its hover label shows."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.support.ui import WebDriverWait

    markers = chart.find_elements("css selector", ".scatterlayer .trace:first-child .points path")
    target = markers[point]
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", target)
    time.sleep(0.5)
    ActionChains(driver).move_to_element(target).perform()
    found = WebDriverWait(driver, 30, poll_frequency=0.25).until(
        lambda d: re.search(
            r"eps ([\d.]+): accuracy ([\d.]+%)",
            " ".join(h.text for h in d.find_elements("css selector", ".hoverlayer .hovertext")),
        )
    )
    ActionChains(driver).move_by_offset(0, 300).perform()  # off the chart, so the next hover starts afresh
    time.sleep(0.3)
    return found.group(1), found.group(2)


def _plotted(driver, chart) -> tuple[list[float], list[float]]:
    """The x and y the browser's Plotly figure holds for the chart's first trace."""
    graph = chart.find_element("css selector", ".js-plotly-plot")
    xy = driver.execute_script("const t = arguments[0].data[0]; return [Array.from(t.x), Array.from(t.y)];", graph)
    return [float(v) for v in xy[0]], [float(v) for v in xy[1]]


def _slider(driver, label: str):
    """The range input of the Streamlit slider labelled `label` (its min, max and value are the widget's range)."""
    return driver.find_element("css selector", f'[data-testid="stSlider"] input[type="range"][aria-label="{label}"]')


def _quiet(server_log: str) -> None:
    """No traceback, and no Streamlit warning about a link-set widget also given a default (it logs a stack)."""
    assert "Traceback" not in server_log and "was created with a default value" not in server_log, server_log[-3000:]


def _no_exception(driver) -> None:
    assert not driver.find_elements("css selector", '[data-testid="stException"]')
    body = driver.find_element("tag name", "body").text
    assert "Traceback" not in body and "Something went wrong" not in body, body[:2000]


def test_an_adversarial_link_draws_the_curve_and_gallery_and_reruns_on_a_new_attack(
    trained_cache, served, oracle_accuracy
):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    from engine.limits import AdversarialLimits

    _, run_id = trained_cache
    url, log_path = served
    driver = browser()
    try:
        query = "tab=Adversarial&attack=fgsm&eps_max=0.2&eps_points=3&attacked=360"
        driver.get(f"{url}/explain?run={run_id}&{query}")
        wait_text(driver, run_id, timeout=180)
        chart = _until(driver, lambda d: _curve(d, "FGSM"))
        # The link's settings reached the widgets: 3 points from 0 to 0.2, all 360 test images.
        assert "Test accuracy under FGSM (360 images)" in chart.text
        assert [_slider(driver, label).get_attribute("value") for label in ("Largest eps", "Points on the curve")] == [
            "0.2",
            "3",
        ]
        # The gallery: the perturbed images at the largest eps (the default shown), one chart each.
        _until(driver, lambda d: len(_gallery_titles(d)) == AdversarialLimits().gallery_per_eps, 120)
        wait_text(driver, "at eps 0.2 (", timeout=60)  # a gallery caption: "... at eps 0.2 (fooled)."
        _no_exception(driver)
        # The page's own run caption and the curve's eps-0 hover, each as the page formats it.
        wait_text(driver, f"test accuracy {oracle_accuracy:.2%}", timeout=10)
        x, y = _plotted(driver, chart)
        assert x == [0.0, 0.1, 0.2]
        assert y[0] == pytest.approx(oracle_accuracy, abs=1e-9)
        eps, shown = _hover_accuracy(driver, chart, 0)
        assert (eps, shown) == ("0", f"{oracle_accuracy:.1%}")
        eps, last = _hover_accuracy(driver, chart, len(x) - 1)
        assert eps == "0.2" and float(last.rstrip("%")) <= float(shown.rstrip("%"))
        assert y[-1] <= y[0]
        wait_text(driver, "at eps 0.2. An image fooled", timeout=10)  # the curve's caption names the largest eps

        # PGD instead of FGSM: the radio's label, clicked as a person would.
        radio = driver.find_element("xpath", "//label[.//*[contains(text(), 'PGD (iterated')]]")
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", radio)
        radio.click()
        chart = _until(driver, lambda d: _curve(d, "PGD"))
        assert "Test accuracy under PGD (360 images)" in chart.text
        _until(driver, lambda d: _slider(d, "PGD steps"), 30)
        _no_exception(driver)
        pgd_x, pgd_y = _plotted(driver, chart)
        assert pgd_x == x and pgd_y[0] == pytest.approx(oracle_accuracy, abs=1e-9)
        assert all(p <= f + 1e-12 for p, f in zip(pgd_y, y, strict=True))  # PGD starts from FGSM's point

        # One step less on "Largest eps" (0.01 a key press): the curve ends at 0.19 and the caption says so.
        thumb = _slider(driver, "Largest eps")
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'}); arguments[0].focus();", thumb)
        ActionChains(driver).send_keys(Keys.ARROW_LEFT).perform()
        wait_text(driver, "at eps 0.19. An image fooled", timeout=180)
        chart = _until(driver, lambda d: (c := _curve(d, "PGD")) is not None and _plotted(d, c)[0][-1] == 0.19 and c)
        _no_exception(driver)
        assert _plotted(driver, chart)[0] == [0.0, 0.095, 0.19]
        query = parse_qs(urlparse(driver.current_url).query)
        assert query.get("attack") == ["pgd"] and query.get("eps_max") == ["0.19"]
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        driver.set_window_size(1400, 2600)
        time.sleep(1.0)
        driver.save_screenshot(str(ARTIFACTS / "explain-adversarial.png"))
    finally:
        driver.quit()
    _quiet(log_path.read_text())


def test_hosted_mode_caps_the_adversarial_sliders(trained_cache, tmp_path, monkeypatch):

    from engine.limits import adversarial_limits

    for name, value in HOSTED_ENV.items():
        monkeypatch.setenv(name, value)
    hosted = adversarial_limits()  # what the hosted server's engine allows
    monkeypatch.delenv("DIGIT_LAB_HOSTED")
    assert hosted.max_steps < adversarial_limits().max_steps and hosted.max_images < 360  # the caps bite here
    assert (hosted.max_steps, hosted.max_images) == (20, int(HOSTED_IMAGES))  # the documented hosted steps, the env's

    cache, run_id = trained_cache
    log_path = tmp_path / "streamlit.log"
    process, url = start_server(str(cache), str(log_path), env=HOSTED_ENV)
    driver = None
    try:
        wait_healthy(url, process, timeout=90, poll=0.5)
        driver = browser()
        # The link asks for more steps and images than hosted mode allows: those two are refused with a notice.
        driver.get(
            f"{url}/explain?run={run_id}&tab=Adversarial&attack=pgd&eps_max=0.1&eps_points=2&steps=50&attacked=300"
        )
        _until(driver, lambda d: _curve(d, "PGD"))
        _no_exception(driver)
        body = driver.find_element("tag name", "body").text
        assert "The link's steps = 50 was not used" in body and "The link's attacked = 300 was not used" in body
        steps, images = _slider(driver, "PGD steps"), _slider(driver, "Test images attacked")
        assert int(float(steps.get_attribute("max"))) == hosted.max_steps
        assert int(float(images.get_attribute("max"))) == hosted.max_images
        assert int(float(images.get_attribute("value"))) <= hosted.max_images
        assert f"({int(float(images.get_attribute('value'))):,} images)" in _curve(driver, "PGD").text
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(ARTIFACTS / "explain-adversarial-hosted.png"))
    finally:
        if driver is not None:
            driver.quit()
        stop_server(process)
    server_log = log_path.read_text()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "streamlit-explain-adversarial-hosted.log").write_text(server_log)
    _quiet(server_log)

"""Issue 25's epoch, dynamics and label-issue views in a real browser, used as a person uses them:

- Evaluate's confusion matrix opened from a link with `epoch=1` shows epoch 1's matrix (oracle: scikit-learn's
  confusion_matrix on the run's stored epoch-1 predictions), and moving the slider shows epoch 2's;
- the Data page's Label issues tab from a link (2 folds, no planted noise) trains when its button is pressed and
  shows the gallery and table with no exception; the counts agree with each other and the out-of-fold accuracy with
  scikit-learn on the fold models' own predictions of the images they left out;
- Evaluate's Training dynamics tab draws the data map and the hardest images, and its button opens the Data page
  on the Label issues tab for the run's dataset and preset.
"""

from __future__ import annotations

import re
import time
from urllib.parse import parse_qs, urlparse

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, confusion_matrix
from sklearn.model_selection import StratifiedKFold

from bench.live_app import browser, wait_text
from tests.live_app import ARTIFACTS, serve_app, train_digits_run

EPOCHS = 3
PRESET = "digitlab-small8"  # train_digits_run's preset; the label-issue tab allows it


@pytest.fixture(scope="module")
def trained_server(tmp_path_factory):
    """The app on a cache holding one 3-epoch digits run; yields (url, run id, cache folder)."""
    cache = tmp_path_factory.mktemp("epochs-browser-cache")
    run_id = train_digits_run(str(cache), epochs=EPOCHS)
    log_path = tmp_path_factory.mktemp("epochs-log") / "streamlit.log"
    for url in serve_app(cache, log_path, "streamlit-epochs-dynamics-issues.log"):
        yield url, run_id, cache
    # A widget seeded from a link or a button's callback and also given a default logs a warning with a stack.
    assert "was created with a default value" not in log_path.read_text()


@pytest.fixture
def driver():
    chrome = browser()
    yield chrome
    chrome.quit()


@pytest.fixture
def store(trained_server, monkeypatch):
    """The server's store, read here through the engine's store API."""
    from engine.store import RunStore

    monkeypatch.setenv("DIGIT_LAB_CACHE", str(trained_server[2]))
    return RunStore()


def _body(driver) -> str:
    return driver.find_element("tag name", "body").text


def _assert_no_error(driver) -> None:
    assert not driver.find_elements("css selector", '[data-testid="stException"]'), "an exception box is shown"
    body = _body(driver)
    assert "Traceback" not in body
    assert not driver.find_elements("css selector", '[data-testid="stAlertContentError"]'), body[-2000:]


def _shot(driver, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(ARTIFACTS / name))


_PLOTS = """
return Array.from(document.querySelectorAll('.js-plotly-plot')).map(function (p) {
  var t = p.layout && p.layout.title; var trace = (p.data || [])[0] || {};
  return {title: (t && (t.text || t)) || '', text: trace.text || null};
});
"""


def _plots(driver) -> list[dict]:
    """Each Plotly chart on the page: its title as read (the bold tags Plotly titles carry removed), first trace's
    text labels."""
    return [{**plot, "title": re.sub(r"<[^>]+>", "", plot["title"])} for plot in driver.execute_script(_PLOTS)]


def _confusion(driver, title_part: str, timeout: float = 120) -> tuple[str, np.ndarray]:
    """(title, counts) of the drawn confusion heatmap once its title holds `title_part`: the counts are the cell
    labels Plotly draws, read from the chart's own data on the page."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        for plot in _plots(driver):
            if plot["title"].startswith("Confusion matrix") and title_part in plot["title"] and plot["text"]:
                counts = np.array([[int(cell.replace(",", "")) for cell in row] for row in plot["text"]])
                return plot["title"], counts
        time.sleep(0.5)
    titles = [p["title"] for p in _plots(driver)]
    pytest.fail(f"no confusion matrix titled with {title_part!r}; drawn: {titles}")


def _params(driver) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlparse(driver.current_url).query).items()}


def _wait_params(driver, expected: dict[str, str], timeout: float = 60) -> dict[str, str]:
    deadline = time.time() + timeout
    while time.time() < deadline:
        params = _params(driver)
        if all(params.get(k) == v for k, v in expected.items()):
            return params
        time.sleep(0.5)
    pytest.fail(f"the address bar never held {expected}: {driver.current_url}")


def test_confusion_matrix_from_an_epoch_link_and_the_slider(trained_server, store, driver):
    from selenium.webdriver.common.keys import Keys

    url, run_id, _ = trained_server
    run = store.get(run_id)
    labels = run.test_labels()
    predictions = run.array("epoch_predictions.npy")
    assert predictions.shape == (EPOCHS, len(labels))
    driver.get(f"{url}/evaluate?run={run_id}&tab=Confusion+matrix&epoch=1")
    title, counts = _confusion(driver, f"after epoch 1 of {EPOCHS}", timeout=240)
    expected = confusion_matrix(labels, predictions[0], labels=range(10))
    np.testing.assert_array_equal(counts, expected)
    accuracy = float(re.search(r"\(([\d.]+)% right\)", title).group(1))
    assert accuracy == pytest.approx(100 * accuracy_score(labels, predictions[0]), abs=0.05)
    _assert_no_error(driver)
    _shot(driver, "evaluate-confusion-epoch-1.png")

    from selenium.webdriver.common.action_chains import ActionChains

    thumb = driver.find_element(
        "css selector", '[data-testid="stSlider"] input[type="range"][aria-label="After epoch"]'
    )
    assert thumb.get_attribute("value") == "1"  # the link's epoch reached the slider
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'}); arguments[0].focus();", thumb)
    ActionChains(driver).send_keys(Keys.ARROW_RIGHT).perform()  # as a person does with the keyboard: one epoch on
    _, counts_2 = _confusion(driver, f"after epoch 2 of {EPOCHS}")
    expected_2 = confusion_matrix(labels, predictions[1], labels=range(10))
    np.testing.assert_array_equal(counts_2, expected_2)
    assert not np.array_equal(expected, expected_2)  # the oracle itself: the two epochs' matrices differ
    _wait_params(driver, {"epoch": "2"})  # the link follows the slider
    _assert_no_error(driver)
    _shot(driver, "evaluate-confusion-epoch-2.png")


def _button(driver, label: str, timeout: float = 60):
    """The button whose text holds `label`, once it is drawn (text above it can come first)."""
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.5).until(
        lambda d: next((b for b in d.find_elements("css selector", "button") if label in b.text), None)
    )


def _metric(driver, label: str, timeout: float = 120) -> str:
    from selenium.webdriver.support.ui import WebDriverWait

    found = WebDriverWait(driver, timeout, poll_frequency=0.5).until(
        lambda d: re.search(rf"{re.escape(label)}\s*\n\s*([^\n]+)", _body(d))
    )
    return found.group(1).strip()


def _table_rows(driver, timeout: float = 60) -> int:
    """Data rows of the page's last dataframe (the issue table, below the gallery): the grid's aria-rowcount less
    its header row. The cells are drawn on a canvas, so the count is what the grid tells assistive technology."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        frames = driver.find_elements("css selector", '[data-testid="stDataFrame"]')
        counted = frames[-1].find_elements("css selector", "[aria-rowcount]") if frames else []
        if counted:
            return int(counted[0].get_attribute("aria-rowcount")) - 1
        time.sleep(0.5)
    pytest.fail("no dataframe with a row count on the page")


def _out_of_fold_accuracy(store, k: int) -> float:
    """The oracle: each fold model predicts the rows scikit-learn's stratified k-fold (the fold's own seed) left out
    of its training; the share of those predictions that match the given labels."""
    from engine.datasets import load_dataset

    digits = load_dataset("digits")
    folds = [run for run in store.list() if run.meta["config"].get("cv_folds") == k]
    assert len(folds) == k, [run.meta["config"] for run in store.list()]
    predicted = np.full(len(digits.y_train), -1)
    for run in folds:
        config = run.meta["config"]
        split = StratifiedKFold(n_splits=k, shuffle=True, random_state=config["seed"])
        _, held_out = list(split.split(np.zeros(len(digits.y_train)), digits.y_train))[config["cv_fold"]]
        images = digits.x_train[held_out].astype(np.float32) / digits.value_max
        probabilities = run.load_model().predict(images.reshape(len(held_out), 8, 8, 1), verbose=0)
        predicted[held_out] = probabilities.argmax(axis=1)
    assert (predicted >= 0).all()  # every training image predicted by exactly the fold that left it out
    return accuracy_score(digits.y_train, predicted)


def test_label_issues_from_a_link_train_and_show_the_gallery(trained_server, store, driver):
    url, _, _ = trained_server
    driver.get(f"{url}/data?dataset=digits&tab=Label+issues&issue_model={PRESET}&issue_folds=2&noise=0")
    wait_text(driver, "0 of 2 folds cached", timeout=240)
    assert f"{PRESET} · 15 epochs per fold" in _body(driver) or f"{PRESET}" in _body(driver)
    button = _button(driver, "Find label issues")
    assert "2 fold(s) to train" in button.text
    started = time.time()
    button.click()
    try:
        wait_text(driver, "Out-of-fold accuracy", timeout=300)
    finally:
        _shot(driver, "data-label-issues.png")
    seconds = time.time() - started
    flagged = int(_metric(driver, "Flagged").replace(",", ""))
    accuracy = float(_metric(driver, "Out-of-fold accuracy").rstrip("%")) / 100
    _assert_no_error(driver)
    assert flagged > 0, "no label flagged: nothing for the gallery to show"
    gallery = next(p["title"] for p in _plots(driver) if "most doubtful label(s) of" in p["title"])
    assert gallery == f"{min(flagged, 40)} most doubtful label(s) of {flagged:,}"
    rows = _table_rows(driver)
    assert rows == flagged  # one row per flagged image
    _shot(driver, "data-label-issues.png")
    assert accuracy == pytest.approx(_out_of_fold_accuracy(store, 2), abs=5e-5)
    print(f"label-issue search, 2 folds of {PRESET}, trained in the browser in {seconds:.1f} s")


def test_dynamics_tab_draws_the_map_and_opens_the_label_issue_tab(trained_server, driver):
    url, run_id, _ = trained_server
    driver.get(f"{url}/evaluate?run={run_id}&tab=Training+dynamics")
    wait_text(driver, "Hardest to learn", timeout=240)
    wait_text(driver, "often mislabelled", timeout=60)
    deadline = time.time() + 60
    while time.time() < deadline:
        titles = [p["title"] for p in _plots(driver)]
        if any(t.startswith("Data map") for t in titles) and any("least confident" in t for t in titles):
            break
        time.sleep(0.5)
    assert any(t.startswith(f"Data map · 1,149 training images over {EPOCHS} epochs") for t in titles), titles
    assert any(t.startswith("The 24 least confident training images") for t in titles), titles
    # A search stored by the test before (2 folds) is what the link opens; else the tab's default 5 folds.
    stored = "The stored search (2 folds of" in _body(driver)
    _assert_no_error(driver)
    _shot(driver, "evaluate-training-dynamics.png")
    button = _button(driver, "Look for label issues")
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", button)
    button.click()
    wait_text(driver, "Trains k models of a preset", timeout=120)
    folds = "2" if stored else "5"
    wait_text(driver, f"{folds} of {folds} folds cached" if stored else "0 of 5 folds cached", timeout=120)
    assert urlparse(driver.current_url).path.endswith("/data")
    _wait_params(driver, {"tab": "Label issues", "issue_model": PRESET, "dataset": "digits", "noise": "0.0"})
    params = _params(driver)
    assert params.get("issue_folds", "5") == folds  # 5 is the tab's default, left out of the link
    _assert_no_error(driver)
    _shot(driver, "data-label-issues-from-dynamics.png")

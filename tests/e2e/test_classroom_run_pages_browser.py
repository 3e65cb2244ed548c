"""What a student sees of their own submission run in a real browser (issue 24): a challenge on digits, one
submission, then the run opened by its link on Evaluate, Inspect and Explain. Every page says the run's test set is
the challenge's public part (its size from `public_private_split`, the classroom's split function, called here), never
the base's 360 images as the run's test set nor the private count; Evaluate's headline accuracy and the report and
predictions the browser downloads match scikit-learn on the run's stored public predictions. Hostile links (the
base dataset named in the link, a test image or an attacked count beyond the public part) leave the pages on the
public part, with a plain notice. The server log must hold no traceback. Screenshots go to test-artifacts/browser/.
"""

from __future__ import annotations

import io
import re
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import numpy as np
import pandas as pd
import pytest

from bench.live_app import browser, wait_text
from tests.e2e.test_browser import _click_button
from tests.live_app import ARTIFACTS, serve_app

FRACTION, SEED = 0.3, 20261206
BASE_TEST = 360  # digits' test images (scikit-learn's 1,797 split 80/20), asserted against the loaded data below


@dataclass(frozen=True)
class Submission:
    challenge_id: str
    token: str
    run_id: str
    public: np.ndarray  # indices into digits' test set, from the split function (the oracle)
    n_private: int
    labels: np.ndarray  # the run's stored test labels
    predicted: np.ndarray  # the arg-max of its stored test probabilities
    cache: Path
    database_url: str


@pytest.fixture(scope="module")
def submission(tmp_path_factory) -> Submission:
    """A challenge on digits (30% private), one student, one submission trained through the engine."""
    from engine.classroom import service
    from engine.classroom.spec import ChallengeLimits, ChallengeSpec
    from engine.datasets import load_dataset
    from engine.datasets.views import public_private_split

    root = tmp_path_factory.mktemp("classroom-run-pages")
    cache, database_url = root / "cache", f"sqlite:///{root / 'classroom.db'}"
    limits = ChallengeLimits(max_epochs=3, max_train=600, editable=("epochs", "seed"))
    spec = ChallengeSpec("digits", "Run pages", limits=limits, private_fraction=FRACTION, split_seed=SEED)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DIGIT_LAB_CACHE", str(cache))
        patch.setenv("DIGIT_LAB_DATABASE_URL", database_url)
        created = service.create_challenge(spec, roster=("Ana",))
        token = parse_qs(urlparse(created.students[0].link).query)["student"][0]
        outcome = service.submit(created.challenge_id, token, {"epochs": 3, "seed": 0})
        from engine.store import RunStore

        run = RunStore().get(outcome.run_id)
        labels, probabilities = run.test_labels(), run.test_probabilities()
    base = load_dataset("digits")
    assert len(base.y_test) == BASE_TEST
    public, private = public_private_split(base.y_test, FRACTION, SEED)
    assert 0 < len(private) < len(public) < BASE_TEST
    # The run was scored on the public images, in their order: its stored labels are the base's at those indices.
    np.testing.assert_array_equal(labels, base.y_test[public])
    return Submission(
        created.challenge_id,
        token,
        outcome.run_id,
        public,
        len(private),
        labels,
        probabilities.argmax(axis=1),
        cache,
        database_url,
    )


@pytest.fixture(scope="module")
def served(submission, tmp_path_factory):
    """The app on the submission's cache and classroom database; its url. Its log is kept and checked afterwards."""
    log_path = tmp_path_factory.mktemp("log") / "streamlit.log"
    yield from serve_app(
        str(submission.cache),
        log_path,
        "streamlit-classroom-run-pages.log",
        env={"DIGIT_LAB_DATABASE_URL": submission.database_url},
        timeout=90,
    )


def _body(driver) -> str:
    return driver.find_element("tag name", "body").text


def _shot(driver, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    driver.set_window_size(1400, 3000)  # Streamlit scrolls inside its main container: a tall window shows more
    time.sleep(1.0)
    driver.save_screenshot(str(ARTIFACTS / f"{name}.png"))
    driver.set_window_size(1400, 1800)


def _wait_idle(driver, timeout: float = 180) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    time.sleep(1.0)
    WebDriverWait(driver, timeout, poll_frequency=0.5).until(
        lambda d: not d.find_elements("css selector", '[data-testid="stStatusWidget"]')
    )


def only_the_public_part(driver, sub: Submission) -> str:
    """The page's text, once drawn, checked: no exception box, no traceback, and no number of test images that is
    the base's 360 as a test set (the view's own notice says "252 of 360 test images", the part of the whole) or
    the private count."""
    assert not driver.find_elements("css selector", '[data-testid="stException"]')
    text = _body(driver)
    assert "Traceback" not in text and "Something went wrong" not in text, text[:2000]
    assert not re.search(rf"(?<!of )\b{BASE_TEST} test images", text), text[:3000]
    assert not re.search(rf"\b{sub.n_private}( of \d+)? (test )?images\b", text), text[:3000]
    assert f"0..{BASE_TEST - 1}" not in text and f"0 to {BASE_TEST - 1}" not in text
    assert sub.token not in text
    return text


def _heatmap(driver, title_start: str, timeout: float = 180) -> tuple[str, np.ndarray]:
    """(title, z) of the drawn Plotly heatmap whose title starts with `title_start`, as the browser holds it."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    script = """
        for (const g of document.querySelectorAll('.stPlotlyChart .js-plotly-plot')) {
            const title = ((g.layout && g.layout.title && g.layout.title.text) || '').replace(/<[^>]*>/g, '');
            if (title.startsWith(arguments[0]) && g.data && g.data[0].type === 'heatmap') {
                // Plotly keeps the decoded arrays in _fullData (data may hold the typed-array encoding).
                return [title, Array.from(g._fullData[0].z, row => Array.from(row))];
            }
        }
        return null;"""
    found = WebDriverWait(driver, timeout, 0.5, ignored_exceptions=(StaleElementReferenceException,)).until(
        lambda d: d.execute_script(script, title_start)
    )
    return found[0], np.asarray(found[1], dtype=float)


def _allow_downloads(driver, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    driver.execute_cdp_cmd("Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(folder)})


def _downloaded(folder: Path, name: str, timeout: float = 60) -> str:
    path, deadline = folder / name, time.time() + timeout
    while time.time() < deadline:
        if path.exists() and not list(folder.glob("*.crdownload")):
            return path.read_text()
        time.sleep(0.5)
    raise AssertionError(f"{name} was not downloaded; the folder holds {sorted(p.name for p in folder.iterdir())}")


def test_a_students_run_shows_only_the_public_part_on_evaluate_inspect_and_explain(submission, served, tmp_path):
    from sklearn.metrics import accuracy_score, classification_report, confusion_matrix

    sub, url = submission, served
    n = len(sub.public)
    accuracy = accuracy_score(sub.labels, sub.predicted)
    driver = browser()
    try:
        driver.set_window_size(1400, 1800)
        # The student's Classroom page: the board counts the public images only.
        driver.get(f"{url}/classroom?challenge={sub.challenge_id}&student={sub.token}")
        wait_text(driver, "Signed in as Ana", timeout=120)
        wait_text(driver, f"{n:,} public test images")
        assert "private test images" not in only_the_public_part(driver, sub)
        _shot(driver, "classroom-student-board")

        # Evaluate, by the run's link.
        driver.get(f"{url}/evaluate?run={sub.run_id}")
        wait_text(driver, f"({n:,} test images, 10 classes)", timeout=180)
        _wait_idle(driver)
        text = only_the_public_part(driver, sub)
        assert f"challenge-{sub.challenge_id}-public-digits" in text
        [metric] = [
            m for m in driver.find_elements("css selector", '[data-testid="stMetric"]') if "Test accuracy" in m.text
        ]
        assert f"{accuracy:.2%}" in metric.text, metric.text
        assert "Metrics only, no images" not in text  # the view's images were rebuilt and line up
        _shot(driver, "classroom-run-evaluate")

        # The confusion matrix the browser draws: the stored model's is scikit-learn's on the public predictions;
        # an earlier epoch's (kept per epoch since training) counts the public images too.
        driver.get(f"{url}/evaluate?run={sub.run_id}&tab=Confusion%20matrix")
        title, z = _heatmap(driver, "Confusion matrix")
        assert title == f"Confusion matrix · {n:,} test images", title
        np.testing.assert_array_equal(z, confusion_matrix(sub.labels, sub.predicted, labels=range(10)))
        driver.get(f"{url}/evaluate?run={sub.run_id}&tab=Confusion%20matrix&epoch=1")
        title, z = _heatmap(driver, f"Confusion matrix · {n:,} test images · after epoch 1 of 3")
        assert z.shape == (10, 10) and int(z.sum()) == n
        np.testing.assert_array_equal(z.sum(axis=1), np.bincount(sub.labels, minlength=10))
        _wait_idle(driver)
        only_the_public_part(driver, sub)
        _shot(driver, "classroom-run-evaluate-epoch-1")

        # Its downloads, clicked in the browser: one row per public image, supports as scikit-learn counts them.
        folder = tmp_path / "downloads"
        _allow_downloads(driver, folder)
        driver.get(f"{url}/evaluate?run={sub.run_id}&tab=Downloads")
        wait_text(driver, "Test-set predictions (CSV)", timeout=180)
        _click_button(driver, "Classification report (CSV)")
        report = pd.read_csv(io.StringIO(_downloaded(folder, f"report-{sub.run_id}.csv")), index_col="class")
        expected = classification_report(sub.labels, sub.predicted, output_dict=True, zero_division=0)
        for label in range(10):
            row = report.loc[str(label)] if str(label) in report.index.astype(str) else report.loc[label]
            assert int(row["support"]) == int(np.count_nonzero(sub.labels == label))
            assert float(row["recall"]) == pytest.approx(expected[str(label)]["recall"], abs=1e-6)
        assert sum(int(report.loc[str(c), "support"]) for c in range(10)) == n
        _click_button(driver, "Test-set predictions (CSV)")
        predictions = pd.read_csv(io.StringIO(_downloaded(folder, f"predictions-{sub.run_id}.csv")))
        assert len(predictions) == n
        np.testing.assert_array_equal(predictions["true"].astype(int).to_numpy(), sub.labels)
        assert float((predictions["true"] == predictions["predicted"]).mean()) == pytest.approx(accuracy)
        only_the_public_part(driver, sub)
        _shot(driver, "classroom-run-evaluate-downloads")

        # Inspect and Explain: the test-image picker stops at the public part's last image.
        for page, name in (("inspect", "classroom-run-inspect"), ("explain", "classroom-run-explain")):
            driver.get(f"{url}/{page}?run={sub.run_id}")
            wait_text(driver, f"Test image (0..{n - 1})", timeout=240)
            _wait_idle(driver, timeout=240)
            text = only_the_public_part(driver, sub)
            assert sub.run_id in text
            _shot(driver, name)

        # The last public image on Inspect is the base's test image at the last public index, not at its own.
        from engine.datasets import load_dataset

        base = load_dataset("digits")
        last = n - 1
        assert not np.array_equal(base.x_test[sub.public[last]], base.x_test[last])  # the check can tell them apart
        driver.get(f"{url}/inspect?run={sub.run_id}&image={last}")
        _, shown = _heatmap(driver, f"Test image #{last} ", timeout=240)
        np.testing.assert_array_equal(shown, base.x_test[sub.public[last]].reshape(shown.shape))
        only_the_public_part(driver, sub)
    finally:
        driver.quit()


HOSTILE_IMAGE = 300  # a test image of the base dataset, beyond the public part


def test_links_edited_towards_the_base_dataset_stay_on_the_public_part(submission, served):
    from sklearn.metrics import accuracy_score

    sub, url = submission, served
    n = len(sub.public)
    assert n <= HOSTILE_IMAGE < BASE_TEST
    driver = browser()
    try:
        driver.set_window_size(1400, 1800)
        # The base dataset named in the link: the sidebar's dataset changes, the run and its test set do not.
        driver.get(f"{url}/evaluate?run={sub.run_id}&dataset=digits")
        wait_text(driver, f"({n:,} test images, 10 classes)", timeout=180)
        _wait_idle(driver)
        only_the_public_part(driver, sub)
        _shot(driver, "classroom-run-hostile-dataset")

        # The view's own name as the sidebar's dataset: views are not listed, so it is refused with a notice.
        view = f"challenge-{sub.challenge_id}-public-digits"
        driver.get(f"{url}/evaluate?run={sub.run_id}&dataset={view}")
        wait_text(driver, f"({n:,} test images, 10 classes)", timeout=180)
        _wait_idle(driver)
        assert "no dataset of that name here" in only_the_public_part(driver, sub)

        # A test image past the public part, on Inspect and on Explain: a notice, the picker still public.
        for page in ("inspect", "explain"):
            driver.get(f"{url}/{page}?run={sub.run_id}&image={HOSTILE_IMAGE}")
            wait_text(driver, f"The link's image = {HOSTILE_IMAGE} was not used", timeout=240)
            wait_text(driver, f"Test image (0..{n - 1})")
            _wait_idle(driver, timeout=240)
            text = only_the_public_part(driver, sub)
            assert f"this run's test set has {n:,} images" in text
            _shot(driver, f"classroom-run-hostile-{page}-image")

        # Every test image attacked: the Adversarial tab's count is the public part's at most.
        driver.get(f"{url}/explain?run={sub.run_id}&tab=Adversarial&attacked={BASE_TEST}")
        wait_text(driver, f"The link's attacked = {BASE_TEST} was not used", timeout=240)
        _wait_idle(driver, timeout=300)
        text = only_the_public_part(driver, sub)
        assert f"this run's test set has {n:,} images" in text
        slider = driver.find_element(
            "css selector", '[data-testid="stSlider"] input[type="range"][aria-label="Test images attacked"]'
        )
        assert int(float(slider.get_attribute("max"))) == n
        # The curve's eps-0 point is the clean accuracy of the images attacked: all public ones, none private.
        wait_text(driver, f"Test accuracy under FGSM ({n} images)", timeout=240)
        clean = driver.execute_script(
            """for (const g of document.querySelectorAll('.stPlotlyChart .js-plotly-plot')) {
                   if (g.data && g.data[0].type === 'scatter' && g.data[0].mode && g.data[0].mode.includes('lines')) {
                       return Array.from(g._fullData[0].y)[0];
                   }
               }
               return null;"""
        )
        assert clean == pytest.approx(accuracy_score(sub.labels, sub.predicted), abs=1e-9)
        _shot(driver, "classroom-run-hostile-attacked")
    finally:
        driver.quit()

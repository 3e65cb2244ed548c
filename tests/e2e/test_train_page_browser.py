"""The Train page in a real browser: the training-dynamics checkbox beside Train (on by default for the bundled
digits), one press of Train, and the line that says what the run cost in FLOPs — the figure the engine counts from
the layer shapes (checked by hand and against TensorFlow's profiler in tests/architectures/test_flops.py), and a run
that really holds the dynamics the checkbox asked for."""

from __future__ import annotations

import numpy as np
import pytest

from bench.live_app import browser, wait_text
from tests.e2e.test_browser import _click_button, _shot
from tests.live_app import serve_app


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    cache = tmp_path_factory.mktemp("train-page-cache")
    log_path = tmp_path_factory.mktemp("log") / "streamlit.log"
    for url in serve_app(cache, log_path, "streamlit-train-page.log"):
        yield url, cache


def test_training_on_the_train_page_says_its_flops_and_keeps_its_dynamics(served, monkeypatch):
    from engine.architectures.flops import describe_flops, run_training_flops
    from engine.store import RunStore

    url, cache = served
    driver = browser()
    try:
        driver.get(f"{url}/train?dataset=digits&epochs=2")
        wait_text(driver, "Record training dynamics", timeout=120)
        box = driver.find_element("xpath", "//label[.//*[contains(text(), 'Record training dynamics')]]//input")
        assert box.is_selected()  # 1,437 training images: on by default (up to 10,000)
        _click_button(driver, "Train")
        wait_text(driver, "Trained run", timeout=240)
        wait_text(driver, "This run did", timeout=60)
        body = driver.find_element("tag name", "body").text
        assert "Traceback" not in body
        _shot(driver, "train-page-flops")
    finally:
        driver.quit()

    monkeypatch.setenv("DIGIT_LAB_CACHE", str(cache))
    (run,) = RunStore().list()
    flops = run_training_flops(run.meta)
    assert flops and f"This run did {describe_flops(flops)} of arithmetic" in body
    assert run.run_id in body
    # The checkbox's promise: the run holds each training image's gold-label probability after every epoch.
    dynamics = np.load(run.path / "train_dynamics.npy", allow_pickle=False)
    assert dynamics.shape == (run.meta["epochs_run"], run.meta["dataset"]["n_train"])

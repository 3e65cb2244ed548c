"""Pages reading a run whose stored history.json is valid JSON of the wrong shape (planted, manifest rebuilt): the
curves are replaced by a warning saying why, and the rest of the page works. Before the store checked the history,
Evaluate's curves tab raised TypeError inside the chart."""

from __future__ import annotations

import os
import shutil

import pytest

from engine.store import RunStore
from tests.dashboard.conftest import chart_titles, literal, open_page, open_tab
from tests.store.planted import BAD_HISTORIES, plant_history

EVALUATE = "views/evaluate.py"


@pytest.fixture
def damaged_run(with_trained_run, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    shutil.copytree(os.environ["DIGIT_LAB_CACHE"], cache)  # the session's shared run is left alone
    monkeypatch.setenv("DIGIT_LAB_CACHE", str(cache))
    plant_history(RunStore().get(with_trained_run).path, BAD_HISTORIES["epochs are lists"])
    return with_trained_run


def test_evaluate_warns_in_the_curves_tab_and_the_other_tabs_work(damaged_run):
    app = open_page(EVALUATE, {"run": damaged_run})
    assert not app.exception
    assert any("macro avg" in set(frame.value.get("class", [])) for frame in app.dataframe)  # the report tab
    open_tab(app, "eval_tab", "Training curves")
    assert not app.exception
    warnings = [literal(w.value) for w in app.warning]
    assert any(w.startswith("No training curves: The history of run") and "epoch record 1" in w for w in warnings)
    assert not any(title.startswith("Training curves") for title in chart_titles(app))
    open_tab(app, "eval_tab", "Confusion matrix")
    assert not app.exception and any(title.startswith("Confusion matrix") for title in chart_titles(app))


def test_train_warns_instead_of_the_curves_and_shows_the_result(damaged_run):
    from engine.architectures.presets import DEFAULT_PRESET
    from engine.datasets import load_dataset
    from engine.runs import get_or_train, preset_request

    # The sidebar's default model for one epoch, trained here, then its history damaged the same way.
    dataset = load_dataset("digits")
    spec, config = preset_request(DEFAULT_PRESET, dataset, epochs=1)
    run = get_or_train(dataset, spec, config, preset=DEFAULT_PRESET).run
    plant_history(run.path, BAD_HISTORIES["epochs are numbers"])
    app = open_page("views/train.py")
    app.number_input(key="cfg_epochs").set_value(1).run()
    assert not app.exception
    assert "already trained" in "\n".join(literal(s.value) for s in app.success).lower()
    warnings = [literal(w.value) for w in app.warning]
    assert any(w.startswith(f"No training curves: The history of run {run.run_id}") for w in warnings), warnings
    assert not any(title.startswith("Training curves") for title in chart_titles(app))


def test_crossval_warns_for_the_damaged_fold_and_draws_the_others(tmp_path, monkeypatch):
    from tests.dashboard.test_crossval_compare import CROSSVAL, tiny

    monkeypatch.setenv("DIGIT_LAB_CACHE", str(tmp_path / "cv-cache"))
    app = tiny(open_page(CROSSVAL, {"folds": "2"}))
    app.button(key="cv_run").click().run()
    assert not app.exception
    table = next(df.value for df in app.dataframe if "val acc" in df.value.columns)
    first = RunStore().get(table["run id"].iloc[0])
    plant_history(first.path, BAD_HISTORIES["epochs are numbers"])
    again = tiny(open_page(CROSSVAL, {"folds": "2"}))  # a new session: nothing cached in memory
    assert not again.exception
    warnings = [literal(w.value) for w in again.warning]
    assert any(w.startswith(f"No curves for fold 1: The history of run {first.run_id}") for w in warnings), warnings
    assert any(title.startswith("Training curves of every fold") for title in chart_titles(again))
    assert "Train, CV and test accuracy per fold" in chart_titles(again)  # the rest of the page is drawn

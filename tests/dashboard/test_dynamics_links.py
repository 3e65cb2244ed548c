"""Evaluate's Training dynamics tab beyond the map: pictures on hover (the link's `pictures`), the way to the Data
page's label-issue search (never training here), and the hardest images a stored search also flags. Oracles: the
run's rebuilt training images (`run_data`) for the pictures; numpy and scikit-learn's split for which dataset rows
the hardest images are."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from sklearn.model_selection import train_test_split

from tests.charts.test_thumbnails import decode, expected_pixels
from tests.dashboard.conftest import literal, open_page
from tests.dashboard.test_map_pictures import _rows

EVALUATE = "views/evaluate.py"
PRESET = "digitlab-small8"  # the shared run's preset (tests/dashboard/conftest.py)

pytestmark = pytest.mark.slow


@pytest.fixture
def own_copy(trained_cache, tmp_path, monkeypatch):
    """A copy of the shared cache, so the folds trained here stay out of the other tests' store."""
    folder, run_id = trained_cache
    shutil.copytree(folder, tmp_path / "cache")
    monkeypatch.setenv("DIGIT_LAB_CACHE", str(tmp_path / "cache"))
    return run_id


def _run_count() -> int:
    from engine.store import RunStore

    return len(RunStore().list())


def test_pictures_on_hover_show_each_points_own_training_image(with_trained_run):
    from engine.probes.run_data import run_data
    from engine.store import RunStore

    run = RunStore().get(with_trained_run)
    app = open_page(EVALUATE, {"run": with_trained_run, "tab": "Training dynamics", "pictures": "1"})
    assert not app.exception and not app.error
    assert app.toggle(key="eval_dynamics_pictures").value is True
    (chart,) = app.get("vega_lite_chart")
    rows = _rows(chart)
    rebuilt = run_data(run).data  # the run's training rows, rebuilt by the engine's own path
    last = np.load(run.path / "train_predictions.npy")[-1]
    assert sorted(row["index"] for row in rows) == list(range(len(rebuilt.y_train)))  # digits: every image drawn
    for row in rows:
        i = row["index"]
        np.testing.assert_array_equal(decode(row["image"]), expected_pixels(rebuilt.x_train[i], 1.0))
        assert row["answer"] == ("wrong" if last[i] != rebuilt.y_train[i] else "right")
    assert not [c for c in app.get("plotly_chart") if "Data map" in c.proto.spec]  # one map, not two
    assert app.query_params.get("pictures") in ("1", ["1"])  # written back into the link


def test_hosted_mode_caps_the_dynamics_pictures(with_trained_run, monkeypatch):
    monkeypatch.setenv("DIGIT_LAB_HOSTED", "1")
    monkeypatch.setenv("DIGIT_LAB_MAX_THUMBNAILS", "40")
    app = open_page(EVALUATE, {"run": with_trained_run, "tab": "Training dynamics", "pictures": "1"})
    assert not app.exception
    rows = _rows(app.get("vega_lite_chart")[0])
    assert sum("image" in row for row in rows) == 40 < len(rows)
    assert any("40 evenly spread points of" in c.value for c in app.caption)


def test_the_link_opens_the_label_issue_tab_for_the_runs_dataset_and_preset_without_training(own_copy):
    before = _run_count()
    app = open_page(EVALUATE, {"run": own_copy, "tab": "Training dynamics"})
    assert not app.exception
    said = " ".join(literal(c.value) for c in app.caption) + " ".join(literal(m.value) for m in app.markdown)
    assert "often mislabelled" in said and "stored yet" in said
    app.button(key="eval_dynamics_label_issues").click().run()
    assert not app.exception
    assert app.session_state["data_tab"] == "Label issues"
    assert app.selectbox(key="data_issues_preset").value == PRESET
    assert app.number_input(key="data_issues_folds").value == 5
    assert app.slider(key="data_issues_noise").value == 0.0  # the tab's default plants 5 %: the link says none
    assert any("0 of 5 folds cached" in literal(m.value) for m in app.markdown)
    assert _run_count() == before  # nothing trained by either page


def test_the_hardest_images_a_stored_search_flags_are_marked(own_copy):
    from engine.diagnostics.label_issues import LabelIssuePlan, label_issues
    from engine.store import RunStore

    result = label_issues(LabelIssuePlan("digits", PRESET, 2))  # what the Data page stores with 2 folds
    run = RunStore().get(own_copy)
    # Oracle: the hardest are the lowest mean gold probabilities (numpy); their dataset rows come through
    # scikit-learn's stratified split of the digits training part with the run's seed and validation share.
    from engine.datasets import load_dataset

    digits = load_dataset("digits")
    config = run.meta["config"]
    train_rows, _ = train_test_split(
        np.arange(len(digits.y_train)),
        test_size=config["validation_split"],
        stratify=digits.y_train,
        random_state=config["seed"],
    )
    gold = np.load(run.path / "train_dynamics.npy").astype(np.float64)
    hardest = np.argsort(gold.mean(axis=0), kind="stable")[:24]
    flagged = {issue.index for issue in result.issues}
    expected = sum(int(row) in flagged for row in np.sort(train_rows)[hardest])

    before = _run_count()
    app = open_page(EVALUATE, {"run": own_copy, "tab": "Training dynamics"})
    assert not app.exception
    said = " ".join(literal(m.value) for m in app.markdown)
    assert f"(2 folds of {PRESET}) flags {expected} of these 24" in said.replace("**", "")
    assert f"{len(result.issues):,} of the {result.n_train:,} training images" in said
    import json

    grid = next(
        json.loads(c.proto.spec)
        for c in app.get("plotly_chart")
        if json.loads(c.proto.spec)["layout"]["title"]["text"].startswith("The 24 least confident")
    )
    marked = sum("⚑" in a.get("text", "") for a in grid["layout"].get("annotations", []))
    assert marked == expected
    app.button(key="eval_dynamics_label_issues").click().run()
    assert app.number_input(key="data_issues_folds").value == 2  # the stored search's folds
    assert any("2 of 2 folds cached" in literal(m.value) for m in app.markdown)
    assert _run_count() == before

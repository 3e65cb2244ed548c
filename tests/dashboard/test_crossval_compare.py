"""AppTest checks of the Cross-validation and Compare pages on the bundled digits (tiny configs, little CPU)."""

from __future__ import annotations

import pytest

from engine.telemetry import counters
from tests.dashboard.conftest import chart_titles, literal, open_app, open_page

CROSSVAL, COMPARE = "views/crossval.py", "views/compare.py"


def texts(app) -> str:
    parts = [m.value for m in app.markdown] + [m.value for m in app.caption]
    parts += [e.value for kind in (app.info, app.warning, app.error, app.success) for e in kind]
    return "\n".join(literal(p) for p in parts)  # pages show outside text as escaped plain text


def tiny(app):
    """The sidebar's training settings set to one epoch on 200 images (the widgets' own keys)."""
    app.number_input(key="cfg_epochs").set_value(1)
    app.number_input(key="cfg_limit_train").set_value(200)
    return app.run()


@pytest.fixture
def empty_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("DIGIT_LAB_CACHE", str(tmp_path))
    return tmp_path


def test_crossval_trains_once_then_answers_from_the_store(empty_cache):
    app = tiny(open_page(CROSSVAL, {"folds": "2"}))
    assert not app.exception
    assert app.number_input(key="folds").value == 2
    assert "0 of 2 folds cached" in texts(app)
    before = counters().get("trainings", 0)
    app.button(key="cv_run").click().run()
    assert not app.exception
    assert counters().get("trainings", 0) == before + 2
    assert "✓ Fold 2 of 2: trained" in texts(app)  # the progress panel's line for each finished fold
    # Once every fold is done the header says so and the controls for training go (issue 14).
    assert "2 of 2 folds cached" in texts(app) and "0 of 2 folds cached" not in texts(app)
    assert not [b for b in app.button if b.key == "cv_run"]
    assert not [s for s in app.selectbox if s.label == "Run on"]
    assert "Validation loss and accuracy per fold" in chart_titles(app)
    assert any(t.startswith("Training curves of every fold") for t in chart_titles(app))
    assert "Train, CV and test accuracy per fold" in chart_titles(app)
    # Train accuracy is the training set scored after training, labelled plainly; the stored runs' own figure.
    spread = next(df.value for df in app.dataframe if "split" in df.value.columns).set_index("split")
    from engine.store import RunStore

    fold_runs = {run.run_id: run for run in RunStore().list()}
    table = next(df.value for df in app.dataframe if "val acc" in df.value.columns)
    stored_train = [fold_runs[run_id].meta["metrics"]["train_accuracy_inference"] for run_id in table["run id"]]
    assert list(spread.loc["train", ["fold 1", "fold 2"]]) == pytest.approx(stored_train)
    assert "scored on its own training images" in texts(app)
    assert list(table["fold"]) == [1, 2]
    assert table["val acc"].between(0, 1).all() and table["run id"].str.len().eq(20).all()
    assert "mean CV accuracy" in texts(app) and "(2 folds)" in texts(app)
    assert app.query_params["folds"] == ["2"] or app.query_params["folds"] == "2"

    # A second visit (new session, same cache): the folds are found and shown without clicking or training.
    again = tiny(open_page(CROSSVAL, {"folds": "2"}))
    assert not again.exception
    assert "2 of 2 folds cached" in texts(again)
    assert "Validation loss and accuracy per fold" in chart_titles(again)
    assert len(next(df.value for df in again.dataframe if "val acc" in df.value.columns)) == 2
    assert counters().get("trainings", 0) == before + 2
    again.button(key="cv_open_2").click().run()  # opens fold 2's run in Evaluate
    assert not again.exception
    assert again.session_state["run_id"] == table["run id"].iloc[1]


def test_crossval_link_seeds_fold_count(empty_cache):
    app = open_page(CROSSVAL, {"folds": "3"})
    assert not app.exception
    assert app.number_input(key="folds").value == 3
    assert "0 of 3 folds cached" in texts(app)
    assert app.button(key="cv_run").disabled is False
    app.switch_page("views/home.py").run()
    app.switch_page(CROSSVAL).run()
    assert app.number_input(key="folds").value == 3  # survives a visit to another page


def test_crossval_bad_fold_link_warns_and_uses_five(empty_cache):
    app = open_page(CROSSVAL, {"folds": "abc"})
    assert not app.exception
    assert any("The link's folds = abc was refused" in literal(w.value) for w in app.warning)
    assert app.number_input(key="folds").value == 5


def test_crossval_invalid_model_disables_the_button(empty_cache):
    app = open_page(CROSSVAL)
    app.number_input(key="cfg_limit_train").set_value(5).run()  # too few images for ten classes
    assert not app.exception
    assert app.error and app.button(key="cv_run").disabled


def test_compare_shows_a_linked_run(with_trained_run):
    app = open_app(COMPARE, query={"runs": with_trained_run})
    assert not app.exception
    assert app.multiselect(key="compare_runs").value == [with_trained_run]
    table = next(df.value for df in app.dataframe if "test_accuracy" in df.value.columns)
    # The label names the preset, changes and dataset, so no dataset or architecture column repeats it.
    assert len(table) == 1 and table["label"].iloc[0].endswith("· digits")
    assert {"parameters", "macro_f1", "train_seconds"} <= set(table.columns)
    assert not {"dataset", "preset", "architecture"} & set(table.columns)
    titles = chart_titles(app)
    assert "Validation accuracy by epoch" in titles
    assert any(t.startswith("Test accuracy against parameters") for t in titles)
    assert any(t.startswith("Normalised confusion matrices") for t in titles)
    app.selectbox(key="compare_metric").set_value("loss").run()
    assert "Training loss by epoch" in chart_titles(app)
    assert app.query_params["runs"] in (with_trained_run, [with_trained_run])
    app.switch_page("views/home.py").run()
    app.switch_page(COMPARE).run()
    assert app.multiselect(key="compare_runs").value == [with_trained_run]


def test_compare_drops_unknown_linked_runs(with_trained_run):
    app = open_page(COMPARE, {"runs": f"{with_trained_run},{'0' * 20}"})
    assert not app.exception
    assert any("not in this store" in w.value for w in app.warning)
    assert app.multiselect(key="compare_runs").value == [with_trained_run]


def test_compare_with_no_runs_explains(empty_cache):
    app = open_app(COMPARE)
    assert not app.exception
    assert any("No stored runs" in i.value for i in app.info)


def test_study_on_digits_explains_it_needs_28x28(empty_cache):
    before = counters().get("trainings", 0)
    app = open_app(COMPARE)
    assert not app.exception
    assert any("28x28" in w.value and "fashion-mnist" in w.value for w in app.warning)
    button = app.button(key="study_run")
    assert button.disabled and "28x28" in button.help  # a browser cannot click it; the tooltip says why
    assert counters().get("trainings", 0) == before


def test_compare_reported_column_is_blank_not_none(with_trained_run, tmp_path, monkeypatch):
    import os
    import shutil

    import numpy as np
    from sklearn.datasets import load_digits

    from engine.datasets import clear_dataset_cache, load_dataset
    from engine.runs import get_or_train, preset_request

    # Seed 002 reported on uci-optdigits, which cannot be downloaded here: a cache file in its format (X (n, 64),
    # y) made from scikit-learn's digits stands in, in a copy of the session's cache so other tests never see it.
    cache = tmp_path / "cache"
    shutil.copytree(os.environ["DIGIT_LAB_CACHE"], cache)
    monkeypatch.setenv("DIGIT_LAB_CACHE", str(cache))
    bunch = load_digits()
    (cache / "datasets").mkdir(exist_ok=True)
    np.savez(cache / "datasets" / "uci-optdigits.npz", X=bunch.data.astype(np.uint8), y=bunch.target)
    clear_dataset_cache()
    dataset = load_dataset("uci-optdigits")
    spec, config = preset_request("seed002-uci8x8", dataset, epochs=1, limit_train=200)
    reported_run = get_or_train(dataset, spec, config, preset="seed002-uci8x8").run.run_id
    app = open_app(COMPARE, query={"runs": f"{with_trained_run},{reported_run}"})
    assert not app.exception
    table = next(df.value for df in app.dataframe if "test_accuracy" in df.value.columns)
    reported = dict(zip(table["run_id"], table["reported_accuracy"], strict=True))
    assert reported[reported_run] == "0.9911"  # seed 002's report, beside a run on the report's dataset
    assert reported[with_trained_run] == ""  # Digit Lab's own preset reports none: blank, not "None"


def test_compare_hides_a_report_figure_beside_a_run_on_another_dataset(with_trained_run):
    from engine.datasets import load_dataset
    from engine.runs import get_or_train, preset_request

    dataset = load_dataset("digits")  # seed 002 reported on uci-optdigits, not on these 1,797 images
    spec, config = preset_request("seed002-uci8x8", dataset, epochs=1, limit_train=200)
    other_run = get_or_train(dataset, spec, config, preset="seed002-uci8x8").run.run_id
    app = open_app(COMPARE, query={"runs": f"{with_trained_run},{other_run}"})
    assert not app.exception
    table = next(df.value for df in app.dataframe if "test_accuracy" in df.value.columns)
    assert "reported_accuracy" not in table.columns or "0.9911" not in table["reported_accuracy"].tolist()


def test_the_study_message_promises_a_reported_column_only_when_the_table_has_one(with_trained_run, monkeypatch):
    """Seed 003 reports MNIST accuracies; a study on Fashion-MNIST gets no reported column, and says so."""
    from types import SimpleNamespace

    import engine.compare
    from engine.store import RunStore

    stored = RunStore().get(with_trained_run)

    def study_of_stored_runs(name, dataset, **_):  # stands in for ten trainings: each "result" is the stored run
        return [SimpleNamespace(run=stored) for _ in engine.compare.PRESET_STUDIES[name]]

    monkeypatch.setattr(engine.compare, "run_preset_study", study_of_stored_runs)
    app = open_app(COMPARE, {"dataset": "fashion-mnist"})
    app.button(key="study_run").click().run()
    assert not app.exception
    [message] = [literal(s.value) for s in app.success if "study runs below" in s.value]
    table = next(df.value for df in app.dataframe if "label" in df.value.columns)
    assert "reported_accuracy" not in table.columns  # the engine shows MNIST figures only beside MNIST runs
    assert "shows seed 003's reported accuracies" not in message
    assert "seed 003 reports its accuracies on mnist only" in message

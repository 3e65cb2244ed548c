"""AppTest of the Sweep page through the real Home.py: a 2-trial sweep on digits, its results, and a link that
restores the space, sampler, trials and the selected trial."""

from __future__ import annotations

import pytest

from dashboard import links
from engine.telemetry import counters
from tests.dashboard.conftest import chart_titles, literal, open_page

SWEEP = "views/sweep.py"


def texts(app) -> str:
    parts = [m.value for m in app.markdown] + [m.value for m in app.caption]
    parts += [e.value for kind in (app.info, app.warning, app.error, app.success) for e in kind]
    return "\n".join(literal(p) for p in parts)


@pytest.fixture
def empty_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("DIGIT_LAB_CACHE", str(tmp_path))
    return tmp_path


def test_a_two_trial_sweep_runs_shows_its_results_and_reruns_from_the_store(empty_cache):
    space = {"params": [{"name": "batch_size", "kind": "choice", "choices": [32, 64]}]}
    query = {"epochs": "1", "limit": "300", "space": links.encode(space), "sampler": "grid", "trials": "2"}
    app = open_page(SWEEP, query)
    assert not app.exception
    assert app.multiselect(key="sweep_vary").value == ["batch_size"]
    assert app.multiselect(key="sweep_choices_batch_size").value == [32, 64]
    assert app.number_input(key="sweep_trials").value == 2
    before = counters().get("trainings", 0)
    app.button(key="sweep_run").click().run()
    assert not app.exception, app.exception
    assert counters().get("trainings", 0) == before + 2
    assert "✓ Run 2 of 2" in texts(app)  # the progress panel's line per finished run
    assert any(title.startswith("2 complete trials") for title in chart_titles(app))
    table = next(df.value for df in app.dataframe if "val_accuracy" in df.value.columns)
    assert sorted(table["batch_size"]) == [32, 64] and table["run id"].str.len().eq(20).all()
    best = table.sort_values("val_accuracy", ascending=False).iloc[0]
    assert f"Best: trial {best['trial']}" in texts(app)
    assert any(title.startswith("Parameter importance") for title in chart_titles(app))
    assert "needs folds or seeds per trial" in texts(app)
    app.button(key="sweep_open").click().run()
    assert not app.exception
    assert app.session_state["run_id"] in set(table["run id"])

    # The link of that view reopens it in a new session with nothing trained.
    again = open_page(SWEEP, {**query, "trial": str(int(best["trial"]))})
    assert not again.exception
    assert counters().get("trainings", 0) == before + 2
    assert again.selectbox(key="sweep_trial").value == int(best["trial"])
    assert not [b for b in again.button if b.key == "sweep_run"]


def test_a_link_space_the_widgets_cannot_show_is_named_and_a_bad_one_refused(empty_cache):
    odd = {"params": [{"name": "conv1.kernel_size", "kind": "choice", "choices": [2, 3]}]}
    app = open_page(SWEEP, {"space": links.encode(odd)})
    assert not app.exception
    assert "conv1.kernel_size" in texts(app) and "left out" in texts(app)
    bad = open_page(SWEEP, {"space": "not-a-token", "trials": "100000"})
    assert not bad.exception
    assert "space = not-a-token was not used" in texts(bad) and "trials = 100000 was not used" in texts(bad)


def test_a_hosted_server_caps_the_trials_widget_and_the_link(empty_cache, monkeypatch):
    monkeypatch.setenv("DIGIT_LAB_HOSTED", "1")
    app = open_page(SWEEP, {"trials": "50", "sampler": "random"})
    assert not app.exception
    assert app.number_input(key="sweep_trials").max == 12
    assert "trials = 50 was not used" in texts(app) and "between 1 and 12" in texts(app)


def test_the_sweep_form_survives_a_visit_to_another_page(empty_cache):
    app = open_page(SWEEP, {"epochs": "1", "limit": "300"})
    assert not app.exception
    app.selectbox(key="sweep_sampler").set_value("random").run()
    app.number_input(key="sweep_trials").set_value(3).run()
    app.multiselect(key="sweep_vary").set_value(["learning_rate", "optimizer"]).run()
    app.number_input(key="sweep_low_learning_rate").set_value(0.0005).run()
    app.multiselect(key="sweep_choices_optimizer").set_value(["sgd"]).run()
    app.radio(key="sweep_per_trial").set_value("seeds").run()
    app.number_input(key="sweep_repeats").set_value(2).run()
    app.checkbox(key="sweep_prune").check().run()
    assert app.button(key="sweep_run").label == "Run the sweep (6 runs)"  # 3 trials x 2 seeds

    app.switch_page("views/data.py").run()  # the Sweep widgets are not drawn there: Streamlit drops their keys
    app.run()
    app.switch_page(SWEEP).run()
    assert not app.exception
    assert app.number_input(key="sweep_trials").value == 3
    assert app.selectbox(key="sweep_sampler").value == "random"
    assert app.multiselect(key="sweep_vary").value == ["learning_rate", "optimizer"]
    assert app.number_input(key="sweep_low_learning_rate").value == 0.0005
    assert app.multiselect(key="sweep_choices_optimizer").value == ["sgd"]
    assert app.radio(key="sweep_per_trial").value == "seeds"
    assert app.number_input(key="sweep_repeats").value == 2
    assert app.checkbox(key="sweep_prune").value
    assert app.button(key="sweep_run").label == "Run the sweep (6 runs)"


def test_the_first_change_to_the_space_is_kept(empty_cache):
    # The page's own link token used to be read back as a link's on the next run, undoing the first change.
    app = open_page(SWEEP, {"epochs": "1", "limit": "300"})
    app.multiselect(key="sweep_vary").set_value(["learning_rate", "optimizer"]).run()
    assert not app.exception
    assert app.multiselect(key="sweep_vary").value == ["learning_rate", "optimizer"]
    assert not app.warning  # and no notice about a link space

"""The Train page on a server configured for Ray (`DIGIT_LAB_EXECUTOR=ray`): a 'Run on' choice, and a training on
the Ray cluster followed through the job panel, then shown as a local training is.

The picker tests start nothing. The slow test is real throughout: a `ray start --head` cluster of its own
(tests/executors/ray_cluster.py), RAY_ADDRESS pointing at it, and the driver process the page starts.
"""

from __future__ import annotations

import pytest

from dashboard import state
from engine.executors import EXECUTOR_ENV
from engine.jobs import read_request, wait_for_job
from engine.store import RunStore
from tests.dashboard.conftest import literal, open_app
from tests.executors.test_single_job import needs_ray, on_cluster, ray_head  # noqa: F401 - fixtures

TRAIN = "views/train.py"


@pytest.fixture
def empty_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("DIGIT_LAB_CACHE", str(tmp_path))
    return tmp_path


def texts(elements) -> str:
    return "\n".join(literal(e.value) for e in elements)


def run_on(app):
    return [radio for radio in app.radio if radio.key == "train_executor"]


def test_a_server_without_ray_configured_offers_no_choice(empty_cache, monkeypatch):
    monkeypatch.delenv(EXECUTOR_ENV, raising=False)
    app = open_app(page=TRAIN)
    assert not app.exception
    assert run_on(app) == []
    assert not app.button(key="train_button").disabled


def test_a_bad_executor_setting_is_said_and_training_stays_here(empty_cache, monkeypatch):
    monkeypatch.setenv(EXECUTOR_ENV, "[x](http://evil.example)")
    app = open_app(page=TRAIN)
    assert not app.exception
    assert run_on(app) == []
    assert any("is not an executor" in literal(w.value) for w in app.warning)
    assert not any("](http" in w.value for w in app.warning)  # the setting is shown as text, not as a link


@needs_ray
def test_a_server_configured_for_ray_offers_this_server_or_the_cluster(empty_cache, monkeypatch):
    monkeypatch.setenv(EXECUTOR_ENV, "ray")
    app = open_app(page=TRAIN)
    assert not app.exception
    [picker] = run_on(app)
    assert picker.options == ["this server", "the Ray cluster"]
    assert picker.value == "ray"  # the operator configured Ray: it is the default
    # A hosted server whose operator did not allow Ray says so and trains here.
    monkeypatch.setenv("DIGIT_LAB_HOSTED", "1")
    monkeypatch.delenv("DIGIT_LAB_ALLOW_RAY", raising=False)
    app = open_app(page=TRAIN)
    assert run_on(app) == [] and any("DIGIT_LAB_ALLOW_RAY" in literal(w.value) for w in app.warning)


@pytest.mark.slow
def test_training_on_the_cluster_follows_the_job_then_shows_the_run(empty_cache, on_cluster):  # noqa: F811
    app = open_app(page=TRAIN)
    app.number_input(key="cfg_epochs").set_value(1).run()
    assert [radio.value for radio in run_on(app)] == ["ray"]
    app.button(key="train_button").click().run()
    assert not app.exception
    job_id = app.session_state[state.JOB_KEY]
    request = read_request(job_id)
    assert request.kind == "train" and request.executor == "ray" and len(request.tasks) == 1
    assert app.query_params.get("job") == job_id  # a reload or the link finds the job again
    assert RunStore().get(request.tasks[0].run_id) is None  # the page started the job; it trains elsewhere
    assert any(b.label == "Stop the job" for b in app.button)  # the job panel follows it

    status = wait_for_job(job_id, timeout=300)
    assert status.state == "done", status
    app.run()
    assert not app.exception
    run = RunStore().get(request.tasks[0].run_id)
    assert run is not None
    assert f"Trained run `{run.run_id}` on the Ray cluster" in texts(app.success)
    # The page places the stored run's own score, as for a local training.
    [accuracy] = [m for m in app.metric if m.label == "Test accuracy"]
    assert accuracy.value == f"{run.meta['metrics']['test_accuracy']:.2%}"
    assert app.button(key="train_button").disabled  # trained: the same settings are answered from the store


def fold_picker(app):
    return [box for box in app.selectbox if box.key == "cv_executor"]


@needs_ray
def test_the_fold_and_sweep_picker_defaults_to_the_configured_executor(empty_cache, monkeypatch):
    # One rule for every 'Run on': the operator's DIGIT_LAB_EXECUTOR is the default, on Cross-validation as on Train.
    monkeypatch.setenv(EXECUTOR_ENV, "ray")
    [picker] = fold_picker(open_app(page="views/crossval.py"))
    assert picker.value == "ray"
    monkeypatch.delenv(EXECUTOR_ENV)
    [picker] = fold_picker(open_app(page="views/crossval.py"))
    assert picker.value == "local"


def test_a_bad_executor_setting_is_said_on_the_fold_page_too(empty_cache, monkeypatch):
    monkeypatch.setenv(EXECUTOR_ENV, "nonsense")
    app = open_app(page="views/crossval.py")
    assert not app.exception
    assert any("is not an executor" in literal(w.value) for w in app.warning)
    assert all(picker.value == "local" for picker in fold_picker(app))

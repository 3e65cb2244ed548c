"""One training through a job driver (`engine.jobs.single.train_in_job`), the executor setting it follows, and the
dataset views (a challenge's public part) that travel with a task.

The fast tests need no Ray and start no process. The slow ones start a real Ray cluster with `ray start --head`
(its own ports and temp folder, tests/executors/ray_cluster.py), point RAY_ADDRESS at it as an operator would, and
let `train_in_job` start the real driver process, which connects to it: the same run as a local training (key,
scores, probabilities), a job that fails in the driver raises with the driver's message, and a classroom submission
trained on the cluster gets the public and private scores the local path gives.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import sys

import numpy as np
import pytest

from engine.classroom.split import hidden_split
from engine.datasets import load_dataset
from engine.datasets.views import view_from_record
from engine.errors import DatasetUnavailable, TrainingCancelled
from engine.executors import EXECUTOR_ENV, ExecutorUnavailable, RunTask, configured_executor
from engine.jobs import JobRequest, RunState
from engine.jobs.records import JobStatus
from engine.jobs.single import JobDidNotFinish, _Follower, train_in_job, train_request
from engine.runs import get_or_train, preset_request
from engine.store import RunStore


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


def tiny(digits, seed: int = 0):
    return preset_request("digitlab-small8", digits, epochs=1, limit_train=200, seed=seed)


# ------------------------------------------------------------------------------------------------ the setting


def test_the_executor_setting_is_local_by_default_and_checked(monkeypatch):
    monkeypatch.delenv(EXECUTOR_ENV, raising=False)
    assert configured_executor() == "local"
    monkeypatch.setenv(EXECUTOR_ENV, "  ")
    assert configured_executor() == "local"
    monkeypatch.setenv(EXECUTOR_ENV, " Local ")
    assert configured_executor() == "local"
    monkeypatch.setenv(EXECUTOR_ENV, "spark")
    with pytest.raises(ExecutorUnavailable, match="DIGIT_LAB_EXECUTOR='spark' is not an executor"):
        configured_executor()


needs_ray = pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="Ray is optional")


@needs_ray
def test_a_hosted_server_refuses_a_ray_setting_without_the_operators_consent(monkeypatch):
    monkeypatch.setenv(EXECUTOR_ENV, "ray")
    monkeypatch.delenv("DIGIT_LAB_HOSTED", raising=False)
    assert configured_executor() == "ray"
    monkeypatch.setenv("DIGIT_LAB_HOSTED", "1")
    monkeypatch.delenv("DIGIT_LAB_ALLOW_RAY", raising=False)
    with pytest.raises(ExecutorUnavailable, match="DIGIT_LAB_ALLOW_RAY"):
        configured_executor()


def test_checking_the_setting_does_not_import_ray(monkeypatch):
    monkeypatch.setenv(EXECUTOR_ENV, "ray")
    monkeypatch.delitem(sys.modules, "ray", raising=False)
    with contextlib.suppress(ExecutorUnavailable):  # Ray not installed: said, still without importing it
        configured_executor()
    assert "ray" not in sys.modules


# ------------------------------------------------------------------------------------------------ views


def _record(digits, seed: int = 7) -> dict:
    from engine.datasets.views import record_for

    return json.loads(json.dumps(record_for(digits, 0.5, seed).to_dict()))  # as a job file holds it


def test_a_view_rebuilt_from_the_record_a_task_carries_is_the_same_data(digits, tmp_path, monkeypatch):
    from engine.classroom.scoring import public_view

    monkeypatch.setenv("DIGIT_LAB_CACHE", str(tmp_path))  # an empty cache: no view record on this "machine"
    split = hidden_split(digits.y_test, 0.5, 7)
    view = public_view(digits, split, "c1")
    again = view_from_record(view.name, _record(digits), load_dataset)
    assert again.fingerprint == view.fingerprint and again.name == view.name
    # Independent oracle: the rebuilt test split is the split's public images, in its order.
    np.testing.assert_array_equal(again.y_test, digits.y_test[split.public])
    np.testing.assert_array_equal(again.x_train, digits.x_train)
    assert again.warnings == view.warnings


@pytest.mark.parametrize(
    "damage",
    [
        lambda r: None,
        lambda r: {**r, "base": "mnist"},  # another base than the name says
        lambda r: {**r, "base": "../digits"},
        lambda r: {**r, "private_fraction": 1.0},  # nothing public
        lambda r: {**r, "split_seed": -1},
        lambda r: {**r, "split_seed": True},
        lambda r: {**r, "base_fingerprint": "0" * 64},  # the data changed since
        lambda r: {**r, "extra": 1},
    ],
)
def test_a_damaged_carried_record_is_refused(digits, damage):
    name = "challenge-c1-public-digits"
    with pytest.raises(DatasetUnavailable):
        view_from_record(name, damage(_record(digits)), load_dataset)
    with pytest.raises(DatasetUnavailable):  # a name that is no view of the record's base
        view_from_record("challenge-c1-public-mnist", _record(digits), load_dataset)


def test_a_task_on_a_view_survives_the_job_file(digits, tmp_path, monkeypatch):
    from engine.classroom.scoring import SubmissionRequest, build_locked_request, public_view
    from engine.classroom.spec import ChallengeLimits, ChallengeSpec

    monkeypatch.setenv("DIGIT_LAB_CACHE", str(tmp_path))
    split = hidden_split(digits.y_test, 0.5, 7)
    view = public_view(digits, split, "c1")
    spec = ChallengeSpec("digits", "t", "d", limits=ChallengeLimits(max_epochs=1, max_train=200))
    locked = build_locked_request(spec, view, SubmissionRequest({}))
    task = RunTask.for_request(view, locked.spec, locked.config, view=_record(digits))
    assert task.dataset == view.name
    request = JobRequest.from_dict(json.loads(json.dumps(train_request(task).to_dict())))
    assert request.kind == "train" and request.tasks[0].view == task.view
    assert request.tasks[0].run_id == task.run_id
    from engine.jobs.driver import checked_tasks

    [checked] = checked_tasks(request)  # the driver rebuilds the view from the record and finds the same key
    assert checked.data.fingerprint == view.fingerprint


# ------------------------------------------------------------------------------------------------ following


def status_of(*states: RunState, state: str = "running") -> JobStatus:
    return JobStatus("a" * 16, state, tuple(states))


def test_the_job_status_becomes_the_events_of_one_training():
    heard = []
    follower = _Follower(heard.append, 0.0, epochs=3)
    for run in (
        RunState("training", "r", status="waiting"),
        RunState("training", "r", status="queued", position=2),
        RunState("training", "r", status="queued", position=2),  # unchanged: said once
        RunState("training", "r", status="running"),
        RunState("training", "r", status="training", epoch=1, epochs=3),
        RunState("training", "r", status="training", epoch=1, epochs=3),
        RunState("training", "r", status="training", epoch=3, epochs=3),
        RunState("training", "r", status="done", epoch=3, epochs=3),
    ):
        follower.report(status_of(run))
    assert [(e.stage, e.epoch, e.epochs) for e in heard] == [
        ("queued", 0, 3),
        ("queued", 0, 3),
        ("start", 0, 3),
        ("epoch", 1, 3),
        ("epoch", 3, 3),
    ]
    assert [e.metrics.get("position") for e in heard[:2]] == [0, 2]


def test_a_run_already_stored_is_answered_without_a_job(digits, isolated_cache):
    spec, config = tiny(digits)
    stored = get_or_train(digits, spec, config, preset="digitlab-small8").run
    result = train_in_job(RunTask.for_request(digits, spec, config, preset="digitlab-small8"))
    assert result.cached and result.run.run_id == stored.run_id
    assert not (isolated_cache / "jobs").exists()  # no job was written, no driver started


# ------------------------------------------------------------------------------------------------ a real cluster


@pytest.fixture(scope="module")
def ray_head():
    if importlib.util.find_spec("ray") is None:  # not imported: this process must never need Ray
        pytest.skip("Ray is optional (pip install -r requirements-ray.txt)")
    from tests.executors.ray_cluster import start_node, stop_node

    node = start_node(num_cpus=1)
    yield node
    stop_node(node)


@pytest.fixture
def on_cluster(ray_head, monkeypatch):
    """The environment an operator sets: the executor and the cluster's address (the driver inherits both)."""
    from tests.executors.ray_cluster import NO_AUTH

    monkeypatch.setenv(EXECUTOR_ENV, "ray")
    monkeypatch.setenv("RAY_ADDRESS", ray_head.address)
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "2")
    for name, value in NO_AUTH.items():
        monkeypatch.setenv(name, value)
    return ray_head


@pytest.mark.slow
def test_a_training_on_the_cluster_is_the_run_a_local_training_stores(digits, on_cluster, tmp_path):
    spec, config = tiny(digits, seed=3)
    local = get_or_train(digits, spec, config, store=RunStore(tmp_path / "local"), preset="digitlab-small8").run
    heard = []
    result = train_in_job(RunTask.for_request(digits, spec, config, preset="digitlab-small8"), progress=heard.append)
    remote = result.run
    assert not result.cached and remote.path != local.path
    assert remote.run_id == local.run_id
    assert remote.meta["metrics"]["test_accuracy"] == local.meta["metrics"]["test_accuracy"]
    # Training is deterministic per seed on this CPU build: the same stored predictions, to float32 round-off.
    np.testing.assert_allclose(remote.test_probabilities(), local.test_probabilities(), rtol=0, atol=1e-6)
    assert [e.stage for e in heard if e.stage != "queued"][0] == "start"
    # This process only followed the job: the driver process connected to Ray, never this one.
    assert "ray" not in sys.modules or not sys.modules["ray"].is_initialized()


@pytest.mark.slow
def test_a_job_that_fails_in_the_driver_raises_with_its_message(digits, on_cluster):
    spec, config = tiny(digits)
    task = RunTask.for_request(digits, spec, config, preset="digitlab-small8")
    # An invalid request as only a job file can carry one (every page and verb validates first): the driver
    # validates it again and refuses it before anything trains.
    broken = RunTask(**{**task.__dict__, "config": {**task.config, "epochs": 0}, "data": None})
    with pytest.raises(
        JobDidNotFinish, match=r"Training job [0-9a-f]{16} ended \(failed\): Epochs must be between 1"
    ) as raised:
        train_in_job(broken)
    assert raised.value.status is not None and raised.value.status.state == "failed"
    assert RunStore().list() == []


def test_stopping_a_followed_job_cancels_it(digits, monkeypatch):
    """Stop (the callback's False) cancels the job and raises; a stand-in driver, so no process trains."""
    from engine.jobs import single

    spec, config = tiny(digits, seed=5)
    cancelled = []
    monkeypatch.setattr(single, "start_job", lambda request: "b" * 16)
    running = status_of(RunState("training", "r", status="running"))
    monkeypatch.setattr(single, "job_status", lambda job_id, store=None: running)
    monkeypatch.setattr(single, "cancel_job", cancelled.append)
    monkeypatch.setattr(single, "wait_for_job", lambda job_id, timeout: running)
    with pytest.raises(TrainingCancelled):
        train_in_job(RunTask.for_request(digits, spec, config), progress=lambda event: False, poll=0)
    assert cancelled == ["b" * 16]


@pytest.mark.slow
def test_a_classroom_submission_on_the_cluster_scores_as_the_local_path(on_cluster, monkeypatch, tmp_path):
    from engine.classroom import service
    from engine.classroom.database import ClassroomDB
    from engine.classroom.spec import ChallengeLimits, ChallengeSpec
    from tests.classroom.test_service import token_of

    db = ClassroomDB.open(f"sqlite:///{tmp_path / 'classroom.db'}")
    try:
        limits = ChallengeLimits(max_epochs=1, max_train=200, daily_submissions=3, editable=("epochs", "seed"))
        created = service.create_challenge(ChallengeSpec("digits", "t", "d", limits=limits), roster=("Ana",), db=db)
        ana = token_of(created.students[0].link, "student")
        settings = {"epochs": 1, "seed": 4}

        monkeypatch.setenv("DIGIT_LAB_CACHE", str(tmp_path / "local-cache"))
        monkeypatch.setenv(EXECUTOR_ENV, "local")
        local = service.submit(created.challenge_id, ana, settings, db=db)
        # A fresh store: the same submission must train again, now on the cluster.
        monkeypatch.setenv("DIGIT_LAB_CACHE", str(tmp_path / "ray-cache"))
        monkeypatch.setenv(EXECUTOR_ENV, "ray")
        heard = []
        remote = service.submit(created.challenge_id, ana, settings, db=db, progress=heard.append)
        assert not local.cached and not remote.cached
        assert remote.run_id == local.run_id
        assert remote.public_score == local.public_score
        assert any(e.stage == "start" for e in heard)
        records = sorted(db.submissions(created.challenge_id), key=lambda r: r.created_at)
        assert [r.status for r in records] == ["scored", "scored"]
        assert records[0].private_accuracy == records[1].private_accuracy
        assert records[0].public_correct == records[1].public_correct  # image by image, not just the mean
        # Independent oracle for the public score: the stored run's predictions on the public images.
        run = RunStore().get(remote.run_id)
        predicted = run.test_probabilities().argmax(axis=1)
        dataset, split = service.challenge_data(db.get_challenge(created.challenge_id).spec)
        assert remote.public_score == pytest.approx(float(np.mean(predicted == dataset.y_test[split.public])))
        assert len(run.test_labels()) == len(split.public)  # the worker trained on the public view only
    finally:
        db.close()


@pytest.mark.slow
def test_the_train_verb_trains_on_the_cluster_with_executor_ray(digits, on_cluster, isolated_cache):
    import os
    import subprocess
    from pathlib import Path

    from engine.runs import run_id_for

    spec, config = tiny(digits, seed=6)
    repo = str(Path(__file__).resolve().parents[2])
    env = {**os.environ, "PYTHONPATH": repo, EXECUTOR_ENV: "local"}  # the flag overrides the setting
    flags = ["--dataset", "digits", "--preset", "digitlab-small8", "--epochs", "1", "--limit-train", "200"]
    command = [sys.executable, "-m", "engine", "train", *flags, "--seed", "6", "--executor", "ray", "--json"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, cwd=repo)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["run_id"] == run_id_for(digits, spec, config) and out["cached"] is False
    assert [p.name for p in (isolated_cache / "jobs").iterdir()]  # it went through a job driver
    run = RunStore().get(out["run_id"])
    assert out["test_accuracy"] == run.meta["metrics"]["test_accuracy"]


def test_a_bad_executor_setting_stops_the_train_verb_before_anything_runs(monkeypatch, capsys):
    from engine.cli import main
    from engine.training import tf_session

    # The verb declares its process a one-training process; restored after, for the tests that follow in this one.
    monkeypatch.setattr(tf_session, "_release_when_idle", tf_session._release_when_idle)
    monkeypatch.setenv(EXECUTOR_ENV, "spark")
    assert main(["train", "--dataset", "digits", "--epochs", "1", "--json"]) == 2
    assert "DIGIT_LAB_EXECUTOR='spark' is not an executor" in capsys.readouterr().err
    assert RunStore().list() == []

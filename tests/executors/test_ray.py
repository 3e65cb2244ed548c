"""The Ray executor: same keys, metrics and probabilities as the local executor; retries; dataset checks.

A local Ray instance (2 CPUs, no dashboard) starts once for the module. Every training is tiny (digits, one
epoch, 200 images); each test's local and Ray runs go to separate stores so nothing is answered from a cache
by accident.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from pathlib import Path

import numpy as np
import pytest

from engine.compare import PRESET_STUDIES, run_preset_study
from engine.crossval import cross_validate, fold_configs
from engine.datasets import load_dataset
from engine.executors import (
    DatasetMismatch,
    ExecutorUnavailable,
    RunTask,
    TasksFailed,
    get_executor,
    raise_for_failures,
)
from engine.executors.tasks import FAULT_ENV
from engine.runs import preset_request
from engine.store import RunStore

REPO = Path(__file__).resolve().parents[2]
SKIP_REASON = "Ray is optional (pip install -r requirements-ray.txt); these tests need it"


@pytest.fixture(scope="module")
def ray_cluster():
    ray = pytest.importorskip("ray", reason=SKIP_REASON)
    # Workers import the engine from this checkout; the driver's sys.path does not reach them, PYTHONPATH does.
    path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        runtime_env={"env_vars": {"PYTHONPATH": path, "TF_CPP_MIN_LOG_LEVEL": "2"}},
    )
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


@pytest.fixture(scope="module")
def request_small(digits):
    return preset_request("digitlab-small8", digits, epochs=1, limit_train=200)


def stores(tmp_path) -> tuple[RunStore, RunStore]:
    return RunStore(tmp_path / "local" / "runs"), RunStore(tmp_path / "ray" / "runs")


def assert_same_runs(local_runs, ray_runs):
    assert [r.run_id for r in ray_runs] == [r.run_id for r in local_runs]
    for local, remote in zip(local_runs, ray_runs, strict=True):
        assert remote.path != local.path
        assert remote.meta["metrics"]["test_accuracy"] == local.meta["metrics"]["test_accuracy"]
        assert remote.meta["metrics"]["macro_f1"] == local.meta["metrics"]["macro_f1"]
        assert remote.meta["parameters"] == local.meta["parameters"]
        # Training is deterministic per seed on this CPU build: the probabilities match to float32 round-off
        # (observed: bit-identical), not merely "approximately".
        np.testing.assert_allclose(remote.test_probabilities(), local.test_probabilities(), rtol=0, atol=1e-6)
        assert remote.history()["epochs"][0]["loss"] == pytest.approx(local.history()["epochs"][0]["loss"], abs=1e-6)


@pytest.mark.slow
def test_kfold_on_ray_stores_the_runs_the_local_executor_stores(ray_cluster, digits, request_small, tmp_path):
    spec, config = request_small
    local_store, ray_store = stores(tmp_path)
    local = cross_validate(digits, spec, config, k=3, store=local_store, preset="digitlab-small8")
    events = []
    remote = cross_validate(
        digits, spec, config, k=3, store=ray_store, preset="digitlab-small8", executor="ray", progress=events.append
    )
    assert [f.cached for f in remote.folds] == [False, False, False]
    assert_same_runs([f.run for f in local.folds], [f.run for f in remote.folds])
    assert remote.summary()["mean_test_accuracy"] == local.summary()["mean_test_accuracy"]
    for fold in (1, 2, 3):
        statuses = [e.status for e in events if e.index == fold]
        assert statuses[0] == "queued" and statuses[-1] == "done"
        assert "start" in statuses and "training" in statuses  # per-epoch progress comes back from the workers
        assert any(e.event is not None and e.event.stage == "epoch" for e in events if e.index == fold)
    assert sorted(e.done for e in events if e.status == "done") == [1, 2, 3]

    # Asked again, every fold is answered from the store without submitting anything.
    events.clear()
    again = cross_validate(digits, spec, config, k=3, store=ray_store, executor="ray", progress=events.append)
    assert [f.cached for f in again.folds] == [True, True, True]
    assert {e.status for e in events} == {"start", "done"}


@pytest.mark.slow
def test_study_on_ray_matches_the_local_study(ray_cluster, digits, tmp_path):
    local_store, ray_store = stores(tmp_path)
    PRESET_STUDIES["tiny"] = ("digitlab-small8", "seed002-uci8x8")
    try:
        local = run_preset_study("tiny", digits, store=local_store, epochs=1, limit_train=200)
        events = []
        remote = run_preset_study(
            "tiny",
            digits,
            store=ray_store,
            executor=get_executor("ray"),
            progress=events.append,
            epochs=1,
            limit_train=200,
        )
    finally:
        del PRESET_STUDIES["tiny"]
    assert [r.cached for r in remote] == [False, False]
    assert [r.run.meta["preset"] for r in remote] == ["digitlab-small8", "seed002-uci8x8"]
    assert_same_runs([r.run for r in local], [r.run for r in remote])
    assert {(e.index, e.label) for e in events if e.status == "done"} == {(1, "digitlab-small8"), (2, "seed002-uci8x8")}


def fold_tasks(digits, request_small, seed: int, k: int = 3) -> list[RunTask]:
    spec, config = request_small
    return [
        RunTask.for_request(digits, spec, c, label=f"fold {i}/{k}")
        for i, c in enumerate(fold_configs(config.replace(seed=seed), k), 1)
    ]


@pytest.mark.slow
@pytest.mark.parametrize("fault", ["raise", "exit"])
def test_a_task_that_fails_once_is_retried(ray_cluster, digits, request_small, tmp_path, fault):
    from engine.executors.ray_executor import RayExecutor

    marker = tmp_path / "failed-once"
    executor = RayExecutor(max_retries=2, env_vars={FAULT_ENV: f"{fault}:{marker}"})
    task = fold_tasks(digits, request_small, seed=21 if fault == "raise" else 22, k=2)[0]
    store = RunStore(tmp_path / "runs")
    events = []
    [outcome] = executor.run([task], events.append, store=store)
    assert marker.exists()  # the first attempt did fail
    assert outcome.ok and not outcome.cached
    assert store.get(task.run_id) is not None
    if fault == "raise":  # a worker that dies mid-task cannot report its first attempt, an exception can
        assert outcome.attempts == 2
        assert [e.attempt for e in events if e.status == "running"] == [1, 2]


@pytest.mark.slow
def test_a_wrong_fingerprint_fails_that_task_only(ray_cluster, digits, request_small, tmp_path):
    from engine.executors.ray_executor import RayExecutor

    tasks = fold_tasks(digits, request_small, seed=31)
    tasks[1] = dataclasses.replace(tasks[1], fingerprint="0" * 64, data=None)
    store = RunStore(tmp_path / "runs")
    events = []
    outcomes = RayExecutor().run(tasks, events.append, store=store)
    assert [o.ok for o in outcomes] == [True, False, True]
    assert isinstance(outcomes[1].error, DatasetMismatch)
    assert "fingerprint" in str(outcomes[1].error) and "Nothing was trained" in str(outcomes[1].error)
    assert outcomes[1].attempts == 1  # deterministic errors are not retried
    assert [e.index for e in events if e.status == "failed"] == [1]
    assert store.get(tasks[0].run_id) is not None and store.get(tasks[2].run_id) is not None
    assert store.get(tasks[1].run_id) is None
    with pytest.raises(TasksFailed, match=r"1 of 3 folds failed \(fold 2/3: .*fingerprint"):
        raise_for_failures(outcomes, "fold")


@pytest.mark.slow
def test_with_a_shared_store_workers_write_the_runs_themselves(ray_cluster, digits, request_small, isolated_cache):
    from engine.executors.ray_executor import RayExecutor

    # The workers get the driver's DIGIT_LAB_CACHE (this test's folder) and store there; the driver only reads.
    [task] = fold_tasks(digits, request_small, seed=41, k=2)[:1]
    [outcome] = RayExecutor(shared_store=True).run([task])
    assert outcome.ok and not outcome.cached and outcome.worker
    assert outcome.run.path.parent == isolated_cache / "runs"
    assert RunStore().get(task.run_id).meta["metrics"] == outcome.run.meta["metrics"]


def test_without_ray_the_ray_executor_is_a_one_line_error(monkeypatch, capsys):
    import engine.executors as executors
    from engine.cli import main

    monkeypatch.setattr(executors, "_instances", {})
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError, as when it is not installed
    monkeypatch.setattr(executors, "ray_available", lambda: False)
    with pytest.raises(ExecutorUnavailable, match="requirements-ray.txt"):
        get_executor("ray")
    assert main(["cv", "--dataset", "digits", "--executor", "ray", "--folds", "2", "--epochs", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: The ray executor needs Ray") and "\n" not in err


@pytest.mark.slow
def test_hosted_ray_tasks_take_training_slots(ray_cluster, digits, request_small, tmp_path, monkeypatch):
    from engine.executors.ray_executor import RayExecutor

    # Hosted, one training at a time: the second task must wait for the first's slot although Ray has 2 CPUs.
    monkeypatch.setenv("DIGIT_LAB_HOSTED", "1")
    monkeypatch.setenv("DIGIT_LAB_MAX_TRAININGS", "1")
    tasks = fold_tasks(digits, request_small, seed=51, k=2)
    events = []
    outcomes = RayExecutor().run(tasks, events.append, store=RunStore(tmp_path / "runs"))
    assert all(o.ok for o in outcomes)
    order = [(e.index, e.status) for e in events if e.status in ("running", "done")]
    assert order == [(0, "running"), (0, "done"), (1, "running"), (1, "done")]  # never two at once
    assert any(e.index == 1 and e.status == "queued" and e.position >= 1 for e in events)

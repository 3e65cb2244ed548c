"""Jobs and their driver, in this process with the local executor: what the status file says, what a dead
driver looks like to the reader, what a resume reuses, what a tampered job file gets, and hosted mode's Ray gate.

The driver's own process, Ray and a killed cluster are in test_driver_cluster.py (slow).
"""

from __future__ import annotations

import json
import subprocess

import pytest

from engine.crossval import fold_configs
from engine.datasets import load_dataset
from engine.errors import InvalidConfig
from engine.executors import ExecutorUnavailable, RunTask, available_executors, check_executor_allowed
from engine.jobs import JobRequest, job_dir, job_status, start_job
from engine.jobs.driver import run_job
from engine.jobs.records import InvalidJob, JobStatus, read_status, write_request, write_status
from engine.runs import get_or_train, preset_request, run_id_for
from engine.store import RunStore


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


def fold_request(digits, k: int = 3, seed: int = 0, executor: str = "local") -> JobRequest:
    spec, config = preset_request("digitlab-small8", digits, epochs=1, limit_train=200, seed=seed)
    tasks = tuple(
        RunTask.for_request(digits, spec, fold, preset="digitlab-small8", label=f"fold {i}/{k}").portable()
        for i, fold in enumerate(fold_configs(config, k), 1)
    )
    return JobRequest("cv", "fold", f"{k}-fold test", executor, tasks)


def written(job_id: str, request: JobRequest, **status) -> str:
    from engine.jobs import _fresh_status

    write_request(job_id, request)
    write_status(JobStatus(**{**_fresh_status(job_id, request, 1).__dict__, **status}))
    return job_id


def dead_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def test_a_request_survives_its_file_and_malformed_files_are_refused(digits):
    request = fold_request(digits, k=2)
    as_file = json.loads(json.dumps(request.to_dict()))
    again = JobRequest.from_dict(as_file)
    assert again.to_dict() == as_file and [t.run_id for t in again.tasks] == [t.run_id for t in request.tasks]
    for broken in (
        [],
        {**request.to_dict(), "kind": "mine"},
        {**request.to_dict(), "tasks": []},
        {**request.to_dict(), "tasks": [{"dataset": 3}]},
        {**request.to_dict(), "executor": None},
    ):
        with pytest.raises(InvalidJob):
            JobRequest.from_dict(broken)
    with pytest.raises(InvalidJob, match="state"):
        JobStatus.from_dict({"state": "exploded", "runs": []})
    # Odd values in a status file become harmless defaults, never passed on (a pid of -1 would signal a group).
    parsed = JobStatus.from_dict({"state": "running", "runs": [], "pid": -1, "message": 7, "stored": "3"})
    assert (parsed.pid, parsed.message, parsed.stored) == (0, "", 0)


def test_the_driver_runs_a_kfold_job_and_its_status_names_every_fold(digits):
    request = fold_request(digits, k=2, seed=3)
    job_id = written("a" * 16, request)
    status = run_job(job_id)
    assert status.state == "done" and status.stored == 2
    assert [run.status for run in status.runs] == ["done", "done"]
    assert read_status(job_id) == status  # what the page reads is what the driver ended with
    # Oracle: the keys the store holds are those an independent run_id_for gives each fold's config.
    spec, config = preset_request("digitlab-small8", digits, epochs=1, limit_train=200, seed=3)
    expected = [run_id_for(digits, spec, fold) for fold in fold_configs(config, 2)]
    assert [run.run_id for run in status.runs] == expected
    assert all(RunStore().get(run_id) is not None for run_id in expected)


def test_a_dead_driver_is_reported_with_what_is_stored_and_a_resume_reuses_it(digits):
    request = fold_request(digits, k=3, seed=4)
    first = request.tasks[0]
    spec, config = first.request()
    get_or_train(digits, spec, config, preset=first.preset)  # fold 1 finished before the driver died
    job_id = written("b" * 16, request, state="running", pid=dead_pid())

    status = job_status(job_id)
    assert status.state == "driver_lost" and status.stored == 1
    assert "ended without finishing after 1 of 3 folds; that one is stored" in status.message
    assert [run.status for run in status.runs] == ["done", "waiting", "waiting"]

    resumed = run_job(job_id)  # what `resume_job`'s new driver process runs
    assert resumed.state == "done"
    assert [run.status for run in resumed.runs] == ["cached", "done", "done"]
    assert "1 were already" in resumed.message


def test_a_tampered_job_file_is_validated_before_anything_trains(digits):
    request = fold_request(digits, k=2, seed=5)
    data = request.to_dict()
    data["tasks"][1]["config"]["epochs"] = 10**6
    job_id = "c" * 16
    written(job_id, request)
    (job_dir(job_id) / "request.json").write_text(json.dumps(data))
    status = run_job(job_id)
    assert status.state == "failed"
    assert "Epochs must be between 1 and 500, got 1000000" in status.message
    assert RunStore().list() == []  # fold 1 was valid, but nothing trains until every task passed


def test_a_job_whose_run_id_does_not_match_its_request_is_refused(digits):
    request = fold_request(digits, k=2, seed=6)
    data = request.to_dict()
    data["tasks"][0]["run_id"] = "0" * 20
    job_id = "d" * 16
    written(job_id, request)
    (job_dir(job_id) / "request.json").write_text(json.dumps(data))
    status = run_job(job_id)
    assert status.state == "failed" and "names run '00000000000000000000'" in status.message
    assert RunStore().list() == []


def test_hosted_mode_offers_ray_only_when_the_operator_allows_it(monkeypatch, digits):
    monkeypatch.delenv("DIGIT_LAB_ALLOW_RAY", raising=False)
    monkeypatch.setenv("DIGIT_LAB_HOSTED", "1")
    assert "ray" not in available_executors()
    with pytest.raises(ExecutorUnavailable, match="DIGIT_LAB_ALLOW_RAY=1"):
        check_executor_allowed("ray")
    with pytest.raises(ExecutorUnavailable, match="DIGIT_LAB_ALLOW_RAY"):
        start_job(fold_request(digits, k=2, executor="ray"))
    assert not (job_dir("e" * 16).parent.exists() and any(job_dir("e" * 16).parent.iterdir()))
    monkeypatch.setenv("DIGIT_LAB_ALLOW_RAY", "1")
    check_executor_allowed("ray")
    assert "ray" in available_executors()
    monkeypatch.delenv("DIGIT_LAB_HOSTED")
    monkeypatch.delenv("DIGIT_LAB_ALLOW_RAY")
    check_executor_allowed("ray")  # outside hosted mode Ray needs no permission


def test_a_hosted_job_is_held_to_the_hosted_caps_by_its_driver(monkeypatch, digits):
    # Built outside hosted mode (30 epochs is fine there), run by a driver whose server is hosted: refused.
    spec, config = preset_request("digitlab-small8", digits, epochs=31, limit_train=200)
    task = RunTask.for_request(digits, spec, config, label="big").portable()
    job_id = written("f" * 16, JobRequest("study", "model", "hosted", "local", (task,)))
    monkeypatch.setenv("DIGIT_LAB_HOSTED", "1")
    status = run_job(job_id)
    assert status.state == "failed" and "Epochs must be between 1 and 30, got 31" in status.message
    with pytest.raises(InvalidConfig):
        run_id_for(digits, spec, config)  # the same validator the pages and the CLI use


def test_a_job_on_a_full_disk_is_not_started_and_says_why(monkeypatch, digits):
    """Before the guard, start_job on a full cache disk ended in "unexpected OSError: No space left on device"."""
    from engine import settings
    from engine.jobs import records
    from tests.store.full_disk import fill_disk

    started = []
    monkeypatch.setattr("engine.jobs.start_driver", lambda job_id: started.append(job_id) or 0)
    fill_disk(monkeypatch, settings.cache_dir())
    with pytest.raises(records.JobNotWritten, match="is full"):
        start_job(fold_request(digits, k=2))
    assert started == []  # no driver for a job whose request was never written


def test_a_driver_between_fork_and_exec_is_still_starting_not_lost(digits):
    """Right after `start_job` the driver's pid may still run the parent's program (fork, not yet exec): a job
    followed at once (`train_in_job`) must not read that as a lost driver. Past the grace period, or once the job
    says "running", a process that is not its driver is a lost driver again (a reused pid)."""
    import time

    from engine.jobs import STARTING_GRACE_SECONDS

    request = fold_request(digits, k=2, seed=6)
    stand_in = subprocess.Popen(["sleep", "60"])  # a live process whose command line does not name the job
    try:
        job_id = written("e" * 16, request, state="starting", pid=stand_in.pid, started=time.time())
        assert job_status(job_id).state == "starting"
        long_ago = time.time() - STARTING_GRACE_SECONDS - 1
        written(job_id, request, state="starting", pid=stand_in.pid, started=long_ago)
        assert job_status(job_id).state == "driver_lost"
        written(job_id, request, state="running", pid=stand_in.pid, started=time.time())
        assert job_status(job_id).state == "driver_lost"
    finally:
        stand_in.kill()
        stand_in.wait()
    written(job_id, request, state="starting", pid=stand_in.pid, started=time.time())
    assert job_status(job_id).state == "driver_lost"  # a dead pid is lost at once, grace or not

"""One training through a job driver: for the Train page's "Run on the Ray cluster", the classroom's submissions
and `digit-lab train --executor ray` when the server sends trainings to a Ray cluster.

The calling process (the Streamlit server, the CLI) never imports Ray: it writes a one-task "train" job, starts
its driver (`engine.jobs.start_job`), follows the driver's status file and, when the job is done, reads the run
from the store. Whatever ends the job otherwise (a failed validation in the driver, a lost cluster, a dead driver)
is `JobDidNotFinish` with the job's own message.

    result = train_in_job(RunTask.for_request(dataset, spec, config, preset), progress=on_epoch)
    result.run  # the StoredRun, as engine.runs.get_or_train returns it
"""

from __future__ import annotations

import time

from engine.errors import DigitLabError, TrainingCancelled
from engine.executors.tasks import RunTask
from engine.jobs import cancel_job, job_status, start_job, wait_for_job
from engine.jobs.records import JobRequest, JobStatus, RunState
from engine.progress import ProgressCallback, ProgressEvent
from engine.runs import RunResult
from engine.store import RunStore

NOUN = "training"
POLL_SECONDS = 0.5
CANCEL_WAIT_SECONDS = 30  # after Stop, how long to wait for the driver to write "cancelled"


class JobDidNotFinish(DigitLabError):
    """A training job ended without its run stored (failed, cancelled, its driver or cluster lost)."""

    def __init__(self, message: str, status: JobStatus | None = None):
        super().__init__(message)
        self.status = status


def train_request(task: RunTask, executor: str = "ray", title: str = "") -> JobRequest:
    """The one-task "train" job for `task` (made portable: no in-memory dataset leaves this process)."""
    title = title or f"Training {task.preset or 'a custom model'} on {task.dataset}"
    return JobRequest("train", NOUN, title, executor, (task.portable(),))


def train_in_job(
    task: RunTask,
    progress: ProgressCallback | None = None,
    executor: str = "ray",
    title: str = "",
    store: RunStore | None = None,
    timeout: float = 6 * 3600,
    poll: float = POLL_SECONDS,
) -> RunResult:
    """Train `task` in a job driver of its own on `executor`; the stored run, as `get_or_train` returns it.

    `progress` hears `ProgressEvent`s made from the driver's status: "queued" (with the slot position when the
    driver waits for one), "start" when a worker takes the run, "epoch" as epochs finish; returning False stops
    the job (`TrainingCancelled`). A run already in the store is answered without a job. Raises `JobDidNotFinish`
    with the job's message when it ends without the run, or after `timeout` seconds (the job is then stopped).
    """
    store = store or RunStore()
    started = time.perf_counter()
    if task.run_id and (run := store.get(task.run_id)) is not None:
        return RunResult(run, cached=True, seconds=time.perf_counter() - started)
    job_id = start_job(train_request(task, executor, title))
    follower = _Follower(progress, started, _epochs(task))
    deadline = time.monotonic() + timeout
    status = job_status(job_id, store)
    while not status.final:
        if follower.report(status) is False:
            cancel_job(job_id)
            wait_for_job(job_id, timeout=CANCEL_WAIT_SECONDS)
            raise TrainingCancelled(f"Training job {job_id} was stopped; nothing of its run was stored.")
        if time.monotonic() > deadline:
            cancel_job(job_id)
            raise JobDidNotFinish(
                f"Training job {job_id} did not finish within {timeout:.0f} s; it was stopped.", status
            )
        time.sleep(poll)
        status = job_status(job_id, store)
    follower.report(status)
    run = store.get(task.run_id) if status.state == "done" else None
    if run is None:
        raise JobDidNotFinish(_ended(job_id, status), status)
    cached = bool(status.runs) and status.runs[0].status == "cached"
    return RunResult(run, cached=cached, seconds=time.perf_counter() - started)


def _epochs(task: RunTask) -> int:
    epochs = task.config.get("epochs") if isinstance(task.config, dict) else None
    return epochs if type(epochs) is int and epochs > 0 else 0


def _ended(job_id: str, status: JobStatus) -> str:
    """Why the job ended without its run, in the job's own words (the run's error first: it is the cause)."""
    error = next((run.error for run in status.runs if run.error), "")
    what = {"cancelled": "was stopped", "done": "ended but its run is not in this store"}.get(
        status.state, f"ended ({status.state.replace('_', ' ')})"
    )
    return f"Training job {job_id} {what}: {error or status.message or 'no message'}"


class _Follower:
    """Turns the job's status into the `ProgressEvent`s one in-process training reports."""

    def __init__(self, progress: ProgressCallback | None, started: float, epochs: int):
        self.progress = progress
        self.started = started
        self.epochs = epochs  # the request's, until the driver's status says how many the run trains
        self.announced = False
        self.epoch = -1
        self.position = -1

    def report(self, status: JobStatus) -> bool | None:
        if self.progress is None or not status.runs:
            return None
        run: RunState = status.runs[0]
        epochs = run.epochs or self.epochs
        elapsed = time.perf_counter() - self.started
        answer = None
        if run.status in ("waiting", "queued") and not self.announced and run.position != self.position:
            self.position = run.position
            answer = self.progress(ProgressEvent("queued", 0, epochs, elapsed, {"position": run.position}))
        elif run.status in ("running", "training", "done", "cached") and not self.announced:
            self.announced = True
            answer = self.progress(ProgressEvent("start", 0, epochs, elapsed))
        if answer is not False and run.status == "training" and run.epochs and run.epoch > max(self.epoch, 0):
            self.epoch = run.epoch
            answer = self.progress(ProgressEvent("epoch", run.epoch, run.epochs, elapsed))
        return answer

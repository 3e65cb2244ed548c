"""The job driver: a process of its own that runs one job's tasks on an executor and keeps its status file.

Started by `engine.jobs.start_job` as `python -m engine job run JOB_ID` (detached, in its own session), so the
process that connects to Ray (`ray.init`) is never the Streamlit server: when the cluster goes away, Ray ends
this driver, not the server every visitor uses. The driver

- validates every task again with the limits in force (`engine.runs.run_id_for` calls `engine.validation`) and
  checks each dataset's fingerprint before anything trains;
- runs the tasks with the request's executor; finished runs land in the store as each completes, so whatever
  happens later they are kept, and a resumed job answers them from the store;
- rewrites `status.json` atomically as runs start, train and finish (per-epoch updates at most twice a second);
- watches the Ray head's GCS port: when it stops answering, it writes "cluster_lost" with the count of runs
  stored and exits, rather than waiting for Ray's own reconnect timeout (60 s by default) to kill it silently;
- on SIGTERM (the page's Stop button) cancels the runs in flight and writes "cancelled".
"""

from __future__ import annotations

import json
import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from types import FrameType, ModuleType
from typing import Any, cast

from engine.errors import DigitLabError, TrainingCancelled
from engine.executors import TasksFailed, get_executor, raise_for_failures
from engine.executors.ray_executor import RayExecutor
from engine.executors.tasks import DatasetMismatch, TaskEvent, load_task_dataset
from engine.jobs.records import (
    InvalidJob,
    JobRequest,
    JobStatus,
    RunState,
    read_request,
    read_status,
    write_status,
)
from engine.runs import run_id_for
from engine.store import RunStore

PROGRESS_WRITE_SECONDS = 0.5  # at most this often for per-epoch updates; state changes are written at once
WATCH_SECONDS = 0.5  # how often the watchdog knocks on the GCS port
MISSES_BEFORE_LOST = 3  # consecutive refused knocks (about 1.5 s) before the cluster counts as gone
CLUSTER_LOST_EXIT = 3  # the driver's exit code after it wrote "cluster_lost"


class StatusKeeper:
    """The driver's status, updated from the executor's events (main thread) and the watchdog (its thread)."""

    def __init__(self, status: JobStatus, noun: str):
        self.status = status
        self.noun = noun
        self._lock = threading.Lock()
        self._last_write = 0.0

    def _write(self, force: bool) -> None:
        now = time.monotonic()
        if force or now - self._last_write >= PROGRESS_WRITE_SECONDS:
            write_status(self.status)
            self._last_write = now

    def stored(self) -> int:
        return sum(run.status in ("done", "cached") for run in self.status.runs)

    def on_event(self, event: TaskEvent) -> None:
        """An `engine.executors.EventCallback`: record one task's progress."""
        with self._lock:
            if self.status.final:  # the watchdog already wrote the end
                return None
            changes: dict = {"status": event.status, "attempt": event.attempt, "position": event.position}
            if event.status == "training" and event.event is not None:
                changes.update(epoch=event.event.epoch, epochs=event.event.epochs)
            if event.status == "failed":
                changes["error"] = event.error
            before = self.status.runs[event.index].status
            self.status = self.status.with_run(event.index, **changes)
            self.status = replace(self.status, stored=self.stored())
            self._write(force=before != event.status or event.status != "training")
        return None

    def finish(self, state: str, message: str) -> None:
        with self._lock:
            if self.status.final:
                return
            self.status = replace(self.status, state=state, message=message, stored=self.stored())
            self._write(force=True)

    def lost_message(self, what: str) -> str:
        stored, total = self.stored(), self.status.total
        kept = f"those {stored} are stored" if stored != 1 else "that one is stored"
        if stored == 0:
            kept = "none was stored"
        rest = total - stored
        return (
            f"{what} after {stored} of {total} {self.noun}s; {kept}. Resume when it is back (or on this machine) to "
            f"train the other {rest}: the stored ones are answered from the store."
        )


def run_job(job_id: str, store: RunStore | None = None) -> JobStatus:
    """Run job `job_id` to its end and return its final status (also written to its folder)."""
    request = read_request(job_id)
    try:
        attempt = read_status(job_id).attempt
    except DigitLabError:
        attempt = 1
    status = JobStatus(
        job_id=job_id,
        state="running",
        runs=tuple(RunState(task.label, task.run_id) for task in request.tasks),
        pid=os.getpid(),
        attempt=attempt,
        started=time.time(),
    )
    keeper = StatusKeeper(status, request.noun)
    write_status(status)
    previous_handler = _stop_on_sigterm()
    watchdog = None
    try:
        tasks = checked_tasks(request)
        executor = get_executor(request.executor)
        if executor.name == "ray":
            ray = _connect(cast(RayExecutor, executor))  # the executor named "ray" is a RayExecutor
            watchdog = ClusterWatchdog(ray.get_runtime_context().gcs_address, keeper)
            watchdog.start()
        outcomes = executor.run(tasks, keeper.on_event, store=store)
        failed = [outcome for outcome in outcomes if not outcome.ok]
        if failed:
            try:
                raise_for_failures(outcomes, request.noun)
            except TasksFailed as error:
                keeper.finish("failed", str(error))
        else:
            cached = sum(outcome.cached for outcome in outcomes)
            keeper.finish("done", f"All {len(outcomes)} {request.noun}s are stored ({cached} were already).")
    except (TrainingCancelled, KeyboardInterrupt):
        stored = keeper.stored()
        keeper.finish(
            "cancelled",
            f"Stopped after {stored} of {keeper.status.total} {request.noun}s; those are stored, the runs in "
            "flight were cancelled and nothing of theirs was stored.",
        )
    except DigitLabError as error:
        keeper.finish("failed", str(error))
    except Exception as error:  # noqa: BLE001 - the status must say what ended the job, whatever it was
        if _is_cluster_error(error) or (watchdog is not None and watchdog.lost):
            keeper.finish("cluster_lost", keeper.lost_message("The Ray cluster went away"))
        else:
            keeper.finish("failed", f"The driver failed: {type(error).__name__}: {str(error)[:300]}")
            raise
    finally:
        if watchdog is not None:
            watchdog.stop()
        if previous_handler is not None:
            signal.signal(signal.SIGTERM, previous_handler)
    return keeper.status


def checked_tasks(request: JobRequest) -> list:
    """The request's tasks, each validated with the limits in force and its dataset loaded and fingerprinted.

    A job file is untrusted: its spec and config are parsed strictly and validated (`run_id_for` runs
    `engine.validation`), and the key they give must be the one the file names, so a job cannot store a run
    under a key that belongs to another request.
    """
    loaded: dict = {}
    checked = []
    for number, task in enumerate(request.tasks, 1):
        where = (task.dataset, task.local_path, json.dumps(task.view, sort_keys=True))
        if where not in loaded:
            loaded[where] = load_task_dataset(task)
        dataset = loaded[where]
        if dataset.fingerprint != task.fingerprint:
            raise DatasetMismatch(
                f"The job's {request.noun} {number} was keyed on other data than {task.dataset!r} loads here "
                f"(fingerprint {task.fingerprint[:12]}…, here {dataset.fingerprint[:12]}…). Nothing was trained."
            )
        spec, config = task.request()
        run_id = run_id_for(dataset, spec, config)
        if run_id != task.run_id:
            raise InvalidJob(
                f"The job's {request.noun} {number} names run {task.run_id[:20]!r} but its request keys to "
                f"{run_id}: the job file does not match this engine. Start the job again from the page."
            )
        checked.append(replace(task, data=dataset))
    return checked


def _connect(executor: RayExecutor) -> ModuleType:
    try:
        return executor.connect()
    except DigitLabError:
        raise
    except Exception as error:  # noqa: BLE001 - Ray raises ConnectionError, RuntimeError, ... for one cause
        address = os.environ.get("RAY_ADDRESS") or "a new local Ray instance"
        raise ConnectionToClusterFailed(
            f"Could not connect to the Ray cluster ({address}): {type(error).__name__}: {str(error)[:300]}. "
            "Nothing was trained; check that the cluster is up, or run on this machine."
        ) from error


class ConnectionToClusterFailed(DigitLabError):
    """The driver could not reach the Ray cluster at all."""


def _is_cluster_error(error: BaseException) -> bool:
    """Whether `error` is Ray saying its cluster (GCS, raylet, object store) is gone, rather than a bug of ours."""
    names = {cls.__name__ for cls in type(error).__mro__}
    return bool(names & {"RaySystemError", "GetTimeoutError", "ObjectLostError", "OwnerDiedError", "RpcError"})


class ClusterWatchdog(threading.Thread):
    """Knocks on the GCS port; when it stays shut, writes "cluster_lost" and ends the driver.

    Ray's own reaction to a lost GCS is to end every connected driver after `gcs_rpc_server_reconnect_timeout_s`
    (60 s by default) with a log line and no status; this says what happened while the driver still can.
    """

    def __init__(self, gcs_address: str, keeper: StatusKeeper):
        super().__init__(name="digitlab-cluster-watchdog", daemon=True)
        host, _, port = gcs_address.rpartition(":")
        self.address = (host or "127.0.0.1", int(port))
        self.keeper = keeper
        self.lost = False
        self._stop_event = threading.Event()

    def reachable(self) -> bool:
        try:
            with socket.create_connection(self.address, timeout=2):
                return True
        except OSError:
            return False

    def run(self) -> None:
        misses = 0
        while not self._stop_event.wait(WATCH_SECONDS):
            misses = 0 if self.reachable() else misses + 1
            if misses >= MISSES_BEFORE_LOST:
                self.lost = True
                host, port = self.address
                self.keeper.finish(
                    "cluster_lost", self.keeper.lost_message(f"The Ray cluster went away (its head at {host}:{port})")
                )
                # The driver cannot finish without the cluster, and Ray would end it later anyway.
                os._exit(CLUSTER_LOST_EXIT)

    def stop(self) -> None:
        self._stop_event.set()


def _stop_on_sigterm() -> Callable[[int, FrameType | None], Any] | int | None:
    def stop(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    try:
        return signal.signal(signal.SIGTERM, stop)
    except ValueError:  # not the main thread (a test calling run_job from a worker thread): no Stop signal
        return None

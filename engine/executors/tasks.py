"""What an executor runs: `RunTask` (one run to get or train), the events it reports (and `batch_relay`, which
turns them into `engine.progress.BatchProgress`), its outcome, and the worker-side function that trains one task
anywhere (`execute_task`).

A task is plain data (names, a fingerprint, the spec and config as dicts) so it can travel to another process
or machine; the worker loads the dataset itself and refuses to train on data whose fingerprint differs from the
one the driver keyed the run with, since that would store a different result under the same key.
"""

from __future__ import annotations

import os
import socket
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from engine.architectures.spec import ModelSpec
from engine.datasets import Dataset, load_dataset
from engine.datasets.memo import memoised_items
from engine.datasets.views import view_from_record
from engine.errors import DigitLabError, StoreError
from engine.progress import BatchCallback, BatchProgress, ProgressEvent
from engine.runs import OPTIONAL_RUN_FILES, RUN_FILES, RunResult, run_id_for, train_and_write, versions
from engine.settings import env_flag
from engine.store import RunStore, StoredRun
from engine.training.config import TrainConfig

# Test hook for the retry machinery (never set in normal use): "raise:<marker file>" makes the first task that
# creates the marker raise, "exit:<marker file>" makes its worker process die; later attempts run normally.
FAULT_ENV = "DIGIT_LAB_INJECT_FAULT"
SHARED_STORE_ENV = "DIGIT_LAB_SHARED_STORE"  # 1: workers see the driver's DIGIT_LAB_CACHE and store runs there


class DatasetMismatch(DigitLabError):
    """A worker loaded a dataset whose fingerprint differs from the one the run is keyed by."""


class EnvironmentMismatch(DigitLabError):
    """A worker computes a different store key for a task (other Keras/TensorFlow/engine versions)."""


class ExecutorUnavailable(DigitLabError):
    """An executor was asked for that cannot run here (unknown name, Ray not installed)."""


class TasksFailed(DigitLabError):
    """Some tasks of a batch failed after their retries; the others were stored (`outcomes` has them all)."""

    def __init__(self, message: str, outcomes: list | None = None):
        super().__init__(message)
        self.outcomes = outcomes or []


class TaskCrashed(RuntimeError):
    """An unexpected (possibly transient) error inside a worker; the only exception Ray retries.

    `DigitLabError`s (divergence, a dataset mismatch, a bad config) are deterministic, so retrying them would
    only repeat them.
    """


def shared_store_enabled() -> bool:
    return env_flag(SHARED_STORE_ENV)


@dataclass(frozen=True)
class RunTask:
    """One run to get or train: everything a worker on another machine needs, as plain data."""

    dataset: str  # registry name, e.g. "digits"
    fingerprint: str  # the driver's Dataset.fingerprint; the worker must load exactly this data
    local_path: str | None  # the local file or folder the driver loaded it from, or None
    spec: dict = field(hash=False)  # ModelSpec.to_dict()
    config: dict = field(hash=False)  # TrainConfig.to_dict()
    preset: str = ""  # label kept in the run's meta only
    run_id: str = ""  # the store key the driver computed (engine.runs.run_id_for)
    label: str = ""  # for progress messages: "fold 2/5", "seed003-m4"
    # The record of the dataset view the run trains on (`engine.datasets.views`: a challenge's public part, whose
    # name is `dataset`), so that a process without this server's cache rebuilds it; None for any other dataset.
    view: dict | None = field(default=None, hash=False)
    # The driver's in-memory Dataset: used by the local executor (so transformed datasets keep working) and
    # dropped before a task leaves the process (`portable`).
    data: Any = field(default=None, hash=False, compare=False, repr=False)

    @classmethod
    def for_request(
        cls,
        dataset: Dataset,
        spec: ModelSpec,
        config: TrainConfig,
        preset: str = "",
        label: str = "",
        local_path: str | os.PathLike | None = None,
        view: dict | None = None,
    ) -> RunTask:
        """The task for training (dataset, spec, config). With `view`, `dataset` is a dataset view and `view` its
        record (`engine.datasets.views.ViewRecord.to_dict`), from which another process rebuilds it."""
        if local_path is None:
            local_path = dataset_local_path(dataset)
        return cls(
            dataset=dataset.name,
            fingerprint=dataset.fingerprint,
            local_path=str(local_path) if local_path is not None else None,
            spec=spec.to_dict(),
            config=config.to_dict(),
            preset=preset,
            run_id=run_id_for(dataset, spec, config),
            label=label,
            view=view,
            data=dataset,
        )

    def portable(self) -> RunTask:
        """This task without the in-memory dataset, for sending to another process."""
        return replace(self, data=None)

    def request(self) -> tuple[ModelSpec, TrainConfig]:
        """(ModelSpec, TrainConfig) rebuilt from the task's dicts."""
        return ModelSpec.from_dict(self.spec), TrainConfig.from_dict(self.config)


@dataclass(frozen=True)
class TaskEvent:
    """Progress of one task.

    `status`: "queued" (waiting for a worker), "running" (a worker started it; `attempt` > 1 on a retry),
    "training" (`event` holds the epoch/batch ProgressEvent), "done" (trained and stored), "cached" (answered
    from the store, nothing run) or "failed" (`error` says why, after the retries).
    """

    index: int  # 0-based position in the task list
    total: int
    status: str
    task: RunTask
    done: int = 0  # tasks finished (done, cached or failed) so far, this one included
    event: Any = None  # engine.progress.ProgressEvent for "training"
    error: str = ""
    attempt: int = 1
    position: int = 0  # "queued" only: > 0 while waiting for this server's training slot, 1 = next in line


EventCallback = Callable[[TaskEvent], "bool | None"]


def batch_relay(progress: BatchCallback, labels: Sequence[str] = ()) -> EventCallback:
    """An executor event callback that reports each `TaskEvent` to `progress` as a `BatchProgress`.

    `labels[i]` names run i (empty: runs are known by their number only). The executor's "running" becomes
    "start", and its "done"/"cached" become "done" (with `cached`); a run answered from the store without running
    reports "start" first, so every run starts before it ends. "queued" and "failed" pass through. Whatever
    `progress` returns goes back to the executor, so a callback can still cancel a local training.
    """
    started: set[int] = set()

    def relay(update: TaskEvent) -> bool | None:
        def report(status: str, **fields: Any) -> bool | None:
            return progress(
                BatchProgress(
                    index=update.index + 1,
                    total=update.total,
                    status=status,
                    label=labels[update.index] if update.index < len(labels) else "",
                    run_id=update.task.run_id,
                    done=update.done,
                    attempt=update.attempt,
                    **fields,
                )
            )

        if update.status == "running":
            started.add(update.index)
            return report("start")
        if update.status == "training":
            return report("training", event=update.event)
        if update.status in ("done", "cached"):
            if update.index not in started:
                started.add(update.index)
                report("start")
            return report("done", cached=update.status == "cached")
        if update.status == "failed":
            return report("failed", error=update.error)
        return report(update.status)

    return relay


@dataclass(frozen=True)
class TaskOutcome:
    """How one task ended: a stored run (fresh or cached) or an error. Reads like `engine.runs.RunResult`."""

    task: RunTask
    run: Any = None  # StoredRun, None when failed
    cached: bool = False
    seconds: float = 0.0
    error: BaseException | None = None
    attempts: int = 1
    worker: str = ""  # host:pid that trained it ("" when cached or local)

    @property
    def ok(self) -> bool:
        return self.error is None and self.run is not None

    def result(self) -> RunResult:
        """The `engine.runs.RunResult` for a successful task."""
        if not self.ok:
            raise self.error or RuntimeError("task has no run")
        return RunResult(self.run, self.cached, self.seconds)


def load_task_dataset(task: RunTask) -> Dataset:
    """The dataset `task` trains on, loaded here: the registry's (or the local path's), or the view its record
    describes."""
    if task.view is None:
        return load_dataset(task.dataset, task.local_path)
    return view_from_record(task.dataset, task.view, load_dataset)


def dataset_local_path(dataset: Dataset) -> str | None:
    """The local path `dataset` was loaded from, when it is the very object `load_dataset` returned for one.

    A worker must load the same data; None means "load it by name" (the fingerprint check catches the rest).
    """
    for (_name, path), loaded in memoised_items():
        if loaded is dataset and path is not None:
            return path
    return None


def raise_for_failures(outcomes: list[TaskOutcome], what: str = "task") -> None:
    """Raise `TasksFailed` naming each failed task, after the successful ones were stored."""
    failed = [o for o in outcomes if not o.ok]
    if not failed:
        return
    lines = "; ".join(f"{o.task.label or o.task.run_id}: {_describe(o.error)}" for o in failed)
    kept = len(outcomes) - len(failed)
    raise TasksFailed(
        f"{len(failed)} of {len(outcomes)} {what}s failed ({lines}). The {kept} that finished are "
        f"stored, so running the same request again only retries the failed ones.",
        outcomes,
    )


def _describe(error: BaseException | None) -> str:
    if error is None:
        return "no result"
    cause = getattr(error, "cause", None)  # ray.exceptions.RayTaskError wraps the worker's exception
    error = cause if isinstance(cause, BaseException) else error
    if isinstance(error, DigitLabError):
        return str(error)
    return f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}".rstrip(": ")


# ---------------------------------------------------------------------------------------------------- worker side


def execute_task(task: RunTask, shared_store: bool = False, report: Callable[[dict], None] | None = None) -> dict:
    """Train one task on whatever process or machine this runs on; return its files and meta.

    With `shared_store` the worker stores the run itself in its `DIGIT_LAB_CACHE` (which must be the driver's)
    and returns only the key. Otherwise it returns `{"files": {name: bytes}, "meta": {...}}` for the driver to
    store with `RunStore.put`. `report(message)` receives progress dicts ("running", then training events).
    Unexpected errors are re-raised as `TaskCrashed`, the one type the Ray executor retries.
    """
    try:
        return _execute(task, shared_store, report)
    except DigitLabError:
        raise
    except Exception as error:  # noqa: BLE001 - anything else may be transient (disk, memory, a flaky mount)
        raise TaskCrashed(f"{type(error).__name__}: {error}") from error


def _execute(task: RunTask, shared_store: bool, report: Callable[[dict], None] | None) -> dict:
    worker = f"{socket.gethostname()}:{os.getpid()}"
    if report is not None:
        report({"status": "running", "worker": worker})
    _inject_fault()
    dataset = load_task_dataset(task)
    if dataset.fingerprint != task.fingerprint:
        raise DatasetMismatch(
            f"The worker {worker} loaded dataset {task.dataset!r}"
            + (f" from {task.local_path}" if task.local_path else "")
            + f" with fingerprint {dataset.fingerprint[:12]}…, but the run is keyed by {task.fingerprint[:12]}…: "
            f"it is different data ({dataset.source}). Make the same files available on every worker (the same "
            f"local path, or DIGIT_LAB_MNIST_DIR / DIGIT_LAB_FASHION_MNIST_DIR), or use the local executor. "
            f"Nothing was trained."
        )
    spec, config = task.request()
    run_id = run_id_for(dataset, spec, config)
    if task.run_id and run_id != task.run_id:
        raise EnvironmentMismatch(
            f"The worker {worker} computes store key {run_id} for {task.label or 'this task'} but the driver "
            f"computed {task.run_id}: the worker has different versions ({versions()}). Install the same "
            f"requirements on the workers as on the driver."
        )

    def progress(event: ProgressEvent) -> None:
        if report is not None and event.stage in ("start", "epoch", "batch"):
            report({"status": "training", "event": event})
        return None

    started = time.perf_counter()
    if shared_store:
        store = RunStore()
        run, cached = store.create(
            run_id, lambda folder: train_and_write(folder, run_id, dataset, spec, config, task.preset, progress)
        )
        return {
            "run_id": run_id,
            "stored": True,
            "cached": cached,
            "store": str(store.root),
            "worker": worker,
            "seconds": time.perf_counter() - started,
        }
    with tempfile.TemporaryDirectory(prefix=f"digitlab-{run_id}-") as folder:
        meta = train_and_write(Path(folder), run_id, dataset, spec, config, task.preset, progress)
        written = [*RUN_FILES, *(name for name in OPTIONAL_RUN_FILES if (Path(folder) / name).is_file())]
        files = {name: (Path(folder) / name).read_bytes() for name in written}
    return {
        "run_id": run_id,
        "stored": False,
        "meta": meta,
        "files": files,
        "worker": worker,
        "seconds": time.perf_counter() - started,
    }


def _inject_fault() -> None:
    spec = os.environ.get(FAULT_ENV, "")
    if not spec or ":" not in spec:
        return
    kind, marker = spec.split(":", 1)
    try:
        fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)  # atomic: exactly one attempt fails
    except FileExistsError:
        return
    os.close(fd)
    if kind == "exit":
        os._exit(1)
    raise RuntimeError(f"injected failure ({FAULT_ENV}={spec})")


def store_payload(store: RunStore, payload: dict) -> StoredRun:
    """Store a worker's returned files atomically with `RunStore.put`; returns the StoredRun."""
    run_id = payload["run_id"]
    if payload.get("stored"):
        run = store.get(run_id)
        if run is None:
            raise StoreError(
                f"A worker stored run {run_id} in {payload.get('store')}, which this process cannot see "
                f"(its store is {store.root}). Unset DIGIT_LAB_SHARED_STORE unless every worker mounts the same "
                f"DIGIT_LAB_CACHE at the same path."
            )
        return run
    names = set(payload["files"])
    if not set(RUN_FILES) <= names <= set(RUN_FILES) | set(OPTIONAL_RUN_FILES):
        raise StoreError(
            f"A worker returned files {sorted(names)} for run {run_id}, expected {list(RUN_FILES)} and perhaps "
            f"{list(OPTIONAL_RUN_FILES)}."
        )
    with tempfile.TemporaryDirectory(prefix=f"digitlab-{run_id}-") as folder:
        for name, data in payload["files"].items():
            (Path(folder) / name).write_bytes(data)
        return store.put(run_id, Path(folder), payload["meta"])

"""A job's folder under the cache and what it holds: the request, the status the driver keeps, its pid and log.

    cache/jobs/<job_id>/request.json   JobRequest: what to run (a list of RunTasks) and where (executor)
    cache/jobs/<job_id>/status.json    JobStatus: the driver's account, rewritten atomically as runs progress
    cache/jobs/<job_id>/driver.pid     the driver process's pid, written by whoever started it
    cache/jobs/<job_id>/driver.log     the driver's stdout and stderr

Everything read back from these files is untrusted (another process wrote it, a person may have edited it):
`read_request` and `read_status` check shapes and types and raise `JobNotFound` / `InvalidJob` instead of
passing odd values on. A request's tasks are validated again by the driver (`engine.validation`) before anything
trains.
"""

from __future__ import annotations

import os
import re
import secrets
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, cast

from engine import settings
from engine.errors import DigitLabError
from engine.executors.tasks import RunTask
from engine.store.disk import disk_guard, write_json_atomically
from engine.textfiles import load_json_file, open_regular_file

JOB_ID = re.compile(r"^[0-9a-f]{16}$")  # 8 random bytes; run ids are 20 hex characters, so the two never mix
# "starting": folder written, driver not yet running; "running": the driver is working; the rest are final.
# "cluster_lost": the Ray cluster went away under the driver; "driver_lost": the driver process ended without
# writing a final state (killed, out of memory, killed by Ray): the reader infers it, the driver never writes it.
JOB_STATES = ("starting", "running", "done", "failed", "cancelled", "cluster_lost", "driver_lost")
FINAL_STATES = ("done", "failed", "cancelled", "cluster_lost", "driver_lost")
# Per run: "waiting" (not submitted yet), then the executor's statuses (engine.executors.TaskEvent).
RUN_STATES = ("waiting", "queued", "running", "training", "done", "cached", "failed")
JOB_KINDS = ("cv", "study", "sweep", "train")  # "train": one training (Train page, classroom, CLI)
_MAX_RECORD_BYTES = 2_000_000  # a request or status of MAX_TASKS tasks is well under this
MAX_TASKS = 200  # a job file holding more is refused: no page or CLI verb makes one that large


class JobNotFound(DigitLabError):
    """No job folder for this id (or the id is not a job id)."""


class JobNotWritten(DigitLabError):
    """The disk refused a job's record (full, over quota, read-only): the job is not started or not updated."""


class InvalidJob(DigitLabError):
    """A job's request or status file is malformed, or a job cannot do what was asked (resume a running one)."""


def is_job_id(text: object) -> bool:
    return isinstance(text, str) and bool(JOB_ID.match(text))


def jobs_dir() -> Path:
    return settings.cache_dir() / "jobs"


def job_dir(job_id: str) -> Path:
    if not is_job_id(job_id):
        raise JobNotFound(f"{str(job_id)[:40]!r} is not a job id (16 hexadecimal characters).")
    return jobs_dir() / job_id


def new_job_id() -> str:
    return secrets.token_hex(8)


@dataclass(frozen=True)
class JobRequest:
    """What a driver runs: runs to get or train, and the executor to run them on. Generic, so k-fold, preset studies
    and later sweeps share one driver."""

    kind: str  # one of JOB_KINDS: what the runs are for, so a page knows which jobs are its own
    noun: str  # what one run is called in messages: "fold", "model", "trial"
    title: str  # one line for people: "5-fold cross-validation of digitlab-small8 on digits"
    executor: str  # "ray" or "local" (engine.executors)
    tasks: tuple = ()  # RunTask objects, portable (no in-memory dataset)

    def to_dict(self) -> dict:
        return {
            "kind": self.kind,
            "noun": self.noun,
            "title": self.title,
            "executor": self.executor,
            "tasks": [_task_dict(task) for task in self.tasks],
        }

    @classmethod
    def from_dict(cls, data: object) -> JobRequest:
        if not isinstance(data, dict):
            raise InvalidJob("A job request must be a JSON object.")
        for name in ("kind", "noun", "title", "executor"):
            if not isinstance(data.get(name), str):
                raise InvalidJob(f"The job request's {name!r} must be text.")
        if data["kind"] not in JOB_KINDS:
            raise InvalidJob(f"Unknown job kind {data['kind'][:20]!r}; expected one of {', '.join(JOB_KINDS)}.")
        tasks = data.get("tasks")
        if not isinstance(tasks, list) or not 1 <= len(tasks) <= MAX_TASKS:
            raise InvalidJob(f"A job request needs a list of 1 to {MAX_TASKS} tasks.")
        parsed = []
        for number, item in enumerate(tasks, 1):
            text_fields = ("dataset", "fingerprint", "preset", "run_id", "label")
            if (
                not isinstance(item, dict)
                or any(not isinstance(item.get(name, ""), str) for name in text_fields)
                or not isinstance(item.get("spec"), dict)
                or not isinstance(item.get("config"), dict)
                or not isinstance(item.get("local_path"), str | None)
                or not isinstance(item.get("view"), dict | None)
            ):
                raise InvalidJob(f"Task {number} of the job request is malformed.")
            parsed.append(
                RunTask(
                    **{name: item.get(name, "") for name in text_fields},
                    local_path=item.get("local_path"),
                    spec=item["spec"],
                    config=item["config"],
                    view=item.get("view"),
                )
            )
        return cls(data["kind"], data["noun"][:40], data["title"][:200], data["executor"], tuple(parsed))


def _task_dict(task: RunTask) -> dict:
    data = asdict(task.portable())
    data.pop("data", None)
    return data


@dataclass(frozen=True)
class RunState:
    """Where one run of a job stands, as the driver last wrote it."""

    label: str  # "fold 2/5", "seed003-m4"
    run_id: str
    status: str = "waiting"  # one of RUN_STATES
    epoch: int = 0  # epochs finished so far (while "training")
    epochs: int = 0
    attempt: int = 1  # > 1 when Ray retried the run
    error: str = ""  # "failed" only
    position: int = 0  # "queued" only: > 0 while waiting for one of the server's training slots (1 = next)


@dataclass(frozen=True)
class JobStatus:
    """A job as its driver last described it; `engine.jobs.job_status` adds what the driver could not write."""

    job_id: str
    state: str  # one of JOB_STATES
    runs: tuple[RunState, ...] = ()
    message: str = ""  # for people: why it ended, what was kept, what to do
    pid: int = 0  # the driver's process id (0 before it started)
    attempt: int = 1  # 1, then 2 after one resume, ...
    started: float = 0.0  # time.time() when this attempt's driver started
    updated: float = field(default=0.0, compare=False)  # time.time() of the last write (set by write_status)
    stored: int = 0  # runs in the store (done or cached) at the last write
    extras: dict = field(default_factory=dict, compare=False)  # reserved for later kinds (a sweep's best trial)

    @property
    def total(self) -> int:
        return len(self.runs)

    @property
    def final(self) -> bool:
        return self.state in FINAL_STATES

    @property
    def failed(self) -> int:
        return sum(run.status == "failed" for run in self.runs)

    def with_run(self, index: int, **changes: Any) -> JobStatus:
        runs = list(self.runs)
        runs[index] = replace(runs[index], **changes)
        return replace(self, runs=tuple(runs))

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: object) -> JobStatus:
        if not isinstance(data, dict) or not isinstance(data.get("runs"), list):
            raise InvalidJob("A job status must be a JSON object with a list of runs.")
        if data.get("state") not in JOB_STATES:
            raise InvalidJob(f"Unknown job state {str(data.get('state'))[:20]!r}.")
        runs = []
        for item in data["runs"][:MAX_TASKS]:
            if not isinstance(item, dict) or item.get("status") not in RUN_STATES:
                raise InvalidJob("A run in the job status is malformed.")
            runs.append(
                RunState(
                    label=_text(item.get("label"), 60),
                    run_id=_text(item.get("run_id"), 40),
                    status=item["status"],
                    epoch=_count(item.get("epoch")),
                    epochs=_count(item.get("epochs")),
                    attempt=max(1, _count(item.get("attempt"))),
                    error=_text(item.get("error"), 600),
                    position=_count(item.get("position")),
                )
            )
        return cls(
            job_id=_text(data.get("job_id"), 16),
            state=data["state"],
            runs=tuple(runs),
            message=_text(data.get("message"), 1200),
            pid=_count(data.get("pid")),
            attempt=max(1, _count(data.get("attempt"))),
            started=_number(data.get("started")),
            updated=_number(data.get("updated")),
            stored=_count(data.get("stored")),
        )


def _text(value: object, limit: int) -> str:
    return value[:limit] if isinstance(value, str) else ""


def _count(value: object) -> int:
    return value if type(value) is int and 0 <= value < 2**31 else 0


def _number(value: object) -> float:
    # The cast: mypy does not narrow on `type(value) in ...`, which proves the value an int or a float.
    return float(cast(float, value)) if type(value) in (int, float) and value == value else 0.0


# ------------------------------------------------------------------------------------------------ files


def _write_record(path: Path, data: dict) -> None:
    """The store's one atomic JSON writer (`engine.store.disk.write_json_atomically`), a disk that refuses the
    write (full, read-only) said as `JobNotWritten` with what to do, not "unexpected OSError"."""
    with disk_guard(path.parent, f"the job's {path.name}", "set DIGIT_LAB_CACHE to a folder", JobNotWritten):
        write_json_atomically(path, data)


def _read_json(path: Path, what: str) -> object:
    try:
        return load_json_file(path, max_bytes=_MAX_RECORD_BYTES)
    except FileNotFoundError:
        raise JobNotFound(f"No job {path.parent.name}: its {what} is not in {path.parent.parent}.") from None
    except OSError as problem:  # a FIFO, a link, a device or a huge file planted in the job's folder
        raise InvalidJob(f"The job's {what} cannot be read: it {problem.strerror or problem}.") from None
    except ValueError:
        raise InvalidJob(f"The job's {what} is not valid JSON.") from None


def write_request(job_id: str, request: JobRequest) -> None:
    _write_record(job_dir(job_id) / "request.json", request.to_dict())


def read_request(job_id: str) -> JobRequest:
    return JobRequest.from_dict(_read_json(job_dir(job_id) / "request.json", "request"))


def write_status(status: JobStatus) -> None:
    _write_record(job_dir(status.job_id) / "status.json", {**status.to_dict(), "updated": time.time()})


def read_status(job_id: str) -> JobStatus:
    status = JobStatus.from_dict(_read_json(job_dir(job_id) / "status.json", "status"))
    return replace(status, job_id=job_id)


def write_pid(job_id: str, pid: int) -> None:
    _write_record(job_dir(job_id) / "driver.pid", {"pid": int(pid)})


def read_pid(job_id: str) -> int:
    try:
        data = load_json_file(job_dir(job_id) / "driver.pid", max_bytes=1_000)
    except (OSError, ValueError):
        return 0
    return _count(data.get("pid")) if isinstance(data, dict) else 0


def log_path(job_id: str) -> Path:
    return job_dir(job_id) / "driver.log"


def log_tail(job_id: str, limit: int = 4000) -> str:
    """The end of the driver's log (empty when there is none)."""
    try:
        with open_regular_file(log_path(job_id)) as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - limit))
            return handle.read().decode("utf-8", "replace")
    except OSError:
        return ""

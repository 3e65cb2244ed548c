"""Jobs: batches of runs (k-fold folds, a preset study's models, sweep trials) trained by a driver process of their
own.

The Streamlit server never connects to Ray: it writes a job folder (`cache/jobs/<job_id>/`), starts the driver
(`python -m engine job run JOB_ID`, detached in its own session) and follows the status file the driver keeps.
If the driver or the cluster dies, `job_status` says so and how many runs are stored; `resume_job` starts a new
driver for the same job, which answers the stored runs from the store and trains the rest.

    job_id = start_job(JobRequest("cv", "fold", "5-fold ...", "ray", tuple(tasks)))
    status = job_status(job_id)          # JobStatus: state, per-run progress, message
    resume_job(job_id); cancel_job(job_id)

The same verbs exist on the command line: `digit-lab job run|status|resume|cancel JOB_ID [--json]`.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

from engine import settings
from engine.errors import DigitLabError
from engine.executors import check_executor_allowed
from engine.jobs.records import (
    FINAL_STATES,
    JOB_KINDS,
    InvalidJob,
    JobNotFound,
    JobRequest,
    JobStatus,
    RunState,
    is_job_id,
    job_dir,
    log_path,
    log_tail,
    new_job_id,
    read_pid,
    read_request,
    read_status,
    write_pid,
    write_request,
    write_status,
)
from engine.processes import process_exists
from engine.store import RunStore

STARTING_GRACE_SECONDS = 60  # a driver that has not written "running" by then is taken for dead (import + start)
# What Ray's core worker logs before it ends a driver whose GCS went away (Ray 2.x); seen in the driver's log.
GCS_GONE_MARKERS = ("Failed to connect to GCS", "GCS may have been killed")


def start_job(request: JobRequest) -> str:
    """Write a job folder for `request`, start its driver, return the job id. Refuses Ray where it is not allowed."""
    check_executor_allowed(request.executor)
    job_id = new_job_id()
    write_request(job_id, request)
    write_status(_fresh_status(job_id, request, attempt=1))
    start_driver(job_id)
    return job_id


def _fresh_status(job_id: str, request: JobRequest, attempt: int) -> JobStatus:
    runs = tuple(RunState(task.label, task.run_id) for task in request.tasks)
    return JobStatus(job_id=job_id, state="starting", runs=runs, attempt=attempt, started=time.time())


def start_driver(job_id: str) -> int:
    """Start `python -m engine job run JOB_ID` detached (its own session, output to the job's log); its pid.

    The driver imports the same engine as this process (its package folder leads PYTHONPATH) and writes into the
    same store (DIGIT_LAB_CACHE made absolute), whatever the working folder.
    """
    root = str(Path(__file__).resolve().parents[2])
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    env[settings.CACHE_ENV] = str(settings.cache_dir().resolve())
    with open(log_path(job_id), "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "engine", "job", "run", job_id],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,  # the server's signals (Ctrl-C, a reload) do not reach it, nor its Ray's
        )
    write_pid(job_id, process.pid)
    # Reap it when it ends, so a finished driver does not linger as a zombie that still looks alive.
    threading.Thread(target=process.wait, name=f"digitlab-reap-{job_id}", daemon=True).start()
    return process.pid


def driver_alive(pid: int, job_id: str, starting: bool = False) -> bool:
    """Whether `pid` is a live (not zombie) process running this job's driver (so a reused pid does not count).

    `starting`: the job was just started by this pid's parent, which may not have exec'd the driver yet (between
    fork and exec the child still carries the parent's command line): any live process counts.
    """
    if pid <= 0:
        return False
    proc = Path(f"/proc/{pid}")
    if proc.exists():
        try:
            stat = (proc / "stat").read_text()
            if stat[stat.rindex(")") + 2 :].startswith(("Z", "X")):
                return False
            return starting or job_id.encode() in (proc / "cmdline").read_bytes()
        except OSError:
            return False
    return process_exists(pid) and sys.platform != "linux"  # no /proc entry on Linux: gone


def job_status(job_id: str, store: RunStore | None = None) -> JobStatus:
    """The job's status, with what its driver could not write: a driver that died is "driver_lost" (or
    "cluster_lost" when its log shows Ray ended it for a lost cluster), and the message counts the runs in the
    store. Raises `JobNotFound` / `InvalidJob` for a missing or malformed job."""
    status = read_status(job_id)
    if status.final:
        return status
    pid = status.pid or read_pid(job_id)
    # A job "starting" within its grace period was started moments ago: its pid is fresh, not a reused one.
    starting = status.state == "starting" and time.time() - status.started < STARTING_GRACE_SECONDS
    if driver_alive(pid, job_id, starting=starting):
        return status
    if starting and not pid:
        return status
    return _lost(job_id, status, pid, store)


def _lost(job_id: str, status: JobStatus, pid: int, store: RunStore | None) -> JobStatus:
    store = store or RunStore()
    stored_ids = {run.run_id for run in status.runs if run.run_id and store.get(run.run_id) is not None}
    runs = tuple(
        replace(run, status="done") if run.run_id in stored_ids and run.status not in ("done", "cached") else run
        for run in status.runs
    )
    stored, total = len(stored_ids), len(runs)
    try:
        noun = read_request(job_id).noun
    except DigitLabError:
        noun = "run"
    tail = log_tail(job_id)
    cluster = any(marker in tail for marker in GCS_GONE_MARKERS)
    what = (
        "The Ray cluster went away (Ray ended the job's driver)"
        if cluster
        else f"The job's driver (pid {pid or '?'}) ended without finishing"
    )
    last_line = next((line.strip() for line in reversed(tail.splitlines()) if line.strip()), "")
    kept = {0: "none was stored", 1: "that one is stored"}.get(stored, f"those {stored} are stored")
    message = f"{what} after {stored} of {total} {noun}s; {kept}. Resume to train the other {total - stored}."
    if last_line and not cluster:
        message += f" Its log ends: {last_line[:200]}"
    return replace(
        status, state="cluster_lost" if cluster else "driver_lost", runs=runs, stored=stored, message=message
    )


def resume_job(job_id: str) -> int:
    """Start a new driver for a job that ended without finishing; stored runs are answered from the store."""
    status = job_status(job_id)
    if not status.final:
        raise InvalidJob(f"Job {job_id} is still {status.state}; it cannot be resumed while its driver runs.")
    request = read_request(job_id)

    check_executor_allowed(request.executor)
    write_status(_fresh_status(job_id, request, attempt=status.attempt + 1))
    return start_driver(job_id)


def cancel_job(job_id: str) -> bool:
    """Ask the job's driver to stop (SIGTERM): it cancels the runs in flight and writes "cancelled". False when no
    driver was running."""
    status = read_status(job_id)
    pid = status.pid or read_pid(job_id)
    if status.final or not driver_alive(pid, job_id):
        return False
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    return True


def wait_for_job(job_id: str, timeout: float = 600, poll: float = 0.5) -> JobStatus:
    """Until the job reaches a final state (for the CLI and tests); returns the last status seen."""
    deadline = time.monotonic() + timeout
    status = job_status(job_id)
    while not status.final and time.monotonic() < deadline:
        time.sleep(poll)
        status = job_status(job_id)
    return status


__all__ = [
    "FINAL_STATES",
    "JOB_KINDS",
    "InvalidJob",
    "JobNotFound",
    "JobRequest",
    "JobStatus",
    "RunState",
    "cancel_job",
    "driver_alive",
    "is_job_id",
    "job_dir",
    "job_status",
    "log_tail",
    "resume_job",
    "start_driver",
    "start_job",
    "wait_for_job",
]

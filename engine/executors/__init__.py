"""Executors: where the runs of a k-fold or a preset study are trained.

`local` (the default) trains them one by one in this process; `ray` sends them to a Ray cluster (or a local Ray
instance) and stores what comes back. Both key runs with `engine.runs.run_id_for`, so a run trained by either is
the same cached run for every page, link and comparison.

    executor = get_executor("ray")            # or get_executor() -> $DIGIT_LAB_EXECUTOR, else "local"
    outcomes = executor.run(tasks, on_event)  # one TaskOutcome per RunTask, in order
"""

from __future__ import annotations

import os
from typing import Protocol, runtime_checkable

from engine.executors.local import LocalExecutor
from engine.executors.ray_executor import RayExecutor
from engine.executors.tasks import (
    DatasetMismatch,
    EnvironmentMismatch,
    EventCallback,
    ExecutorUnavailable,
    RunTask,
    TaskCrashed,
    TaskEvent,
    TaskOutcome,
    TasksFailed,
    batch_relay,
    raise_for_failures,
)
from engine.limits import hosted_mode
from engine.settings import env_flag
from engine.store import RunStore

EXECUTOR_ENV = "DIGIT_LAB_EXECUTOR"  # default executor name for the CLI and dashboard: local | ray
EXECUTORS = ("local", "ray")
# Hosted mode offers no Ray unless the operator says so: a Ray job reaches past this machine (and, before the job
# driver existed, took no training slot). With it, the driver takes a slot per task in flight (RayExecutor).
ALLOW_RAY_ENV = "DIGIT_LAB_ALLOW_RAY"


@runtime_checkable
class Executor(Protocol):
    name: str

    def run(
        self, tasks: list[RunTask], on_event: EventCallback | None = None, store: RunStore | None = None
    ) -> list[TaskOutcome]:
        """Get or train every task into `store` (default `RunStore()`); one outcome per task, in order."""
        ...


def ray_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("ray") is not None


def ray_allowed() -> bool:
    """Whether this server may run Ray jobs: always outside hosted mode, in hosted mode only with
    `DIGIT_LAB_ALLOW_RAY=1`."""
    return env_flag(ALLOW_RAY_ENV) or not hosted_mode()


def check_executor_allowed(name: str) -> None:
    """Raise `ExecutorUnavailable` for an unknown executor, or for Ray on a hosted server that does not allow it."""
    if name not in EXECUTORS:
        raise ExecutorUnavailable(f"Unknown executor {str(name)[:20]!r}; choose {' or '.join(EXECUTORS)}.")
    if name == "ray" and not ray_allowed():
        raise ExecutorUnavailable(
            "This hosted server does not run Ray jobs: its operator has not set DIGIT_LAB_ALLOW_RAY=1. "
            "Use the local executor (this machine's training queue)."
        )


def available_executors() -> list[str]:
    """The executor names that can run here (for a settings widget): Ray when installed and allowed."""
    return [name for name in EXECUTORS if name != "ray" or (ray_available() and ray_allowed())]


def configured_executor() -> str:
    """Where this server sends single trainings and jobs by default: `$DIGIT_LAB_EXECUTOR` ("local" when unset or
    empty, else "local" or "ray"), checked without importing Ray. `ExecutorUnavailable` with one line of advice for
    another value, for Ray when it is not installed, or on a hosted server that does not allow it."""
    raw = os.environ.get(EXECUTOR_ENV, "")
    name = raw.strip().lower() or "local"
    if name not in EXECUTORS:
        raise ExecutorUnavailable(
            f"{EXECUTOR_ENV}={raw.strip()[:20]!r} is not an executor; set it to {' or '.join(EXECUTORS)} (or unset)."
        )
    check_executor_allowed(name)
    if name == "ray" and not ray_available():
        raise ExecutorUnavailable(
            f"{EXECUTOR_ENV}=ray, but Ray is not installed here: pip install -r requirements-ray.txt, or unset it."
        )
    return name


_instances: dict[str, Executor] = {}


def get_executor(name: str | None = None) -> Executor:
    """The executor called `name` ("local" or "ray"; None: `$DIGIT_LAB_EXECUTOR`, else "local").

    One instance per name per process, so a Ray connection is made once. Raises `ExecutorUnavailable` with
    one line of advice for an unknown name, when Ray is not installed, or for Ray on a hosted server that does not
    allow it (`DIGIT_LAB_ALLOW_RAY`).
    """
    name = (name or os.environ.get(EXECUTOR_ENV) or "local").strip().lower()
    check_executor_allowed(name)
    if name not in _instances:
        if name == "local":
            _instances[name] = LocalExecutor()
        else:
            if not ray_available():
                raise ExecutorUnavailable(
                    "The ray executor needs Ray, which is not installed here: pip install -r requirements-ray.txt "
                    "(or use the local executor)."
                )
            _instances[name] = RayExecutor()
    return _instances[name]


def resolve(executor: Executor | str | None) -> Executor:
    """An executor from an instance or a name; None is the local executor (ignoring $DIGIT_LAB_EXECUTOR, so
    library calls behave the same whatever the environment says)."""
    if executor is None:
        return get_executor("local")
    if isinstance(executor, str):
        return get_executor(executor)
    return executor


__all__ = [
    "DatasetMismatch",
    "EXECUTORS",
    "EnvironmentMismatch",
    "EventCallback",
    "Executor",
    "ExecutorUnavailable",
    "RunTask",
    "TaskCrashed",
    "TaskEvent",
    "TaskOutcome",
    "TasksFailed",
    "ALLOW_RAY_ENV",
    "EXECUTOR_ENV",
    "available_executors",
    "batch_relay",
    "check_executor_allowed",
    "configured_executor",
    "get_executor",
    "raise_for_failures",
    "ray_allowed",
    "ray_available",
    "resolve",
]

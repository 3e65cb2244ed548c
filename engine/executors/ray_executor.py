"""`RayExecutor`: train tasks as Ray remote tasks, on a local Ray instance or an existing cluster.

Which cluster follows Ray's own convention: with `RAY_ADDRESS` set (`ray://head:10001`, `auto`, `host:6379`)
`ray.init()` connects to it; otherwise a local instance with `num_cpus` CPUs starts in this process. Ray does the
scheduling, retries and transport; this module only submits, listens and stores:

- tasks whose run is already stored are answered from the store and never submitted;
- each worker loads the dataset itself and checks its fingerprint (`execute_task`), trains into a temp folder
  and returns the files, which the driver stores atomically with `RunStore.put` as each task completes
  (`ray.wait`), so finished runs are kept whatever happens to the others. With `DIGIT_LAB_SHARED_STORE=1`
  workers write into the shared `DIGIT_LAB_CACHE` themselves;
- a worker that dies is retried by Ray (`max_retries`), an unexpected exception too (`retry_exceptions` limited
  to `TaskCrashed`); deterministic errors (divergence, dataset mismatch) are reported at once;
- progress (running, per-epoch) travels through a `ray.util.queue.Queue` while `on_event` listens;
- in hosted mode every task in flight holds one of this server's training slots (`engine.training_queue`), so Ray
  jobs count against the same cap as Train; tasks beyond it wait ("queued" with their position).

Only the job driver (`engine.jobs`) runs this in a server's stead: the Streamlit process never calls `ray.init`.

Ray is optional (`requirements-ray.txt`) and imported only when this executor is used.
"""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path
from types import ModuleType
from typing import Any

from engine import settings
from engine.errors import TrainingCancelled
from engine.executors.tasks import (
    EventCallback,
    ExecutorUnavailable,
    RunTask,
    TaskCrashed,
    TaskEvent,
    TaskOutcome,
    execute_task,
    shared_store_enabled,
    store_payload,
)
from engine.limits import hosted_mode
from engine.memory_estimate import MemoryEstimate, estimate_training
from engine.store import RunStore
from engine.training_queue import training_queue

POLL_SECONDS = 0.2  # how often the driver drains progress messages while tasks run
# Environment a worker needs from the driver (with the cache folder, `worker_env`).
_FORWARDED_ENV = (
    "DIGIT_LAB_MNIST_DIR",
    "DIGIT_LAB_FASHION_MNIST_DIR",
    "DIGIT_LAB_HOSTED",
    "TF_CPP_MIN_LOG_LEVEL",
    "DIGIT_LAB_MAX_EPOCHS",
    "DIGIT_LAB_MAX_TRAIN_EXAMPLES",
    "DIGIT_LAB_MAX_PARAMETERS",
)


def worker_env() -> dict[str, str]:
    """What every worker gets of this driver's environment, on a local instance and on a cluster alike: the cache
    (datasets are read and downloaded there: the same path on every node, or one each node can create), where the
    MNIST files are, the hosted caps (a worker validates a task again) and TensorFlow's log level. Not the
    classroom's database URL: a worker only trains and returns the run's files, and the server scores."""
    env = {settings.CACHE_ENV: str(settings.cache_dir().resolve())}
    env.update({k: os.environ[k] for k in _FORWARDED_ENV if k in os.environ})
    return env


def import_ray() -> ModuleType:
    try:
        import ray
    except ImportError as error:
        raise ExecutorUnavailable(
            "The ray executor needs Ray, which is not installed: pip install -r requirements-ray.txt "
            "(or use --executor local)."
        ) from error
    return ray


class RayExecutor:
    name = "ray"

    def __init__(
        self,
        num_cpus: int | None = None,
        cpus_per_task: float = 1,
        max_retries: int = 2,
        shared_store: bool | None = None,
        env_vars: dict[str, str] | None = None,
        take_slots: bool | None = None,
    ):
        self.num_cpus = num_cpus  # for a local instance only; None = all of this machine's
        self.cpus_per_task = cpus_per_task  # Ray CPUs reserved per training: how many trainings share a node
        self.max_retries = max_retries  # extra attempts after a worker death or a TaskCrashed
        self.shared_store = shared_store_enabled() if shared_store is None else shared_store
        self.env_vars = dict(env_vars or {})  # extra environment for the workers (per task)
        # Take one of this server's training slots per task in flight; None: in hosted mode only, where the cap
        # must hold for every way of starting work. Off otherwise: a cluster's scheduler owns its concurrency.
        self.take_slots = take_slots
        self._remote = None

    # ------------------------------------------------------------------ connection

    def connect(self) -> ModuleType:
        """Connect to RAY_ADDRESS's cluster, or start a local instance; reuse a connection already made."""
        ray = import_ray()
        if ray.is_initialized():
            return ray
        engine_dir = Path(__file__).resolve().parent.parent
        env = worker_env()
        if os.environ.get("RAY_ADDRESS"):
            # A cluster's workers may not have this repository: ship the engine package with the job. Its
            # dependencies (requirements.txt) must be installed there.
            ray.init(
                runtime_env={"py_modules": [str(engine_dir)], "env_vars": env},
                log_to_driver=False,
                logging_level=logging.WARNING,
            )
        else:
            path = os.pathsep.join(p for p in (str(engine_dir.parent), os.environ.get("PYTHONPATH", "")) if p)
            env["PYTHONPATH"] = path
            ray.init(
                num_cpus=self.num_cpus,
                include_dashboard=False,
                log_to_driver=False,
                logging_level=logging.WARNING,
                runtime_env={"env_vars": env},
            )
        return ray

    def _remote_function(self, ray: ModuleType) -> Any:
        if self._remote is None:
            self._remote = ray.remote(
                num_cpus=self.cpus_per_task, max_retries=self.max_retries, retry_exceptions=[TaskCrashed]
            )(_ray_task)
        return self._remote

    # ------------------------------------------------------------------ running

    def run(
        self, tasks: list[RunTask], on_event: EventCallback | None = None, store: RunStore | None = None
    ) -> list[TaskOutcome]:
        """Run every task; return one outcome per task, in order. Failures are outcomes (`error` set), not
        exceptions: the caller decides (crossval and preset studies raise `TasksFailed` after storing the rest).
        `on_event` returning False cancels the tasks still running and raises `TrainingCancelled`."""
        store = store or RunStore()
        total = len(tasks)
        outcomes: dict[int, TaskOutcome] = {}
        attempts: dict[int, int] = {}

        def emit(index: int, status: str, **extra: Any) -> bool | None:
            if on_event is None:
                return None
            return on_event(TaskEvent(index, total, status, tasks[index], done=len(outcomes), **extra))

        to_submit = []
        for index, task in enumerate(tasks):
            run = store.get(task.run_id) if task.run_id else None
            if run is not None:
                outcomes[index] = TaskOutcome(task, run, cached=True)
                emit(index, "cached")
            else:
                to_submit.append(index)
        if not to_submit:
            return [outcomes[i] for i in range(total)]

        ray = self.connect()
        remote = self._remote_function(ray)
        queue = _progress_queue(ray) if on_event is not None else None
        options = {}
        env = dict(self.env_vars)
        if self.shared_store:
            env[settings.CACHE_ENV] = str(settings.cache_dir())
        if env:
            options["runtime_env"] = {"env_vars": env}
        pending: dict = {}
        slots: dict[int, contextlib.ExitStack] = {}  # training slots held for tasks in flight (hosted mode)

        def release(index: int) -> None:
            stack = slots.pop(index, None)
            if stack is not None:
                stack.close()

        def pump(timeout: float | None) -> None:
            """Relay progress and store finished tasks; raise TrainingCancelled when `on_event` says stop."""
            if not pending:
                return
            ready, _ = ray.wait(list(pending), num_returns=1, timeout=timeout)
            # Drain progress before completions, so a task's "running"/"training" precede its "done".
            stop = False
            for index, message in _drain(queue):
                if index in outcomes:
                    continue
                if message["status"] == "running":
                    attempts[index] = attempts.get(index, 0) + 1
                    answer = emit(index, "running", attempt=attempts[index])
                else:
                    answer = emit(index, "training", event=message["event"], attempt=attempts.get(index, 1))
                stop = stop or answer is False
            if stop:
                raise _Cancel
            for ref in ready:
                index = pending.pop(ref)
                release(index)
                task = tasks[index]
                try:
                    payload = ray.get(ref)
                    run = store_payload(store, payload)
                except Exception as error:  # noqa: BLE001 - reported per task, the rest continue
                    cause = _unwrap(error)
                    outcomes[index] = TaskOutcome(task, error=cause, attempts=max(1, attempts.get(index, 1)))
                    emit(index, "failed", error=str(cause) or type(cause).__name__, attempt=attempts.get(index, 1))
                    continue
                outcomes[index] = TaskOutcome(
                    task,
                    run,
                    cached=bool(payload.get("cached")),
                    seconds=float(payload.get("seconds", 0.0)),
                    attempts=max(1, attempts.get(index, 1)),
                    worker=payload.get("worker", ""),
                )
                emit(index, "cached" if payload.get("cached") else "done", attempt=attempts.get(index, 1))

        take_slots = hosted_mode() if self.take_slots is None else self.take_slots
        cancelled = False
        try:
            for index in to_submit:
                if take_slots:
                    # A hosted server's cap counts Ray tasks too: one slot per task in flight, taken before it is
                    # submitted. While waiting, finished tasks are stored and free their slots.
                    def waiting(position: int, index: int = index) -> None:
                        if emit(index, "queued", position=position) is False:
                            raise _Cancel
                        pump(0)

                    stack = contextlib.ExitStack()
                    stack.enter_context(training_queue().slot(on_wait=waiting, need=_memory_need(tasks[index])))
                    slots[index] = stack
                ref = (remote.options(**options) if options else remote).remote(
                    tasks[index].portable(), self.shared_store, queue, index
                )
                pending[ref] = index
                emit(index, "queued")
            while pending:
                pump(POLL_SECONDS if queue else None)
        except _Cancel:
            cancelled = True
        finally:
            if pending:  # cancelled, interrupted, or the driver failed: do not leave trainings running
                for ref in pending:
                    ray.cancel(ref)
            for index in list(slots):
                release(index)
            if queue is not None:
                with contextlib.suppress(Exception):  # best effort: the queue actor may already be gone
                    ray.kill(queue.actor)
        if cancelled:
            done = sum(1 for o in outcomes.values() if o.ok)
            raise TrainingCancelled(
                f"Cancelled: {done} of {total} runs were stored; the {total - len(outcomes)} still "
                f"queued or running were stopped and nothing of theirs was stored."
            )
        return [outcomes[i] for i in range(total)]

    def shutdown(self) -> None:
        ray = import_ray()
        if ray.is_initialized():
            ray.shutdown()


class _Cancel(Exception):
    """`on_event` returned False: stop submitting, cancel what runs."""


def _ray_task(task: RunTask, shared_store: bool, queue: Any, index: int) -> dict:
    """The Ray remote function: `execute_task` with progress sent to the driver's queue."""
    report = None
    if queue is not None:

        def report(message: dict) -> None:
            # Fire and forget: `queue.put_nowait` would block in `ray.get`, and a task blocked in `ray.get` lends
            # its CPU back to Ray, which then starts one more training than there are CPUs.
            # Progress is best effort: a gone queue must not fail training.
            with contextlib.suppress(Exception):
                queue.actor.put_nowait.remote((index, message))

    return execute_task(task, shared_store, report)


def _progress_queue(ray: ModuleType) -> Any:
    from ray.util.queue import Queue

    # num_cpus=0: the queue actor must not take a CPU a training could use.
    return Queue(maxsize=10_000, actor_options={"num_cpus": 0})


def _drain(queue: Any) -> list:
    if queue is None:
        return []
    try:
        return queue.get_nowait_batch(queue.qsize())
    except Exception:  # noqa: BLE001 - Empty, or the actor is gone
        return []


def _unwrap(error: BaseException) -> BaseException:
    """The worker's own exception from Ray's wrapper (RayTaskError.cause), when there is one."""
    cause = getattr(error, "cause", None)
    return cause if isinstance(cause, BaseException) else error


def _memory_need(task: RunTask) -> MemoryEstimate | None:
    """The task's memory estimate for the server's admission rule; None (charged as the largest hosted training)
    when the driver does not hold the dataset's sizes."""
    if task.data is None:
        return None

    spec, config = task.request()
    return estimate_training(spec, config, len(task.data.x_train), len(task.data.x_test))

"""`LocalExecutor`: the default; runs tasks one after another in this process with `engine.runs.get_or_train`.

Sequential on purpose: measured with `bench/kfold_executors.py` on the 2-core machine this was built on
(digits, 5 folds), a pool of two processes took 1.5x the sequential wall time (27.2 s vs 17.9 s at 5 epochs,
38.4 s vs 25.4 s at 15): TensorFlow already spreads one training over both cores, and every extra process pays
TensorFlow's import and memory again. The training queue (`engine.training_queue`) still caps concurrent trainings
across the dashboard's sessions and CLI runs.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from engine.executors.tasks import DatasetMismatch, EventCallback, RunTask, TaskEvent, TaskOutcome, load_task_dataset
from engine.progress import ProgressEvent
from engine.runs import get_or_train
from engine.store import RunStore


class LocalExecutor:
    name = "local"

    def run(
        self, tasks: list[RunTask], on_event: EventCallback | None = None, store: RunStore | None = None
    ) -> list[TaskOutcome]:
        """Get or train each task in order. Errors propagate at once (a cancelled or diverged run stops the
        batch, as a single `get_or_train` call would); finished tasks are already stored."""
        store = store or RunStore()
        outcomes: list[TaskOutcome] = []
        total = len(tasks)
        for index, task in enumerate(tasks):
            started = time.perf_counter()
            emit = _emitter(on_event, index, total, task, len(outcomes))
            emit("running")
            dataset = task.data
            if dataset is None:
                dataset = load_task_dataset(task)
            if dataset.fingerprint != task.fingerprint:
                raise DatasetMismatch(
                    f"{task.label or task.dataset}: dataset {task.dataset!r} here has fingerprint "
                    f"{dataset.fingerprint[:12]}…, the task expects {task.fingerprint[:12]}…."
                )
            spec, config = task.request()
            relay = None
            if on_event is not None:

                def relay(event: ProgressEvent, emit: Callable[..., bool | None] = emit) -> bool | None:
                    return emit("training", event=event)

            result = get_or_train(dataset, spec, config, progress=relay, store=store, preset=task.preset)
            outcomes.append(TaskOutcome(task, result.run, result.cached, time.perf_counter() - started))
            emit("cached" if result.cached else "done", done=len(outcomes))
        return outcomes


def _emitter(
    on_event: EventCallback | None, index: int, total: int, task: RunTask, done: int
) -> Callable[..., bool | None]:
    def emit(
        status: str, event: ProgressEvent | None = None, done: int = done, error: str = "", attempt: int = 1
    ) -> bool | None:
        if on_event is None:
            return None
        return on_event(TaskEvent(index, total, status, task, done=done, event=event, error=error, attempt=attempt))

    return emit

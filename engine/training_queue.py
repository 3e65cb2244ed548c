"""A cap on concurrent trainings, across the threads of one server and across processes.

A training takes one of N slot files (an exclusive `filelock.FileLock`, which the operating system drops if the
process dies), so a CLI run and the dashboard share the cap.
Inside one process, waiters are served in arrival order and can report their place in the queue, which the
dashboard shows ("waiting: 2nd in line").
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

from engine import settings
from engine.errors import StoreError
from engine.limits import server_limits

POLL_SECONDS = 0.25  # how often a waiter re-checks slots held by other processes


class TrainingQueue:
    def __init__(self, folder: Path, capacity: int):
        self.folder = folder
        self.capacity = max(1, capacity)
        self._condition = threading.Condition()
        self._waiting: list[int] = []
        self._tickets = itertools.count()

    def _try_take(self) -> FileLock | None:
        self.folder.mkdir(parents=True, exist_ok=True)
        for index in range(self.capacity):
            # A new lock object per attempt, not thread-local, so two threads of this process exclude each other.
            slot = FileLock(self.folder / f"slot-{index}.lock", thread_local=False)
            try:
                slot.acquire(blocking=False)
            except Timeout:
                continue
            return slot
        return None

    @contextmanager
    def slot(self, on_wait: Callable[[int], object] | None = None, timeout: float = 3600) -> Iterator[None]:
        """Hold one training slot for the duration; `on_wait(position)` is called while queued (1 = next)."""
        ticket = next(self._tickets)
        deadline = time.monotonic() + timeout
        slot = None
        with self._condition:
            self._waiting.append(ticket)
        try:
            while True:
                with self._condition:
                    position = self._waiting.index(ticket) + 1
                    if position == 1:
                        slot = self._try_take()
                        if slot is not None:
                            self._waiting.remove(ticket)
                            self._condition.notify_all()
                            break
                if on_wait is not None:
                    on_wait(position)
                if time.monotonic() > deadline:
                    raise StoreError(
                        f"No training slot became free within {timeout:.0f} s "
                        f"({self.capacity} trainings run at once on this server). Try again later."
                    )
                with self._condition:
                    self._condition.wait(POLL_SECONDS)
        finally:
            with self._condition:
                if ticket in self._waiting:
                    self._waiting.remove(ticket)
                    self._condition.notify_all()
        try:
            yield
        finally:
            slot.release(force=True)
            with self._condition:
                self._condition.notify_all()


_queues: dict[tuple[str, int], TrainingQueue] = {}
_queues_lock = threading.Lock()


def training_queue() -> TrainingQueue:
    """The process's queue for the cache in use and the cap in force (one per combination)."""
    key = (str(settings.cache_dir() / ".slots"), server_limits().max_concurrent_trainings)
    with _queues_lock:
        if key not in _queues:
            _queues[key] = TrainingQueue(Path(key[0]), key[1])
        return _queues[key]

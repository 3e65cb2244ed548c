"""A cap on concurrent trainings, across the threads of one server and across processes.

A training takes one of N slot files (an exclusive `flock`), so a CLI run and the dashboard share the cap.
Inside one process, waiters are served in arrival order and can report their place in the queue, which the
dashboard shows ("waiting: 2nd in line").
"""

from __future__ import annotations

import fcntl
import itertools
import os
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

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

    def _try_take(self) -> int | None:
        self.folder.mkdir(parents=True, exist_ok=True)
        for index in range(self.capacity):
            descriptor = os.open(self.folder / f"slot-{index}.lock", os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return descriptor
            except BlockingIOError:
                os.close(descriptor)
        return None

    @contextmanager
    def slot(self, on_wait: Callable[[int], object] | None = None, timeout: float = 3600) -> Iterator[None]:
        """Hold one training slot for the duration; `on_wait(position)` is called while queued (1 = next)."""
        ticket = next(self._tickets)
        deadline = time.monotonic() + timeout
        descriptor = None
        with self._condition:
            self._waiting.append(ticket)
        try:
            while True:
                with self._condition:
                    position = self._waiting.index(ticket) + 1
                    if position == 1:
                        descriptor = self._try_take()
                        if descriptor is not None:
                            self._waiting.remove(ticket)
                            self._condition.notify_all()
                            break
                if on_wait is not None:
                    on_wait(position)
                if time.monotonic() > deadline:
                    raise StoreError(f"No training slot became free within {timeout:.0f} s "
                                     f"({self.capacity} trainings run at once on this server). Try again later.")
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
            fcntl.flock(descriptor, fcntl.LOCK_UN)
            os.close(descriptor)
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

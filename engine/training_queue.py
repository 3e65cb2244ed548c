"""Admission of trainings by memory (and an optional count cap), across the threads and processes of one machine.

A training is admitted only while the memory estimates (`engine.memory_estimate`) of the trainings running on
this machine plus its own fit the budget (`engine.limits.server_limits().memory_budget_mb`); an operator may add
a count cap (`DIGIT_LAB_MAX_TRAININGS`). The rest wait. A training whose estimate alone exceeds the budget is
refused at once (`TrainingTooLarge`), naming both numbers.

What runs is written in a small JSON ledger under the cache (`<cache>/.queue/ledger.json`), changed only under
a file lock, so a CLI run, a Ray driver and the dashboard share one budget. Each entry names its process (pid,
its start time, the host): entries of processes that no longer run are ignored and dropped, so a holder that
was killed frees its share without cleanup. A process that trained keeps TensorFlow loaded, so its runtime
share stays charged (one "runtime" entry per process) until that process ends.

When the cache cannot be written (read-only, or `DIGIT_LAB_CACHE` naming a file) the ledger lives in the
temporary folder instead, and if that fails too, in this process only; a warning (`digitlab.queue`) says which. A
ledger whose disk fills up (or turns read-only) while in use moves into this process's memory the same way, with
its own notice, rather than fail the training it was counting (`engine.store.disk`).
Inside one process waiters are served in arrival order and report their place in the queue, which the dashboard
shows ("waiting: 2nd in line").
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import os
import socket
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock

from engine import settings
from engine.errors import StoreError, TrainingTooLarge
from engine.limits import server_limits
from engine.memory_estimate import MemoryEstimate
from engine.processes import process_exists, process_start
from engine.store.disk import refused_write, write_json_atomically
from engine.textfiles import load_json_file

POLL_SECONDS = 0.25  # how often a waiter re-checks the ledger, which other processes change too
LEDGER_FILE = "ledger.json"
# A caller that cannot size its training (none in the engine today) is charged as a full-size hosted training:
# digitlab-fast28 on 20,000 Fashion-MNIST images (1,213 MB measured by bench/memory_model.py).
UNKNOWN_NEED = MemoryEstimate(runtime_mb=816.0, training_mb=646.0)  # engine.memory_estimate's figures for it

log = logging.getLogger("digitlab.queue")


@dataclass(frozen=True)
class Usage:
    """What the live entries of the ledger hold: the memory charged and the trainings running."""

    memory_mb: float
    trainings: int


def _alive(pid: int, started: str) -> bool:
    """The ledger entry's process still runs, and is the one that wrote it (not a later process given its pid)."""
    return process_exists(pid) and (not started or process_start(pid) in ("", started))


_HOST = socket.gethostname()


class Ledger:
    """The trainings running on this machine: a JSON list under a file lock, or a list in memory (`folder=None`).

    Each entry: {id, kind: "runtime" | "training", mb, host, pid, started (the pid's start in clock ticks)}.
    """

    def __init__(self, folder: Path | None):
        self.folder = folder
        self.notice = ""  # why the ledger moved into memory while in use, if it did
        self._memory: list[dict] = []
        self._thread_lock = threading.Lock()

    @contextmanager
    def _locked(self) -> Iterator[None]:
        with self._thread_lock:
            lock = None
            if self.folder is not None:
                # A new lock object per use, not thread-local: two threads of this process exclude each other too.
                lock = FileLock(self.folder / "ledger.lock", thread_local=False)
                try:
                    lock.acquire()
                except OSError as problem:  # the lock file cannot be created: a disk that filled up meanwhile
                    if not refused_write(problem):
                        raise
                    self._to_memory(problem, [])
                    lock = None
            try:
                yield
            finally:
                if lock is not None:
                    lock.release()

    def _to_memory(self, problem: OSError, entries: list[dict]) -> None:
        """The ledger's folder refused a write (full, read-only): keep counting in this process, and say so. A
        training must not fail, nor lose its result, because its bookkeeping could not be written."""
        self.notice = (
            f"The training queue's ledger in {self.folder} cannot be written ({problem.strerror or problem}); it now "
            "counts this process's trainings only, so trainings other processes start from now on are not seen. "
            "Free some space there to share the budget again (after a restart)."
        )
        log.warning(self.notice)
        self.folder, self._memory = None, entries

    def _read(self) -> list[dict]:
        if self.folder is None:
            return list(self._memory)
        try:
            entries = load_json_file(self.folder / LEDGER_FILE)
        except FileNotFoundError:
            return []
        except (OSError, ValueError) as problem:
            log.warning("Training ledger %s unreadable (%s); starting it afresh", self.folder / LEDGER_FILE, problem)
            return []
        return [entry for entry in entries if _well_formed(entry)] if isinstance(entries, list) else []

    def _write(self, entries: list[dict]) -> None:
        if self.folder is None:
            self._memory = entries
            return
        try:
            write_json_atomically(self.folder / LEDGER_FILE, entries)
        except OSError as problem:
            if not refused_write(problem):
                raise
            self._to_memory(problem, entries)

    def _live(self) -> list[dict]:
        """Entries of processes still running on this host; entries of other hosts are their memory, not ours."""
        return [e for e in self._read() if e["host"] == _HOST and _alive(e["pid"], e["started"])]

    def usage(self) -> Usage:
        with self._locked():
            live = self._live()
        return Usage(sum(e["mb"] for e in live), sum(e["kind"] == "training" for e in live))

    def charge(self, need: MemoryEstimate, pid: int | None = None) -> float:
        """The MB this training adds now: its own share, plus the runtime if its process has none charged yet."""
        with self._locked():
            return _charge(self._live(), need, os.getpid() if pid is None else pid)

    def try_admit(self, ticket: str, need: MemoryEstimate, memory_budget_mb: float, max_trainings: int) -> bool:
        """Record the training and return True if it fits the budget and the count cap now; else change nothing."""
        pid = os.getpid()
        with self._locked():
            live = self._live()
            used = sum(e["mb"] for e in live)
            running = sum(e["kind"] == "training" for e in live)
            adds = _charge(live, need, pid)
            if memory_budget_mb and used + adds > memory_budget_mb:
                return False
            if max_trainings and running >= max_trainings:
                return False
            mine = {"host": _HOST, "pid": pid, "started": process_start(pid)}
            if adds > need.training_mb:
                live.append({**mine, "id": f"runtime-{pid}", "kind": "runtime", "mb": need.runtime_mb})
            live.append({**mine, "id": ticket, "kind": "training", "mb": need.training_mb})
            self._write(live)  # dead entries are dropped on the way
            return True

    def release(self, ticket: str) -> None:
        with self._locked():
            self._write([e for e in self._live() if e["id"] != ticket])


def _charge(live: list[dict], need: MemoryEstimate, pid: int) -> float:
    has_runtime = any(e["kind"] == "runtime" and e["pid"] == pid for e in live)
    return need.training_mb + (0.0 if has_runtime else need.runtime_mb)


def _well_formed(entry: object) -> bool:
    """The ledger is ours, but a hand edit or a half-written file must not crash admission: odd entries are skipped."""
    return (
        isinstance(entry, dict)
        and isinstance(entry.get("id"), str)
        and isinstance(entry.get("host"), str)
        and isinstance(entry.get("pid"), int)
        and isinstance(entry.get("started"), str)
        and entry.get("kind") in ("runtime", "training")
        and isinstance(entry.get("mb"), int | float)
    )


@dataclass(frozen=True)
class Admission:
    """Where a training stands against the budget now (the Train page and `digit-lab memory` show it)."""

    need: MemoryEstimate
    adds_mb: float  # what admitting it would add now: its share, plus the runtime if its process has none charged
    budget_mb: float  # 0 = no memory rule
    in_use_mb: float  # charged by the live entries of the ledger
    running: int  # trainings running on this machine
    max_trainings: int  # 0 = no count cap

    @property
    def fits_alone(self) -> bool:
        return not self.budget_mb or self.adds_mb <= self.budget_mb

    @property
    def fits_now(self) -> bool:
        return (not self.budget_mb or self.in_use_mb + self.adds_mb <= self.budget_mb) and (
            not self.max_trainings or self.running < self.max_trainings
        )


class TrainingQueue:
    """Admission for one ledger: `slot()` waits in arrival order until the training fits, then holds its share."""

    def __init__(self, folder: Path | None, capacity: int = 0, memory_budget_mb: float = 0, notice: str = ""):
        self.ledger = Ledger(folder)
        self.capacity = max(0, capacity)  # 0 = no count cap
        self.memory_budget_mb = max(0.0, float(memory_budget_mb))  # 0 = no memory rule
        self._notice = notice  # why the ledger is not under the cache, if it is not
        self._condition = threading.Condition()
        self._waiting: list[int] = []
        self._tickets = itertools.count()

    @property
    def folder(self) -> Path | None:
        return self.ledger.folder

    @property
    def notice(self) -> str:
        """Why the ledger is not shared under the cache: chosen so at the start, or moved into memory since."""
        return self.ledger.notice or self._notice

    def admission(self, need: MemoryEstimate) -> Admission:
        """Where `need` stands now, without queueing it."""
        usage = self.ledger.usage()
        return Admission(
            need, self.ledger.charge(need), self.memory_budget_mb, usage.memory_mb, usage.trainings, self.capacity
        )

    def check_fits_alone(self, need: MemoryEstimate) -> None:
        """Raise `TrainingTooLarge` if `need` could never fit, however long it waited."""
        if not self.memory_budget_mb:
            return
        alone = self.ledger.charge(need)
        if alone > self.memory_budget_mb:
            runtime = f"TensorFlow's runtime {need.runtime_mb:,.0f} MB + " if alone > need.training_mb else ""
            raise TrainingTooLarge(
                f"This training needs an estimated {alone:,.0f} MB of memory ({runtime}this training "
                f"{need.training_mb:,.0f} MB), above this server's budget of {self.memory_budget_mb:,.0f} MB for "
                "trainings (DIGIT_LAB_MEMORY_MB). Train on fewer images (a training subset), with a smaller batch, "
                "or with fewer filters and units."
            )

    @contextmanager
    def slot(
        self,
        on_wait: Callable[[int], object] | None = None,
        timeout: float = 3600,
        need: MemoryEstimate | None = None,
    ) -> Iterator[None]:
        """Hold this training's share for the duration; `on_wait(position)` is called while queued (1 = next).

        `need` is the training's estimate (`engine.memory_estimate.estimate_training`); without one it is charged
        `UNKNOWN_NEED`. Raises `TrainingTooLarge` at once if it alone exceeds the budget.
        """
        need = need or UNKNOWN_NEED
        self.check_fits_alone(need)
        ticket = next(self._tickets)
        entry = f"{os.getpid()}-{uuid.uuid4().hex[:12]}"
        deadline = time.monotonic() + timeout
        with self._condition:
            self._waiting.append(ticket)
        try:
            while True:
                with self._condition:
                    position = self._waiting.index(ticket) + 1
                    if position == 1 and self.ledger.try_admit(entry, need, self.memory_budget_mb, self.capacity):
                        self._waiting.remove(ticket)
                        self._condition.notify_all()
                        break
                if on_wait is not None:
                    on_wait(position)
                if time.monotonic() > deadline:
                    usage = self.ledger.usage()
                    raise StoreError(
                        f"No room for this training within {timeout:.0f} s: {usage.trainings} trainings hold an "
                        f"estimated {usage.memory_mb:,.0f} MB of this server's {self.memory_budget_mb:,.0f} MB "
                        "budget. Try again later."
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
            self.ledger.release(entry)
            with self._condition:
                self._condition.notify_all()


_queues: dict[tuple[str, int, float], TrainingQueue] = {}
_queues_lock = threading.Lock()


def _ledger_folder() -> tuple[Path | None, str]:
    """`<cache>/.queue`, else a folder in the temporary folder, else None (this process only); and why not."""
    cache = settings.cache_dir()
    primary = cache / ".queue"
    problem = _writable(primary)
    if not problem:
        return primary, ""
    digest = hashlib.sha256(str(cache.absolute()).encode()).hexdigest()[:12]
    fallback = Path(tempfile.gettempdir()) / f"digitlab-queue-{os.getuid() if hasattr(os, 'getuid') else 0}-{digest}"
    second = _writable(fallback)
    if not second:
        return fallback, (
            f"The cache folder {cache} cannot be written ({problem}); the training queue keeps its ledger in "
            f"{fallback} instead, shared by the processes using this cache."
        )
    return None, (
        f"Neither the cache folder {cache} ({problem}) nor {fallback} ({second}) can be written; the training "
        "queue counts only this process's trainings."
    )


def _writable(folder: Path) -> str:
    """'' if the ledger can live in `folder` (created if missing), else the reason."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".probe-{os.getpid()}-{threading.get_ident()}"
        probe.write_bytes(b"[]")  # an empty file needs no data block: a full disk would pass an empty probe
        probe.unlink()
    except OSError as error:
        return error.strerror or str(error)
    return ""


def training_queue() -> TrainingQueue:
    """The process's queue for the cache in use and the limits in force (one per combination)."""
    folder, notice = _ledger_folder()
    limits = server_limits()
    key = (str(folder), limits.max_concurrent_trainings, float(limits.memory_budget_mb))
    with _queues_lock:
        if key not in _queues:
            if notice:
                log.warning(notice)
            _queues[key] = TrainingQueue(folder, limits.max_concurrent_trainings, limits.memory_budget_mb, notice)
        return _queues[key]

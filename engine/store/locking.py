"""The per-run exclusive file lock that makes sure one run is trained by one process at a time.

`fcntl.flock` locks belong to an open file description, so the kernel releases them when the holder
exits or is killed: a crashed trainer can never leave a run locked forever. Lock files are never
deleted, because removing one while another process waits on it would let two processes "hold" it.
"""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path

from engine.errors import StoreError


class RunLock:
    """An exclusive lock on `path`; use `acquire` / `try_acquire` then `release`, or `with`."""

    def __init__(self, path: Path, run_id: str) -> None:
        self.path = path
        self.run_id = run_id
        self._fd: int | None = None

    def _open(self) -> int:
        return os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)

    def try_acquire(self) -> bool:
        """Take the lock if it is free right now; never waits."""
        fd = self._open()
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        self._stamp()
        return True

    def acquire(self, timeout: float) -> None:
        """Wait up to `timeout` seconds for the lock, polling; raise `StoreError` naming the holder if it stays busy."""
        started = time.monotonic()
        delay = 0.05
        while True:
            if self.try_acquire():
                return
            waited = time.monotonic() - started
            if waited >= timeout:
                raise StoreError(self._busy_message(waited))
            time.sleep(min(delay, max(timeout - waited, 0.0)))
            delay = min(delay * 2, 0.5)

    def release(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            # Closing the descriptor drops the flock; no explicit LOCK_UN needed.
            os.close(fd)

    def __enter__(self) -> RunLock:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()

    def _stamp(self) -> None:
        """Record who holds the lock and since when, so a waiter's timeout message can say so."""
        assert self._fd is not None
        try:
            os.ftruncate(self._fd, 0)
            os.pwrite(self._fd, f"{os.getpid()} {time.time():.3f}\n".encode(), 0)
        except OSError:
            pass  # the note is only for messages; the lock itself is what matters

    def _busy_message(self, waited: float) -> str:
        holder, held_for = "another process", waited
        try:
            pid_text, since_text = self.path.read_text().split()
            holder = f"another process (pid {int(pid_text)})"
            held_for = max(waited, time.time() - float(since_text))
        except (OSError, ValueError):
            pass  # no readable note: say what we know
        return (
            f"{holder} has been training run {self.run_id} for {held_for:.0f} s and still holds its lock "
            f"({self.path}). Wait for it to finish and try again (the result will then be reused), or stop "
            f"that process if it is stuck: the lock is released as soon as it exits."
        )

"""The per-run exclusive file lock that makes sure one run is trained by one process at a time.

`filelock.FileLock` is an operating-system lock on an open file (`flock` on Unix, `msvcrt.locking` on Windows),
so the system releases it when the holder exits or is killed: a crashed trainer can never leave a run locked
forever. Lock files are never deleted, because removing one while another process waits on it would let two
processes "hold" it.

Who holds a lock is written to a note beside it (`<run_id>.holder`: pid and time taken) only while holding it,
and the note is removed before the lock is released. A note can still outlive a holder that was killed, so a
waiter names the note's pid only while that process is alive; otherwise it says "another process".
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

from filelock import FileLock, Timeout

from engine.errors import StoreError
from engine.processes import process_exists
from engine.textfiles import read_regular_file

POLL_SECONDS = 0.05  # how often a waiter retries a lock held by someone else


class RunLock:
    """An exclusive lock on `path`; use `acquire` / `try_acquire` then `release`, or `with`."""

    def __init__(self, path: Path, run_id: str) -> None:
        self.path = path
        self.run_id = run_id
        self.note_path = path.with_suffix(".holder")
        # Not thread-local: a lock taken on one thread can be released from another (the lock belongs to this
        # object, not to a thread). Not a singleton: two RunLocks on one path exclude each other in one process too.
        self._lock = FileLock(path, thread_local=False)

    def try_acquire(self) -> bool:
        """Take the lock if it is free right now; never waits. `OSError` if the lock file cannot be opened."""
        try:
            self._lock.acquire(blocking=False)
        except Timeout:
            return False
        self._write_note()
        return True

    def acquire(self, timeout: float) -> None:
        """Wait up to `timeout` seconds for the lock; raise `StoreError` saying who holds it if it stays busy."""
        started = time.monotonic()
        try:
            if timeout > 0:
                self._lock.acquire(timeout=timeout, poll_interval=POLL_SECONDS)
            else:
                self._lock.acquire(blocking=False)
        except Timeout:
            raise StoreError(self._busy_message(time.monotonic() - started)) from None
        self._write_note()

    def release(self) -> None:
        if self._lock.is_locked:
            # The note goes first, while we still hold the lock, so it never describes a holder that has left.
            # If it cannot be removed, waiters still check that its pid is alive before naming it.
            with contextlib.suppress(OSError):
                self.note_path.unlink(missing_ok=True)
            self._lock.release(force=True)

    def __enter__(self) -> RunLock:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()

    def _write_note(self) -> None:
        # The note is only for messages; the lock itself is what matters, so a note that cannot be written is skipped.
        with contextlib.suppress(OSError):
            self.note_path.write_text(f"{os.getpid()} {time.time():.3f}\n")

    def _busy_message(self, waited: float) -> str:
        holder, held_for = "Another process", f"at least {waited:.1f} s"
        owner = lock_owner_pid(self.path)  # the kernel's answer, when it can give one
        try:
            pid_text, since_text = read_regular_file(self.note_path, max_bytes=200).decode().split()
            pid, since = int(pid_text), float(since_text)
        except (OSError, ValueError):
            pid, since = None, 0.0  # no readable note: say what we know (its time is read only beside its pid)
        if owner is not None:
            holder = f"Another process, pid {owner},"
            if pid == owner:  # the note is this holder's, so its start time is too
                held_for = f"{max(waited, time.time() - since):.0f} s"
        elif pid is not None and owner is None and not _LOCKS_TABLE.exists() and process_exists(pid):
            # No kernel lock table to ask (not Linux): the note is all there is, and it says so.
            holder = f"Another process, pid {pid} (from its note),"
            held_for = f"{max(waited, time.time() - since):.0f} s"
        return (
            f"{holder} has been training run {self.run_id} for {held_for} and still holds its lock "
            f"({self.path}). Wait for it to finish and try again (the result will then be reused), or stop "
            f"that process if it is stuck: the lock is released as soon as it exits."
        )


_LOCKS_TABLE = Path("/proc/locks")


def lock_owner_pid(path: Path) -> int | None:
    """The pid holding the flock on `path`, read from Linux's /proc/locks; None when unknown or unlocked.

    The note beside a lock can be stale (its writer was killed, or its pid reused); the kernel's lock table
    cannot, so a busy message names the real holder.
    """
    try:
        st = os.stat(path)
        table = _LOCKS_TABLE.read_text()
    except OSError:
        return None
    for line in table.splitlines():
        fields = line.split()
        # "1: FLOCK  ADVISORY  WRITE 1234 fd:01:5678 0 EOF"; waiters have "->" after the number: skip them.
        if len(fields) < 6 or fields[1] == "->":
            continue
        try:
            major, minor, inode = fields[5].split(":")
            pid, device = int(fields[4]), (int(major, 16), int(minor, 16))
        except ValueError:
            continue
        if int(inode) == st.st_ino and device == (os.major(st.st_dev), os.minor(st.st_dev)):
            return pid
    return None

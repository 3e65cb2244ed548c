"""The one guard for writes the disk refuses (full, over quota, read-only): which errors those are, and the message
that says so, for every writer of files: the run store, the training ledger, the report writer, the unstored-run
fallback. And the one atomic JSON writer (`write_json_atomically`) every small record in the cache goes through: a
job's request and status, the training ledger, a stored probe result, a dataset view's record.

A refused write is not a bug: the user can act on it (free space, point the cache or the output elsewhere), so it
is the caller's own error with that advice, never "unexpected OSError: No space left on device". The callers decide
what survives it: the store keeps nothing half-written, the ledger carries on in memory, the report is not written.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from engine.errors import DigitLabError

NO_ROOM = frozenset({errno.ENOSPC, errno.EDQUOT})  # the disk (or the user's quota) is full
READ_ONLY = frozenset({errno.EROFS})
# Not REFUSED: permissions can also be a path's own (a file owned by another user), so callers word them apart.
NO_PERMISSION = frozenset({errno.EACCES, errno.EPERM})
REFUSED = NO_ROOM | READ_ONLY


def refused_write(error: BaseException) -> bool:
    """Whether `error` is the disk refusing a write: full, over quota or read-only."""
    return isinstance(error, OSError) and error.errno in REFUSED


def write_failure(error: OSError, folder: Path | str, what: str, elsewhere: str, free_hint: str = "") -> str:
    """The message for a write into `folder` that failed: "Could not write <what> to <folder>: <reason>. <advice>".

    `elsewhere` names another place to write to ("set DIGIT_LAB_CACHE to a folder"; the advice adds "on a disk with
    room" or "that can be written"), `free_hint` what frees space here (" (deleting old runs helps)")."""
    reason = error.strerror or str(error)
    if error.errno in NO_ROOM:
        advice = (
            f"The disk holding {folder} is full. Free some space there{free_hint}, or {elsewhere} on a disk with "
            "room, then try again."
        )
    elif error.errno in READ_ONLY | NO_PERMISSION:
        advice = (
            f"{folder} cannot be written to. {elsewhere[:1].upper()}{elsewhere[1:]} that can be written (or fix the "
            "folder's permissions), then try again."
        )
    else:
        advice = f"Check that {folder} is a writable folder, or {elsewhere} that can be written, then try again."
    return f"Could not write {what} to {folder}: {reason}. {advice}"


@contextmanager
def disk_guard(
    folder: Path | str, what: str, elsewhere: str, error: type[DigitLabError], free_hint: str = ""
) -> Iterator[None]:
    """Turn a write the disk refuses inside the block into `error` with `write_failure`'s message; any other
    OSError (a bug, a vanished source file) propagates unchanged."""
    try:
        yield
    except OSError as problem:
        if not refused_write(problem):
            raise
        raise error(write_failure(problem, folder, what, elsewhere, free_hint)) from problem


def write_json_atomically(path: Path | str, data: Any, *, allow_nan: bool = True) -> None:
    """Write `data` as JSON to `path` so that a reader, in this process or another, sees the old file or the new one
    whole, never half of one: a temporary file in the same folder (created, with the folder, as needed), flushed to
    disk, then renamed over `path`. Raises `OSError` as the disk does (callers word a refused write with
    `disk_guard` or `write_failure`), `TypeError`/`ValueError` for data JSON cannot hold (NaN when `allow_nan` is
    False); nothing is left behind either way."""
    path = Path(path)
    text = json.dumps(data, allow_nan=allow_nan).encode("utf-8")  # before any file exists: a bad value leaves none
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)  # a partly written copy frees its blocks
        raise

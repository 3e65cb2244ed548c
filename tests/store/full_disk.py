"""A full disk, simulated: every write that would create or fill a file or folder under one folder fails with
ENOSPC, as on a disk with no blocks left; reads and writes elsewhere are untouched. The writers reach the disk
through `open` (builtins and io, which pathlib uses), `os.open` (tempfile.mkstemp, file locks) and `os.mkdir`."""

from __future__ import annotations

import builtins
import errno
import io
import os
from pathlib import Path

WRITE_MODES = set("wax+")
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


def _no_space(path: object) -> OSError:
    return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))


def fill_disk(monkeypatch, *folders: Path) -> None:
    """From now on (until monkeypatch undoes it) the disk holding `folders` is full."""
    roots = [os.path.realpath(folder) for folder in folders]

    def inside(path: object) -> bool:
        if isinstance(path, int):  # a file descriptor: already open, its disk was checked when it was opened
            return False
        where = os.path.realpath(os.fspath(path))  # type: ignore[arg-type]
        return any(where == root or where.startswith(root + os.sep) for root in roots)

    real_open, real_os_open, real_mkdir = builtins.open, os.open, os.mkdir

    def full_open(file, mode="r", *args, **kwargs):
        if WRITE_MODES & set(mode) and inside(file):
            raise _no_space(file)
        return real_open(file, mode, *args, **kwargs)

    def full_os_open(path, flags, *args, **kwargs):
        if flags & WRITE_FLAGS and inside(path):
            raise _no_space(path)
        return real_os_open(path, flags, *args, **kwargs)

    def full_mkdir(path, *args, **kwargs):
        if inside(path) and not os.path.isdir(path):
            raise _no_space(path)
        return real_mkdir(path, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", full_open)
    monkeypatch.setattr(io, "open", full_open)
    monkeypatch.setattr(os, "open", full_os_open)
    monkeypatch.setattr(os, "mkdir", full_mkdir)

"""The one guard for writes the disk refuses (`engine.store.disk`): a full, over-quota or read-only disk becomes the
caller's own error with advice; any other OSError is left alone. Oracle: hand-built OSErrors with known errnos."""

from __future__ import annotations

import errno
import os

import pytest

from engine.errors import DigitLabError, StoreError
from engine.store.disk import disk_guard, refused_write, write_failure


class Refused(DigitLabError):
    pass


def _error(code: int) -> OSError:
    return OSError(code, os.strerror(code))


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EDQUOT, errno.EROFS])
def test_full_over_quota_and_read_only_become_the_callers_error(code):
    guard = disk_guard("/data/out", "the report r.html", "give --output a file", Refused)
    with pytest.raises(Refused) as caught, guard:
        raise _error(code)
    message = str(caught.value)
    assert message.startswith(f"Could not write the report r.html to /data/out: {os.strerror(code)}.")
    assert ("is full" in message) == (code != errno.EROFS)
    assert ("cannot be written to" in message) == (code == errno.EROFS)
    assert isinstance(caught.value.__cause__, OSError)


@pytest.mark.parametrize("error", [_error(errno.EIO), _error(errno.ENOENT), FileNotFoundError("gone")])
def test_other_os_errors_pass_unchanged(error):
    with pytest.raises(OSError) as caught, disk_guard("/data", "x", "y", Refused):
        raise error
    assert caught.value is error and not refused_write(error)


def test_the_store_uses_the_same_words():
    from engine.store import RunStore

    problem = RunStore("/nowhere/runs")._write_error("a" * 20, _error(errno.ENOSPC))
    assert isinstance(problem, StoreError)
    assert str(problem) == write_failure(
        _error(errno.ENOSPC),
        "/nowhere/runs",
        f"run {'a' * 20}",
        "set DIGIT_LAB_CACHE to a folder",
        " (deleting old runs helps)",
    )
    assert "Free some space there (deleting old runs helps), or set DIGIT_LAB_CACHE" in str(problem)

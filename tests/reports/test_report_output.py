"""Issue 23, fault 6: `report --output` writes only to a new path or over a regular file. A FIFO, a device or a link
(`/dev/stdout` is one) is refused before the report is computed, and left as it was; a regular file is replaced."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from engine.errors import InvalidConfig
from engine.reports.writer import write_report

NOT_A_SUBJECT = object()  # the refusal comes before the subject is read: any object shows it


def test_a_fifo_is_refused_and_stays_a_fifo(tmp_path):
    fifo = tmp_path / "report.html"
    os.mkfifo(fifo)
    with pytest.raises(InvalidConfig, match=r"is a named pipe \(FIFO\), not a regular file"):
        write_report(NOT_A_SUBJECT, "html", fifo)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_a_device_is_refused_and_stays_a_device():
    assert stat.S_ISCHR(os.lstat("/dev/null").st_mode)
    with pytest.raises(InvalidConfig, match="is a character device"):
        write_report(NOT_A_SUBJECT, "html", "/dev/null")
    assert stat.S_ISCHR(os.lstat("/dev/null").st_mode)


def test_a_link_such_as_dev_stdout_is_refused_and_stays_a_link(tmp_path):
    target = tmp_path / "real.html"
    target.write_text("kept")
    link = tmp_path / "link.html"
    link.symlink_to(target)
    for path in (link, Path("/dev/stdout")):
        if not path.is_symlink():
            continue  # /dev/stdout is a link on Linux; elsewhere only the hand-made link is checked
        with pytest.raises(InvalidConfig, match="is a symbolic link"):
            write_report(NOT_A_SUBJECT, "html", path)
        assert path.is_symlink()
    assert target.read_text() == "kept"


def test_a_regular_file_or_a_new_path_is_still_written(tmp_path, monkeypatch):
    from engine.reports import writer

    monkeypatch.setattr(writer, "report_text", lambda subject, fmt, progress=None: "<html>new</html>")
    monkeypatch.setattr(writer, "holds", lambda subject, fmt: ())

    class Subject:
        kind, title, runs, best_run_id, chosen_by = "run", "t", (), None, ""

    old = tmp_path / "old.html"
    old.write_text("old")
    for path in (old, tmp_path / "new.html"):
        written = write_report(Subject(), "html", path)
        assert path.read_text() == "<html>new</html>" and written.bytes == len("<html>new</html>")

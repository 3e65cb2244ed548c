"""Writing a report to a file: which format holds what, and the write itself (whole or not at all)."""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from engine.errors import DigitLabError, InvalidConfig
from engine.reports.notebook import notebook_text
from engine.reports.subject import ReportSubject
from engine.store.disk import disk_guard

FORMATS = ("ipynb", "html")
_RUN_PARTS = ("run card", "metrics", "classification report", "confusion matrix", "training curves", "mistakes")
CONTENTS = {
    "ipynb": ("the data, split, model and training as plain Keras code (re-trained when run)", *_RUN_PARTS),
    "html": _RUN_PARTS,
}
SET_CONTENTS = {
    "ipynb": ("table of every run",),
    "html": ("comparison table", "curves of every run", "accuracy vs size"),
}


class ReportNotWritten(DigitLabError):
    """The disk refused the report's file (full, over quota, read-only); nothing was written."""


@dataclass(frozen=True)
class WrittenReport:
    """What `write_report` wrote: where, in which format, about which runs, and what the file holds."""

    path: str
    format: str
    kind: str
    title: str
    run_ids: tuple[str, ...]
    best_run_id: str
    chosen_by: str
    holds: tuple[str, ...]
    bytes: int
    # Parts the report could not hold, and why (a run's damaged history): the report says so inside, the CLI too.
    left_out: tuple[str, ...] = ()


def report_text(subject: ReportSubject, fmt: str, progress: Callable[[str], None] | None = None) -> str:
    """The report in `fmt` ("ipynb" or "html") as text."""
    if fmt == "ipynb":
        if progress:
            progress(f"writing the notebook for run {subject.best_run_id}")
        return notebook_text(subject)
    if fmt == "html":
        # Deferred: the HTML report's figures load pandas and Plotly; a notebook needs neither.
        from engine.reports.html import html_report

        return html_report(subject, progress)
    raise InvalidConfig(f"Unknown report format {str(fmt)[:20]!r}; choose one of: {', '.join(FORMATS)}.")


def holds(subject: ReportSubject, fmt: str) -> tuple[str, ...]:
    return (SET_CONTENTS[fmt] if subject.is_set else ()) + CONTENTS[fmt]


# What a path that exists but is no regular file is, for the refusal's words. The report replaces its target by a
# rename, which would turn a FIFO, a device or a link (/dev/stdout is one) into a regular file.
_KINDS = (
    (stat.S_ISLNK, "a symbolic link"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def _check_replaceable(path: Path) -> None:
    """Refuse an `--output` that exists and is neither a regular file nor a folder (the folder has its own message):
    a report is written only to a new path or over a regular file."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    except OSError as problem:
        raise InvalidConfig(f"--output {str(path)[:200]} cannot be checked ({problem.strerror}).") from None
    for test, kind in _KINDS:
        if test(mode):
            raise InvalidConfig(
                f"--output {str(path)[:200]} is {kind}, not a regular file: a report is written only to a new path "
                "or over a regular file. Give a file name such as report.html."
            )


def _check_output(path: Path, example: str) -> None:
    """What `--output` may name: a new file or a regular file, in a folder that exists (`example`: a file name to
    suggest, "report.html")."""
    _check_replaceable(path)
    if path.is_dir():
        raise InvalidConfig(f"--output {str(path)[:200]} is a folder; give a file name such as {example}.")
    if not path.parent.is_dir():
        raise InvalidConfig(f"--output {str(path)[:200]}: the folder {str(path.parent)[:200]} does not exist.")


def _replace_whole(path: Path, data: bytes, what: str) -> None:
    """Write `data` over `path` whole (a temporary file beside it is renamed); a full or read-only disk is a one-line
    error with nothing left behind."""
    with disk_guard(path.parent, f"{what} {path.name[:80]}", "give --output a file in a folder", ReportNotWritten):
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(handle, "wb") as stream:
                stream.write(data)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise


def write_output_file(output: str | os.PathLike, data: bytes, what: str, example: str) -> Path:
    """Write `data` to the file a user named (`--output`): only a new path or over a regular file, replaced whole."""
    path = Path(output)
    _check_output(path, example)
    _replace_whole(path, data, what)
    return path


def write_report(
    subject: ReportSubject, fmt: str, output: str | os.PathLike, progress: Callable[[str], None] | None = None
) -> WrittenReport:
    """Write the report to `output` (replaced whole, never half-written: a temporary file beside it is renamed)."""
    path = Path(output)
    _check_output(path, f"report.{fmt}")  # before the report is computed: a refused path costs nothing
    data = report_text(subject, fmt, progress).encode("utf-8")
    _replace_whole(path, data, "the report")
    return WrittenReport(
        path=str(path.resolve()),
        format=fmt,
        kind=subject.kind,
        title=subject.title,
        run_ids=tuple(run.run_id for run in subject.runs),
        best_run_id=subject.best_run_id,
        chosen_by=subject.chosen_by,
        holds=holds(subject, fmt),
        bytes=len(data),
        left_out=left_out(subject),
    )


def left_out(subject: ReportSubject) -> tuple[str, ...]:
    """What the report leaves out of its subject's runs, and why: a run whose stored history is refused has no
    curves. The report is still written (its scores, confusion and mistakes come from other files) and says so
    where the curves would be; this repeats it for the command line."""
    missing = []
    for run in subject.runs:
        try:
            run.history()
        except DigitLabError as problem:
            missing.append(f"the training curves of run {run.run_id}: {problem}")
    return tuple(missing)

"""Reading untrusted text.

`load_json` is the one parser of JSON that comes from outside (a link, a file, the cache), bounded in size and
nesting depth. The command line's file readers give the text of a small JSON file a flag names
(`small_json_file_text`), and of a `--spec` argument that is either such a file or the JSON itself (`spec_text`).
Each file is checked before it is read, so naming a folder, a device or a huge file is a one-line error, not a hang
or a traceback; the caller passes the error class its users expect (a sweep's `--space` raises `InvalidSweep`:
`engine.sweeps.checks`).

Every file the engine reads back from its cache (a run's manifest, meta and history, an upload's info, the training
ledger, a job's or sweep's records, a probe record, a lock's note) is opened through `open_regular_file` and read
through `read_regular_file` / `load_json_file`: anyone who can write into the cache can plant a FIFO (an `open`
that never returns), a link to `/dev/zero` (a read that never ends) or a file of gigabytes, and a listing that
reads every record must answer with that record flagged, not hang."""

from __future__ import annotations

import errno
import io
import json
import os
import re
import stat
from typing import Any

from engine.errors import InvalidSpec
from engine.limits import input_limits

# Deeper than anything Digit Lab writes (a run's meta nests about five levels), far below the depth at which Python's
# json module and the code that walks its result run out of stack: a few thousand brackets raise RecursionError,
# which no reader expects.
MAX_JSON_DEPTH = 64
_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKETS = re.compile(r"[\[\]{}]")


def load_json(text: str | bytes | bytearray, *, max_chars: int | None = None, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """`json.loads` for text from outside, which raises `json.JSONDecodeError` (a `ValueError`, as every reader
    already catches for malformed JSON) also when the text is over `max_chars` characters or nests deeper than
    `max_depth`.

    The depth is measured before parsing, with strings taken out, so a hostile file costs one linear scan.
    """
    if isinstance(text, (bytes, bytearray)):
        text = bytes(text).decode("utf-8")  # UnicodeDecodeError is a ValueError too
    if max_chars is not None and len(text) > max_chars:
        raise json.JSONDecodeError(f"longer than {max_chars:,} characters", text[:100], max_chars)
    depth = 0
    for match in _BRACKETS.finditer(_STRINGS.sub('""', text)):
        depth += 1 if match.group() in "[{" else -1
        if depth > max_depth:
            raise json.JSONDecodeError(f"nested deeper than {max_depth} levels", text[:100], 0)
    try:
        return json.loads(text)
    except RecursionError:  # unreachable after the scan; kept so no caller ever sees one
        raise json.JSONDecodeError(f"nested deeper than {max_depth} levels", text[:100], 0) from None


# What one record in the cache may weigh when no reader names its own cap: the largest Digit Lab writes (a long
# training's history, a run's meta with 1,000 class names) is well under a megabyte.
MAX_CACHE_FILE_BYTES = 8 << 20


class RefusedFile(OSError):
    """A path that is not a regular file (a FIFO, a device, a folder, a link where none is allowed) or is over its
    size cap. An `OSError`, so every reader that already treats an unreadable file as damaged treats this one so."""


def open_regular_file(path: str | os.PathLike[str], *, follow_links: bool = False) -> io.BufferedReader:
    """`open(path, "rb")` that returns only for a regular file, and never blocks.

    `O_NONBLOCK` makes opening a FIFO return at once (a plain open waits for a writer forever); `O_NOFOLLOW`
    refuses a link in the last component (the cache never holds one; a user's data path may, so `follow_links`);
    the type is checked with `fstat` on the opened descriptor, so the file cannot be swapped between check and read.
    A missing file raises `FileNotFoundError`, as `open` does.
    """
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    if not follow_links:
        flags |= getattr(os, "O_NOFOLLOW", 0)
    try:
        descriptor = os.open(path, flags)
    except OSError as problem:
        if problem.errno == errno.ELOOP and not follow_links:
            reason = "is a symbolic link, which Digit Lab never writes there"
            raise RefusedFile(errno.ELOOP, reason, str(path)) from None
        raise
    try:
        mode = os.fstat(descriptor).st_mode
        if not stat.S_ISREG(mode):
            kind = "a folder" if stat.S_ISDIR(mode) else "a FIFO" if stat.S_ISFIFO(mode) else "a device or socket"
            raise RefusedFile(errno.EINVAL, f"is {kind}, not a regular file", str(path))
        os.set_blocking(descriptor, True)  # a regular file never blocks; reads then behave as usual
        return os.fdopen(descriptor, "rb")
    except BaseException:
        os.close(descriptor)
        raise


def read_regular_file(
    path: str | os.PathLike[str], *, max_bytes: int = MAX_CACHE_FILE_BYTES, follow_links: bool = False
) -> bytes:
    """The bytes of the regular file at `path`, at most `max_bytes` of them: over that, `RefusedFile`, decided by
    reading one byte more than the cap (never the size the file claims, which a growing file or a device belies)."""
    with open_regular_file(path, follow_links=follow_links) as handle:
        raw = handle.read(max_bytes + 1)
    if len(raw) > max_bytes:
        raise RefusedFile(errno.EFBIG, f"is over the {max_bytes:,}-byte limit for this file", str(path))
    return raw


def load_json_file(
    path: str | os.PathLike[str], *, max_bytes: int = MAX_CACHE_FILE_BYTES, max_depth: int = MAX_JSON_DEPTH
) -> Any:
    """The JSON value of a file in the cache: `OSError` (`FileNotFoundError` when absent, `RefusedFile` for a FIFO,
    a link, a device or an oversized file) or `ValueError` (not UTF-8, not JSON, nested too deep); nothing else."""
    return load_json(read_regular_file(path, max_bytes=max_bytes), max_depth=max_depth)


def small_json_file_text(
    argument: str, flag: str, cap: int, error: type[Exception], wanted: str = "a JSON file"
) -> str:
    """The UTF-8 text of the file a command-line `flag` names: a regular file within `cap` bytes, checked before it
    is read (a folder, a device or a huge file is a one-line `error`, not a hang or a traceback)."""
    try:
        st = os.stat(argument)
    except OSError as problem:
        raise error(f"{flag} {argument}: cannot be read ({problem.strerror or problem}).") from None
    if stat.S_ISDIR(st.st_mode):
        raise error(f"{flag} {argument} is a folder; give {wanted}.")
    if not stat.S_ISREG(st.st_mode):
        raise error(f"{flag} {argument} is not a regular file; give {wanted}.")
    if st.st_size > cap:
        raise error(f"{flag} {argument} is {st.st_size:,} bytes, over the {cap:,}-byte limit.")
    try:
        # Opened as the cache's files are: a path swapped for a FIFO after the stat neither blocks nor is read.
        with open_regular_file(argument, follow_links=True) as handle:
            raw = handle.read(cap + 1)  # the size can change after the stat: never read past the cap
    except RefusedFile:
        raise error(f"{flag} {argument} is not a regular file; give {wanted}.") from None
    except OSError as problem:
        raise error(f"{flag} {argument}: cannot be read ({problem.strerror or problem}).") from None
    if len(raw) > cap:
        raise error(f"{flag} {argument} is over the {cap:,}-byte limit.")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise error(f"{flag} {argument} is not UTF-8 text; give a JSON file.") from None


def spec_text(argument: str) -> str:
    """The JSON text of a `--spec` argument: the file it names, or the argument itself when no such path exists.

    A named path must be a regular file within `InputLimits.max_spec_bytes` (checked before reading, so naming a
    folder, a device or a huge file is a one-line error, not a hang or a traceback) holding UTF-8 text.
    """
    cap = input_limits().max_spec_bytes
    if not os.path.lexists(argument):
        if len(argument.encode("utf-8", "replace")) > cap:
            raise InvalidSpec(f"The model spec text is over {cap:,} bytes; a spec is a few kB of JSON.")
        return argument
    return small_json_file_text(argument, "--spec", cap, InvalidSpec, "a JSON file (or JSON text)")

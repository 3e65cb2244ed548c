"""Reading untrusted text.

`load_json` is the one parser of JSON that comes from outside (a link, a file, the cache), bounded in size and
nesting depth. The command line's file readers give the text of a small JSON file a flag names
(`small_json_file_text`), and of a `--spec` argument that is either such a file or the JSON itself (`spec_text`).
Each file is checked before it is read, so naming a folder, a device or a huge file is a one-line error, not a hang
or a traceback; the caller passes the error class its users expect (a sweep's `--space` raises `InvalidSweep`:
`engine.sweeps.checks`)."""

from __future__ import annotations

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
        with open(argument, "rb") as handle:
            raw = handle.read(cap + 1)  # the size can change after the stat: never read past the cap
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

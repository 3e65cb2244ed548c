"""The command line's file readers: the text of a small JSON file a flag names (`small_json_file_text`), and of a
`--spec` argument that is either such a file or the JSON itself (`spec_text`). Each file is checked before it is
read, so naming a folder, a device or a huge file is a one-line error, not a hang or a traceback; the caller
passes the error class its users expect (a sweep's `--space` raises `InvalidSweep`: `engine.sweeps.checks`)."""

from __future__ import annotations

import os
import stat

from engine.errors import InvalidSpec
from engine.limits import input_limits


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

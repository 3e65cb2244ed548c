"""A roster: the instructor's CSV of student names, read as the untrusted file it is.

Accepted: UTF-8 (a byte-order mark is fine), at most `MAX_ROSTER_BYTES`, either one column of names (a header
"name" or "student" optional) or several columns one of which is headed "name" or "student" (the rest ignored).
Each name is stripped of surrounding spaces and must be 1..`MAX_NAME_CHARS` printable characters; two names that a
teacher would read as the same (case, spacing, Unicode form) are refused, naming both lines.

Names that start like a spreadsheet formula ("=", "+", "-", "@") are kept as written: a display name is shown only
as plain text, and "-Ana" or "@ben" may be what a student is called. Where a name could act as a formula, in a CSV
opened by a spreadsheet, `spreadsheet_cell` neutralises it; every CSV export of names goes through it.
"""

from __future__ import annotations

import csv
import io
import unicodedata

from engine.errors import DigitLabError

MAX_ROSTER_BYTES = 64 * 1024  # a class of 500 names at 60 characters, with room for other columns
MAX_STUDENTS = 500
MAX_NAME_CHARS = 60
NAME_HEADERS = ("name", "names", "student", "students", "student name", "display name", "full name")
# Invisible joiners some scripts (Persian, Indic) and emoji need inside a name; every other format character
# (bidi overrides, zero-width spaces) is refused because it changes how a name reads without being seen.
_ALLOWED_FORMAT_CHARACTERS = {"\u200c", "\u200d"}
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class InvalidRoster(DigitLabError):
    """A roster file that cannot be read as a list of names (said with the line or byte where it goes wrong)."""


def read_roster(raw: bytes) -> tuple[str, ...]:
    """The display names in a roster CSV, in file order; `InvalidRoster` with a one-line reason otherwise."""
    if not isinstance(raw, bytes | bytearray):
        raise InvalidRoster("A roster must be the bytes of a CSV file.")
    if len(raw) > MAX_ROSTER_BYTES:
        raise InvalidRoster(
            f"The roster is {len(raw):,} bytes, above the limit of {MAX_ROSTER_BYTES:,}: "
            f"give one name a line, at most {MAX_STUDENTS} students."
        )
    text = _decode(bytes(raw))
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    records: list[tuple[int, list[str]]] = []
    try:
        while True:
            start = reader.line_num + 1
            try:
                row = next(reader)
            except StopIteration:
                break
            if any(cell.strip() for cell in row):
                records.append((start, row))
    except csv.Error as problem:
        raise InvalidRoster(f"The roster is not valid CSV at line {reader.line_num}: {problem}.") from None
    if not records:
        raise InvalidRoster("The roster holds no names: give one name a line.")
    column, records = _name_column(records)
    if not records:
        raise InvalidRoster("The roster holds a header and no names: give one name a line below it.")
    names: list[str] = []
    seen: dict[str, tuple[int, str]] = {}
    for line, row in records:
        if column >= len(row) or not row[column].strip():
            raise InvalidRoster(f"Line {line} of the roster has no name.")
        name = _checked_name(row[column], line)
        key = name_key(name)
        if key in seen:
            first_line, first_name = seen[key]
            raise InvalidRoster(
                f"Line {line} ({name!r}) repeats line {first_line} ({first_name!r}): every student needs a "
                "name the class can tell apart."
            )
        seen[key] = (line, name)
        names.append(name)
        if len(names) > MAX_STUDENTS:
            raise InvalidRoster(f"The roster has more than {MAX_STUDENTS} names (line {line}); split the class.")
    return tuple(names)


def spreadsheet_cell(text: str) -> str:
    """`text` safe as a cell of a CSV a spreadsheet will open: one that starts like a formula gets a leading
    apostrophe (OWASP's advice for CSV injection), so it shows as written instead of being computed."""
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def _decode(raw: bytes) -> str:
    body = raw[3:] if raw.startswith(b"\xef\xbb\xbf") else raw
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as problem:
        offset = problem.start + (len(raw) - len(body))
        line = raw[:offset].count(b"\n") + 1
        raise InvalidRoster(
            f"The roster is not UTF-8: byte 0x{raw[offset]:02x} at offset {offset} (line {line}) is not valid "
            "there. Save the file as CSV UTF-8."
        ) from None


def _name_column(records: list[tuple[int, list[str]]]) -> tuple[int, list[tuple[int, list[str]]]]:
    """Which column holds the names, and the records without the header if there is one."""
    header = [cell.strip().casefold() for cell in records[0][1]]
    for index, cell in enumerate(header):
        if cell in NAME_HEADERS:
            return index, records[1:]
    widths = {len([cell for cell in row if cell.strip()]) for _, row in records}
    if len(header) == 1 and any(part.strip() in NAME_HEADERS for part in header[0].split(";")):
        raise InvalidRoster(
            "The roster looks separated by semicolons; save it as comma-separated CSV, or give one column of names."
        )
    if max(widths) > 1:
        line = next(line for line, row in records if len([cell for cell in row if cell.strip()]) > 1)
        raise InvalidRoster(
            f"Line {line} of the roster has several columns, and no column is headed 'name' or 'student': give "
            "one column of names, or head the names' column 'name'."
        )
    column = next(index for index, cell in enumerate(records[0][1]) if cell.strip())
    return column, records


def check_display_name(name: str) -> str:
    """A name a student types to join, checked as a roster line is (printable, one line, 1 to 60 characters)."""
    try:
        checked = _checked_name(name, 1)
    except InvalidRoster as problem:
        said = str(problem).replace("Line 1 of the roster holds a name of", "The name has")
        said = said.replace("Line 1 of the roster holds a name mixing", "The name mixes")
        raise InvalidRoster(said.replace("Line 1 of the roster holds", "The name holds")) from None
    if not checked:
        raise InvalidRoster("A display name needs at least one printable character.")
    return checked


def _checked_name(cell: str, line: int) -> str:
    name = unicodedata.normalize("NFC", cell.strip())
    for character in name:
        if not (character.isprintable() or character in _ALLOWED_FORMAT_CHARACTERS):
            if character in "\r\n\u2028\u2029\x85":
                what = "a line break"
            else:
                what = f"the character U+{ord(character):04X} ({unicodedata.name(character, 'a control character')})"
            raise InvalidRoster(f"Line {line} of the roster holds {what}; a name is printable text on one line.")
    if len(name) > MAX_NAME_CHARS:
        raise InvalidRoster(
            f"Line {line} of the roster holds a name of {len(name)} characters; at most {MAX_NAME_CHARS}."
        )
    mixed = _mixed_scripts(name)
    if mixed:
        raise InvalidRoster(
            f"Line {line} of the roster holds a name mixing {' and '.join(s.title() for s in mixed)} letters, "
            "which can pass for another name; write it in one script."
        )
    return name


# Cyrillic and Greek letters that read as a Latin one in upper or lower case (after case folding), from the
# letters Unicode TR39's confusables list maps to Latin: "Асе" in Cyrillic and "Ace" are one name on a board.
_LATIN_LOOKALIKES = str.maketrans(
    "авекмнорстхуіјѕһԁӏԛԝαβεζηικμνορτυχ",
    "abekmhopctxyijshdlqwabezhikmnoptyx",
)
# Scripts whose letters are confused with each other: a name mixing them ("Аnna", its first letter Cyrillic) is
# refused (TR39's mixed-script rule); a name in one of them, or in any other script, is fine.
_CONFUSED_SCRIPTS = ("LATIN", "CYRILLIC", "GREEK")


def name_key(name: str) -> str:
    """How a teacher reads a name: case, spacing, compatibility forms, invisible joiners and Latin look-alikes
    do not count. Two names with the same key are one name on a board (roster lines and joins alike)."""
    visible = "".join(c for c in name if c not in _ALLOWED_FORMAT_CHARACTERS)
    folded = " ".join(unicodedata.normalize("NFKC", visible).casefold().split())
    return folded.translate(_LATIN_LOOKALIKES)


def _mixed_scripts(name: str) -> tuple[str, ...]:
    """The confusable scripts (Latin, Cyrillic, Greek) whose letters `name` mixes, if more than one."""
    scripts = {
        script
        for character in name
        if character.isalpha()
        for script in _CONFUSED_SCRIPTS
        if unicodedata.name(character, "").startswith(script + " ")
    }
    return tuple(sorted(scripts)) if len(scripts) > 1 else ()

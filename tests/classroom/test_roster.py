"""Roster CSVs built by hand: what is read, and each refusal with the line or byte it names."""

from __future__ import annotations

import csv
import io

import pytest

from engine.classroom.roster import MAX_ROSTER_BYTES, InvalidRoster, read_roster, spreadsheet_cell
from engine.errors import DigitLabError


def test_one_column_without_header() -> None:
    assert read_roster(b"Ana Lima\nBen\n\nCy\n") == ("Ana Lima", "Ben", "Cy")


def test_header_bom_and_windows_line_ends() -> None:
    assert read_roster(b"\xef\xbb\xbfName\r\nAna\r\n  Ben  \r\n") == ("Ana", "Ben")
    assert read_roster(b"student\nAna\n") == ("Ana",)


def test_names_column_of_a_wider_file_written_by_the_csv_module() -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerows([["id", "Student", "email"], [1, "Lima, Ana", "a@x.org"], [2, 'Ben "B" Oz', "b@x.org"]])
    assert read_roster(buffer.getvalue().encode()) == ("Lima, Ana", 'Ben "B" Oz')


def test_unicode_names_are_kept_in_their_composed_form() -> None:
    # "Jo" + combining diaeresis + "rg" is read as the composed "Jörg"; a Persian name keeps its zero-width non-joiner.
    assert read_roster("Jo\u0308rg\n\u0645\u06cc\u200c\u0631\u0648\u0645\n".encode()) == (
        "J\u00f6rg",
        "\u0645\u06cc\u200c\u0631\u0648\u0645",
    )


def test_formula_like_names_are_kept_as_text_and_neutralised_for_spreadsheets() -> None:
    names = read_roster(b'=HYPERLINK("x")\n+1\n-Ana\n@ben\nZoe\n')
    assert names == ('=HYPERLINK("x")', "+1", "-Ana", "@ben", "Zoe")
    assert [spreadsheet_cell(name) for name in names] == ['\'=HYPERLINK("x")', "'+1", "'-Ana", "'@ben", "Zoe"]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"Ana\nJ\xf6rg\n", r"not UTF-8: byte 0xf6 at offset 5 \(line 2\)"),
        (b"\xef\xbb\xbfAna\n\xff\n", r"byte 0xff at offset 7 \(line 2\)"),
        ("Ana\nJörg\n".encode("utf-16"), r"not UTF-8: byte 0xff at offset 0 \(line 1\)"),
        (b"Ana\nB\x00en\n", r"Line 2 of the roster holds the character U\+0000"),
        (b"Ana\nBen\tOz\n", r"Line 2 .* U\+0009"),
        ("Ana\nEve\u202eliam\n".encode(), r"Line 2 .* U\+202E \(RIGHT-TO-LEFT OVERRIDE\)"),
        ("Ana\nEve\u2066x\n".encode(), r"Line 2 .* U\+2066"),
        ("Ana\nZero\u200bWidth\n".encode(), r"Line 2 .* U\+200B"),
        (b'Ana\n"Ben\nOz"\n', r"Line 2 of the roster holds a line break"),
        ("Ana\nBen\u2028Oz\n".encode(), r"Line 2 of the roster holds a line break"),
        (b"Ana\nBen\nana \n", r"Line 3 \('ana'\) repeats line 1 \('Ana'\)"),
        (b"Ana  Lima\nBen\nana lima\n", r"Line 3 \('ana lima'\) repeats line 1 \('Ana  Lima'\)"),
        ("J\u00f6rg\nJo\u0308rg\n".encode(), r"Line 2 .* repeats line 1"),
        # Cyrillic letters that read as Latin ones: all-Cyrillic "Асе" is "Ace"; "Аnna" (Cyrillic А) mixes scripts.
        ("Ace\n\u0410\u0441\u0435\n".encode(), r"Line 2 .* repeats line 1 \('Ace'\)"),
        ("Ana\n\u0410nna\n".encode(), r"Line 2 .* mixing Cyrillic and Latin letters"),
        ("Ana\nN\u03bfah\n".encode(), r"Line 2 .* mixing Greek and Latin letters"),
        ("Ana\n\uff21na\n".encode(), r"Line 2 .* repeats line 1"),  # a full-width Ａ
        (b"Ana\n" + b"x" * 61 + b"\n", r"Line 2 of the roster holds a name of 61 characters; at most 60"),
        (b"id,name\n1,Ana\n2,\n", r"Line 3 of the roster has no name"),
        (b"id,email\n1,a@x\n", r"Line 1 .* several columns, and no column is headed 'name'"),
        (b"name;email\nAna;a@x\n", r"separated by semicolons"),
        (b"", r"holds no names"),
        (b"\n \n,,\n", r"holds no names"),
        (b"name\n", r"holds a header and no names"),
        (b'Ana\n"unterminated\n', r"not valid CSV at line 2"),
        (b"x" * (MAX_ROSTER_BYTES + 1), r"65,537 bytes, above the limit of 65,536"),
    ],
)
def test_refusals_name_the_place(raw: bytes, message: str) -> None:
    with pytest.raises(InvalidRoster, match=message) as refused:
        read_roster(raw)
    assert "\n" not in str(refused.value)  # one line, for the CLI and the page
    assert isinstance(refused.value, DigitLabError)


def test_at_most_500_students() -> None:
    assert len(read_roster(b"\n".join(b"Student %d" % i for i in range(500)))) == 500
    with pytest.raises(InvalidRoster, match=r"more than 500 names \(line 501\)"):
        read_roster(b"\n".join(b"Student %d" % i for i in range(501)))


def test_not_bytes_is_refused() -> None:
    with pytest.raises(InvalidRoster, match="bytes"):
        read_roster("Ana\nBen\n")  # type: ignore[arg-type]


def test_names_in_one_script_are_kept_whatever_the_script() -> None:
    names = ("Ольга", "Νίκος", "Zoë", "山田 太郎", "Ана")  # Cyrillic "Ана" differs from Latin "Ana" by its н
    assert read_roster("\n".join(names).encode()) == names

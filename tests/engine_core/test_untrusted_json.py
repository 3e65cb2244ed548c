"""Issue 23, fault 1: deeply nested JSON. Every reader of JSON from outside (a link, a file, the cache) parses it
with `engine.textfiles.load_json`, which bounds size and depth and fails as malformed JSON does; so a few thousand
brackets in a link, on the command line or planted in the cache are a message or a skipped record, never a
RecursionError. The depths here are built by hand, so each case's answer is known."""

from __future__ import annotations

import base64
import json
import zlib

import pytest

from engine.textfiles import MAX_JSON_DEPTH, load_json

DEEP = "[" * 5000 + "]" * 5000  # json.loads itself raises RecursionError on this


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def token(text: str) -> str:
    """A link value as the dashboard writes one: zlib, then URL-safe base64 without padding."""
    return base64.urlsafe_b64encode(zlib.compress(text.encode(), 9)).decode().rstrip("=")


def test_plain_json_would_crash_on_the_deep_case():
    # The failure this guards against, shown with the standard parser.
    with pytest.raises(RecursionError):
        json.loads(DEEP)


def test_depth_up_to_the_bound_parses_and_one_more_level_is_malformed_json():
    value = load_json(nested(MAX_JSON_DEPTH))
    for _ in range(MAX_JSON_DEPTH - 1):
        (value,) = value
    assert value == []
    for text in (nested(MAX_JSON_DEPTH + 1), DEEP, '{"a":' * 70 + "1" + "}" * 70):
        with pytest.raises(json.JSONDecodeError, match="nested deeper than"):
            load_json(text)


def test_brackets_inside_strings_do_not_count_and_escaped_quotes_do_not_end_strings():
    text = json.dumps({"name": "[" * 500, "quote": 'a \\" [[[[ "', "list": [1, [2]]})
    assert load_json(text) == json.loads(text)


def test_size_bound_and_bytes_input():
    assert load_json(b'{"a": 1}', max_chars=8) == {"a": 1}
    with pytest.raises(json.JSONDecodeError, match="longer than 8"):
        load_json(b'{"a": 10}', max_chars=8)
    with pytest.raises(ValueError):  # not UTF-8: a ValueError, as every reader already catches
        load_json(b"\xff\xfe[]")


def test_a_deep_spec_on_the_command_line_is_one_line_and_exit_2(tmp_path, capsys, monkeypatch):
    from engine.cli import main

    monkeypatch.setenv("DIGIT_LAB_CACHE", str(tmp_path))
    code = main(["train", "--dataset", "digits", "--spec", DEEP, "--json"])
    out, err = capsys.readouterr()
    assert code == 2 and out == "" and err.count("\n") == 1
    assert "not valid JSON: nested deeper than" in err and "RecursionError" not in err


def test_a_deep_space_on_the_command_line_is_one_line_and_exit_2(tmp_path, capsys, monkeypatch):
    from engine.cli import main

    monkeypatch.setenv("DIGIT_LAB_CACHE", str(tmp_path))
    space = tmp_path / "space.json"
    space.write_text(DEEP)
    code = main(["sweep", "--dataset", "digits", "--space", str(space), "--trials", "2", "--json"])
    out, err = capsys.readouterr()
    assert code == 2 and out == "" and "nested deeper than" in err and "RecursionError" not in err


def test_link_tokens_that_inflate_to_deep_json_are_refused_not_raised():
    from dashboard.links import decode
    from engine.architectures import ModelSpec
    from engine.errors import InvalidSpec

    short = token(DEEP)
    assert len(short) < 100  # a 10 kB bracket run packs into a link value of a few dozen characters
    with pytest.raises(ValueError, match="damaged"):
        decode(short)
    with pytest.raises(InvalidSpec, match="not valid JSON: nested deeper than"):
        ModelSpec.from_token(short)


def test_deep_json_planted_in_the_cache_is_skipped_or_recomputed(tmp_path, capsys, monkeypatch):
    """A run's manifest, the training ledger and an upload's info file, each replaced by a bracket run: the listing
    flags the run and goes on, the ledger starts afresh, the upload is listed as unusable."""
    from engine.cli import main
    from engine.datasets.uploads import list_uploads
    from engine.store import RunStore, run_key
    from engine.store.manifest import MANIFEST_NAME
    from engine.training_queue import LEDGER_FILE, Ledger
    from tests.store.run_meta import run_meta

    monkeypatch.setenv("DIGIT_LAB_CACHE", str(tmp_path))
    store = RunStore()
    good, bad = run_key({"deep": 1}), run_key({"deep": 2})
    for key in (good, bad):
        store.create(key, lambda folder: run_meta())
    (store.root / bad / MANIFEST_NAME).write_text(DEEP)
    code, out, err = main(["runs", "--json"]), *capsys.readouterr()
    assert code == 0 and [row["run_id"] for row in json.loads(out)] == [good]
    assert f"run {bad} is not listed" in err and "RecursionError" not in err

    (tmp_path / "queue").mkdir()
    (tmp_path / "queue" / LEDGER_FILE).write_text(DEEP)
    assert Ledger(tmp_path / "queue")._read() == []

    upload = tmp_path / "datasets" / "uploads" / ("0" * 16)
    upload.mkdir(parents=True)
    (upload / "info.json").write_text(DEEP)
    (listed,) = list_uploads()  # listed as unusable with its reason, never dropped or a crash
    assert listed.problem.startswith(f"unusable: its record {upload / 'info.json'} cannot be read")
    assert "nested deeper" in listed.problem


@pytest.mark.parametrize("param", ["spec", "cfg"])
def test_a_deep_link_value_is_a_notice_on_the_page(tmp_path, monkeypatch, param):
    from tests.dashboard.conftest import open_app

    monkeypatch.setenv("DIGIT_LAB_CACHE", str(tmp_path))
    app = open_app(query={"dataset": "digits", param: token(DEEP)})
    assert not app.exception
    shown = " ".join(str(element.value) for element in (*app.warning, *app.error, *app.info))
    assert param in shown and "RecursionError" not in shown

"""Issue 23 (found by the fault probe): a local data path the system cannot look up — a symbolic link loop, a name
over the length limit — is a data-file error naming the path, for both the status check and the load, instead of a
RuntimeError or OSError escaping from `Path.resolve` (the CLI printed "unexpected RuntimeError: Symlink loop")."""

from __future__ import annotations

import os

import pytest

from engine.datasets import dataset_status, load_dataset
from engine.errors import DatasetUnavailable, InvalidDataFile


@pytest.fixture
def loop(tmp_path):
    path = tmp_path / "loop"
    os.symlink(path, path)
    return path


def test_a_link_loop_is_a_data_file_error_naming_it(loop):
    for ask in (load_dataset, dataset_status):
        with pytest.raises(InvalidDataFile, match="loop: cannot be used as a data path") as refused:
            ask("mnist", loop)
        assert "symbolic links" in str(refused.value) or "loop" in str(refused.value)


def test_a_path_over_the_length_limit_is_a_data_file_error(tmp_path):
    too_long = tmp_path / ("x" * 5000)  # NAME_MAX is 255 on Linux filesystems
    with pytest.raises(InvalidDataFile, match="File name too long"):
        load_dataset("mnist", too_long)


def test_a_missing_path_still_says_where_it_looked(tmp_path):
    with pytest.raises(DatasetUnavailable, match="does not exist"):
        load_dataset("mnist", tmp_path / "absent")


def test_the_cli_answers_in_one_line(loop, capsys, monkeypatch, tmp_path):
    from engine.cli import main

    monkeypatch.setenv("DIGIT_LAB_CACHE", str(tmp_path / "cache"))
    code = main(["train", "--dataset", "mnist", "--data-path", str(loop), "--json"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "unexpected" not in err and "cannot be used as a data path" in err

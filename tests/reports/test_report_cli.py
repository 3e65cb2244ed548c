"""`digit-lab report`: exactly one subject, the file written whole, --json says where and what it holds; sweeps
name what is wrong; a study with models missing names them and the command that trains them."""

from __future__ import annotations

import json

import nbformat
import pytest

from engine.cli import main


def test_report_of_a_run_in_both_formats(short_run, tmp_path, capsys):
    notebook_path, html_path = tmp_path / "run.ipynb", tmp_path / "run.html"
    assert main(["report", short_run.run_id, "--format", "ipynb", "--output", str(notebook_path), "--json"]) == 0
    written = json.loads(capsys.readouterr().out)
    assert written["path"] == str(notebook_path.resolve()) and written["format"] == "ipynb"
    assert written["run_ids"] == [short_run.run_id] and written["best_run_id"] == short_run.run_id
    assert "confusion matrix" in written["holds"] and written["bytes"] == notebook_path.stat().st_size
    nbformat.validate(nbformat.read(notebook_path, as_version=4))

    assert main(["report", short_run.run_id, "--format", "html", "--output", str(html_path)]) == 0
    captured = capsys.readouterr()
    assert "report: evaluating run" in captured.err  # the progress lines
    assert str(html_path.resolve()) in captured.out
    assert html_path.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--sweep", "abc"], "is not a sweep id"),
        (["--sweep", "0" * 20], "No stored sweep"),
        ([], "exactly one of RUN_ID, --study NAME or --sweep ID (got 0)"),
        (["0123456789abcdef0123", "--study", "seed003"], "(got 2)"),
        (["0123456789abcdef0123"], "No stored run"),
        (["--study", "nope", "--dataset", "digits"], "Unknown study"),
    ],
)
def test_refusals_are_one_line_with_exit_code_2(argv, message, tmp_path, capsys):
    output = tmp_path / "r.html"
    assert main(["report", *argv, "--format", "html", "--output", str(output)]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not output.exists()


def test_an_output_folder_that_does_not_exist_is_refused(short_run, tmp_path, capsys):
    missing = tmp_path / "absent" / "r.html"
    assert main(["report", short_run.run_id, "--format", "html", "--output", str(missing)]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_a_study_with_models_not_stored_names_them_and_the_command(capsys, tmp_path):
    from engine.datasets import dataset_status, load_dataset
    from engine.errors import RunNotFound
    from engine.reports import preset_study_subject

    if not dataset_status("fashion-mnist")[0]:
        pytest.skip("seed004's models need 28x28 images; Fashion-MNIST is not installed here")
    dataset = load_dataset("fashion-mnist")
    with pytest.raises(RunNotFound) as raised:
        preset_study_subject("seed004", dataset, epochs=1, limit_train=300)
    text = str(raised.value)
    assert "4 of 4 models are not stored" in text and "seed004-4class-bn" in text
    assert "digit-lab study seed004 --dataset fashion-mnist --epochs 1 --limit-train 300" in text

"""A run whose stored history.json is valid JSON of the wrong shape (planted, manifest rebuilt to match): `digit-lab
report` still writes the report, with the reason where the curves would be, and says on stderr what it left out.
Before the store checked the history, the notebook ended in "unexpected AttributeError" and the HTML report in a
TypeError, both exit 1. Chosen over a refusal because the run's scores, confusion matrix and mistakes come from
other files and are all still right."""

from __future__ import annotations

import json
import shutil

import nbformat
import pytest

from engine.cli import main
from engine.store import RunStore
from tests.store.planted import BAD_HISTORIES, plant_history


@pytest.fixture
def damaged_run(short_run, tmp_path, monkeypatch):
    """A copy of the cache holding `short_run`, its history replaced by epochs that are not records."""
    import os

    cache = tmp_path / "cache"
    shutil.copytree(os.environ["DIGIT_LAB_CACHE"], cache)
    monkeypatch.setenv("DIGIT_LAB_CACHE", str(cache))
    run = RunStore().get(short_run.run_id)
    plant_history(run.path, BAD_HISTORIES["epochs are numbers"])
    return short_run.run_id


@pytest.mark.parametrize("fmt", ["ipynb", "html"])
def test_report_on_a_damaged_history_is_written_and_says_why(damaged_run, fmt, tmp_path, capsys):
    output = tmp_path / f"report.{fmt}"
    assert main(["report", damaged_run, "--format", fmt, "--output", str(output)]) == 0
    captured = capsys.readouterr()
    assert "unexpected" not in captured.err and "Traceback" not in captured.err
    assert f"warning: left out the training curves of run {damaged_run}" in captured.err
    text = output.read_text(encoding="utf-8")
    if fmt == "ipynb":
        notebook = nbformat.reads(text, as_version=4)
        nbformat.validate(notebook)
        markdown = "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "markdown")
        assert "training curves are left out" in markdown and "damaged" in markdown
    else:
        assert "No curves: The history of run" in text and "epoch record 1 that is a number" in text


def test_the_json_answer_lists_what_was_left_out(damaged_run, tmp_path, capsys):
    output = tmp_path / "report.html"
    assert main(["report", damaged_run, "--format", "html", "--output", str(output), "--json"]) == 0
    written = json.loads(capsys.readouterr().out)
    assert len(written["left_out"]) == 1 and damaged_run in written["left_out"][0]


def test_a_diverged_runs_nan_validation_accuracy_is_said_in_words_not_nan_percent(short_run, tmp_path, monkeypatch):
    """A run that diverged stores NaN as its final validation accuracy; the HTML headline printed "nan%"."""
    import os

    from tests.store.planted import plant_file

    cache = tmp_path / "cache"
    shutil.copytree(os.environ["DIGIT_LAB_CACHE"], cache)
    monkeypatch.setenv("DIGIT_LAB_CACHE", str(cache))
    run = RunStore().get(short_run.run_id)
    meta = json.loads((run.path / "meta.json").read_text(encoding="utf-8"))
    meta["metrics"]["val_accuracy"] = float("nan")
    plant_file(run.path, "meta.json", json.dumps(meta))
    out = tmp_path / "report.html"
    assert main(["report", short_run.run_id, "--format", "html", "--output", str(out)]) == 0
    page = out.read_text(encoding="utf-8")
    assert "nan%" not in page
    assert "Validation accuracy" in page and "not a number" in page

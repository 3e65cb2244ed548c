""" "Download notebook" and "Download report" on Evaluate, Cross-validation and Compare: present on the page, nothing
built while the page renders, and the file built (valid notebook / HTML document) when the button's download runs.

A click on a deferred download makes the browser ask the server for the file, which calls the button's `data`
callable; AppTest has no browser, so the test records the callables Streamlit registers and calls them as that
request would.
"""

from __future__ import annotations

import nbformat
import pytest
from streamlit.runtime.media_file_manager import MediaFileManager

import dashboard.report_buttons as report_buttons
import engine.reports.writer as writer
from tests.dashboard.conftest import open_page
from tests.dashboard.test_crossval_compare import tiny


@pytest.fixture
def recorded(monkeypatch):
    """(deferred download callables by element id, formats built so far)."""
    callables: dict[str, object] = {}
    built: list[str] = []
    original_add, original_text = MediaFileManager.add_deferred, writer.report_text

    def add_deferred(self, data_callable, mimetype, coordinates, file_name=None, *, element_id=""):
        callables[element_id] = data_callable
        return original_add(self, data_callable, mimetype, coordinates, file_name, element_id=element_id)

    def report_text(subject, fmt, progress=None):
        built.append(fmt)
        return original_text(subject, fmt, progress)

    monkeypatch.setattr(MediaFileManager, "add_deferred", add_deferred)
    monkeypatch.setattr(report_buttons, "report_text", report_text)  # where the buttons look it up
    return callables, built


def _click_both(app, key: str, recorded) -> tuple[bytes, bytes]:
    callables, built = recorded
    labels = {button.label for button in app.get("download_button") if key in str(button.id)}
    assert labels == {"Download notebook", "Download report"}
    assert built == []  # rendering the page built nothing
    notebook = next(f for element, f in callables.items() if element.endswith(f"{key}_notebook"))()
    assert built == ["ipynb"]
    page = next(f for element, f in callables.items() if element.endswith(f"{key}_html"))()
    assert built == ["ipynb", "html"]
    return notebook, page


def test_evaluate_builds_the_notebook_and_report_only_when_clicked(with_trained_run, recorded):
    app = open_page("views/evaluate.py", {"run": with_trained_run, "tab": "Downloads"})
    assert not app.exception
    notebook, page = _click_both(app, "eval_report", recorded)
    parsed = nbformat.reads(notebook.decode("utf-8"), as_version=4)
    nbformat.validate(parsed)
    assert any("model.fit(" in cell.source for cell in parsed.cells)
    assert page.startswith(b"<!DOCTYPE html>") and with_trained_run.encode() in page


def test_compare_builds_a_comparison_report(with_trained_run, recorded):
    app = open_page("views/compare.py", {"runs": with_trained_run})
    assert not app.exception
    _notebook, page = _click_both(app, "compare_report", recorded)
    assert b"<h2>The runs (1)</h2>" in page  # a set, even of one run: the table, then the run in full
    assert with_trained_run.encode() in page


def test_crossval_builds_a_report_of_its_folds(tmp_path, monkeypatch, recorded):
    monkeypatch.setenv("DIGIT_LAB_CACHE", str(tmp_path))
    app = tiny(open_page("views/crossval.py", {"folds": "2"}))
    app.button(key="cv_run").click().run()
    assert not app.exception
    notebook, page = _click_both(app, "cv_report", recorded)
    assert b"2-fold cross-validation" in page and page.count(b"<code>") >= 3  # both folds listed, best in full
    parsed = nbformat.reads(notebook.decode("utf-8"), as_version=4)
    assert any("StratifiedKFold" in cell.source for cell in parsed.cells)  # the best fold's own split

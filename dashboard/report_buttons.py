"""The "Download notebook" and "Download report" buttons of Evaluate, Cross-validation and Compare.

Each file is built only when its button is clicked: `st.download_button` takes a callable for `data` and Streamlit
calls it on the click, never on a page render (building the HTML report loads the dataset and inlines 4.6 MB of
Plotly). A build that fails still downloads, as a file in the asked-for format that says what went wrong.
"""

from __future__ import annotations

import html
from collections.abc import Callable

import streamlit as st

from engine.errors import DigitLabError
from engine.reports import ReportSubject
from engine.reports.notebook import md_text, notebook_reason
from engine.reports.writer import report_text


def _build(make_subject: Callable[[], ReportSubject], fmt: str) -> Callable[[], bytes]:
    def build() -> bytes:
        try:
            return report_text(make_subject(), fmt).encode("utf-8")
        except DigitLabError as error:
            return _failure(fmt, str(error)).encode("utf-8")

    return build


def _failure(fmt: str, message: str) -> str:
    if fmt == "html":
        return f"<!DOCTYPE html><meta charset='utf-8'><p>The report could not be built: {html.escape(message)}</p>"
    import nbformat
    from nbformat import v4

    return nbformat.writes(v4.new_notebook(cells=[v4.new_markdown_cell(f"Not built: {md_text(message, 1000)}")]))


def report_buttons(make_subject: Callable[[], ReportSubject], file_stem: str, key: str, dataset_name: str) -> None:
    """Two download buttons for the subject `make_subject()` returns (called only on a click)."""
    row = st.container(horizontal=True)
    unavailable = notebook_reason(dataset_name)
    row.download_button(
        "Download notebook",
        data=_build(make_subject, "ipynb"),
        file_name=f"{file_stem}.ipynb",
        mime="application/x-ipynb+json",
        key=f"{key}_notebook",
        on_click="ignore",
        icon=":material/code:",
        disabled=bool(unavailable),
        help=unavailable
        or "A standalone Jupyter notebook (keras, numpy, scikit-learn, plotly; no Digit Lab) that loads the same "
        "data and split, builds the same model and trains it with the same settings and seed.",
    )
    row.download_button(
        "Download report",
        data=_build(make_subject, "html"),
        file_name=f"{file_stem}.html",
        mime="text/html",
        key=f"{key}_html",
        on_click="ignore",
        icon=":material/description:",
        help="One HTML file that opens offline: run card, metrics, classification report, confusion matrix, "
        "curves and mistakes (and the comparison, for several runs).",
    )

"""Text from outside (URL values, dataset and class names, stored-run meta) is shown literally: Markdown links,
images and HTML planted in each source never become elements. The oracle is an independent CommonMark renderer
(markdown-it-py, installed with Keras' `rich`) run over every Markdown body the page sends."""

from __future__ import annotations

import dataclasses
import re

import pytest
from markdown_it import MarkdownIt

from tests.dashboard.conftest import literal, open_app, open_page

PLANT = (
    "[click](http://evil.example/x) ![pixel](http://evil.example/p.png) <img src=http://evil.example/i.png> <b>bold "
    "www.evil.example me@evil.example"
)
RENDER = MarkdownIt("commonmark", {"html": True})  # HTML on: stricter than Streamlit, which drops raw HTML


def markdown_bodies(app) -> list[str]:
    """Every Markdown source on the page: text elements, alerts, and the labels Streamlit renders as Markdown."""
    bodies = []
    for kind in ("markdown", "caption", "warning", "error", "info", "success", "title", "header", "subheader"):
        bodies += [element.value for element in getattr(app, kind)]
    for kind in ("button", "selectbox", "number_input", "text_input", "toggle", "radio", "checkbox", "multiselect"):
        bodies += [widget.label for widget in getattr(app, kind)]
    bodies += [tab.label for tab in app.tabs]
    return bodies


def assert_no_planted_element(app) -> None:
    bodies = markdown_bodies(app)
    assert bodies
    for body in bodies:
        html = RENDER.render(body)
        assert "<a " not in html and "<img" not in html and "<b>" not in html, body
        # GitHub-flavoured autolinks form on the text after escapes are resolved: none of their triggers may remain.
        unescaped = re.sub(r"\\(.)", r"\1", body)
        assert not re.search(r"://|www\.|@\w", unescaped), body


def shown(app) -> str:
    return " ".join(literal(body) for body in markdown_bodies(app))


@pytest.mark.parametrize("name", ["dataset", "preset", "classes", "run", "folds", "epochs"])
def test_markup_in_a_link_value_stays_text(name):
    app = open_page("views/train.py", query={"dataset": "digits", name: PLANT})
    assert not app.exception
    assert_no_planted_element(app)
    assert "[click](http://evil.example/x)" in shown(app)  # shown literally (shortened where long), not dropped


def test_markup_in_a_parameter_name_stays_text():
    app = open_app(query={"dataset": "digits", "<img src=http://evil.example/n.png>": "1"})
    assert not app.exception
    assert_no_planted_element(app)
    assert "<img src=http://evil.example/n" in shown(app)  # shortened to 30 characters


@pytest.fixture(scope="module")
def planted_run(tmp_path_factory):
    """A run whose stored meta carries markup: dataset name, class names and preset label, as a tampered or
    foreign store could hold them. Returns (cache folder, run id)."""
    import os

    folder = tmp_path_factory.mktemp("planted-cache")
    old = os.environ.get("DIGIT_LAB_CACHE")
    os.environ["DIGIT_LAB_CACHE"] = str(folder)
    try:
        from engine.datasets import load_dataset
        from engine.runs import get_or_train, preset_request

        digits = load_dataset("digits")
        names = tuple(f"[{i}](http://evil.example/{i}) <img src=http://evil.example/{i}.png>" for i in range(10))
        dataset = dataclasses.replace(digits, name=PLANT, class_names=names)
        spec, config = preset_request("digitlab-small8", dataset, epochs=1)
        result = get_or_train(dataset, spec, config, preset=PLANT)
    finally:
        if old is None:
            os.environ.pop("DIGIT_LAB_CACHE", None)
        else:
            os.environ["DIGIT_LAB_CACHE"] = old
    return folder, result.run.run_id


@pytest.mark.parametrize(
    "page", ["views/evaluate.py", "views/inspect.py", "views/explain.py", "views/compare.py", "views/home.py"]
)
def test_markup_in_stored_run_meta_stays_text(planted_run, monkeypatch, page):
    folder, run_id = planted_run
    monkeypatch.setenv("DIGIT_LAB_CACHE", str(folder))
    app = open_page(page, query={"run": run_id, "runs": run_id, "tab": "Confusion matrix"})
    assert not app.exception
    assert_no_planted_element(app)


def test_class_names_from_stored_meta_are_escaped_for_charts(planted_run, monkeypatch):
    """Plotly reads a subset of HTML (links included) in titles and labels: chart text must be HTML-escaped."""
    import json

    folder, run_id = planted_run
    monkeypatch.setenv("DIGIT_LAB_CACHE", str(folder))
    app = open_page("views/evaluate.py", query={"run": run_id, "tab": "Confusion matrix"})
    # Plotly's JSON writes < and & as \u003c and \u0026: read it back before looking.
    specs = " ".join(json.dumps(json.loads(chart.proto.spec), ensure_ascii=False) for chart in app.get("plotly_chart"))
    assert "<img src=http://evil.example" not in specs and "](http://evil.example" in specs
    assert "&lt;img src=" in specs  # escaped (and shortened to 40 characters)


def test_run_labels_and_class_names_are_escaped_in_compare_charts(planted_run, monkeypatch):
    """Compare's legends, hovers and confusion titles carry preset, dataset and class names from stored meta."""
    import json

    folder, run_id = planted_run
    monkeypatch.setenv("DIGIT_LAB_CACHE", str(folder))
    app = open_page("views/compare.py", query={"runs": run_id})
    assert not app.exception
    charts = app.get("plotly_chart")
    assert len(charts) >= 2  # the curves, the scatter and the confusion grid are drawn for one run too
    specs = " ".join(json.dumps(json.loads(chart.proto.spec), ensure_ascii=False) for chart in charts)
    assert "<img" not in specs and "<a " not in specs
    assert "&lt;img" in specs

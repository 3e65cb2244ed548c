"""AppTest fixtures: a session-wide cache holding one small trained run, and a helper to open any page."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HOME = str(ROOT / "dashboard" / "Home.py")


@pytest.fixture(scope="session")
def trained_cache(tmp_path_factory):
    """A cache folder with the default preset trained for 2 epochs on digits; returns (folder, run_id)."""
    import os

    folder = tmp_path_factory.mktemp("dashboard-cache")
    old = os.environ.get("DIGIT_LAB_CACHE")
    os.environ["DIGIT_LAB_CACHE"] = str(folder)
    try:
        from engine.datasets import load_dataset
        from engine.runs import get_or_train, preset_request

        dataset = load_dataset("digits")
        spec, config = preset_request("digitlab-small8", dataset, epochs=2)
        result = get_or_train(dataset, spec, config, preset="digitlab-small8")
    finally:
        if old is None:
            os.environ.pop("DIGIT_LAB_CACHE", None)
        else:
            os.environ["DIGIT_LAB_CACHE"] = old
    return folder, result.run.run_id


@pytest.fixture
def with_trained_run(trained_cache, monkeypatch):
    """Point the dashboard at the shared cache with one run in it; returns the run id."""
    folder, run_id = trained_cache
    monkeypatch.setenv("DIGIT_LAB_CACHE", str(folder))
    return run_id


def open_sidebar_expanders(app, is_open: bool = True):
    """Open (or close) the sidebar's Architecture and Training settings expanders, as a user does to reach their
    widgets: they are drawn only while open. Takes effect on the next run."""
    from dashboard.sidebar import ARCHITECTURE_KEY, TRAINING_KEY

    app.session_state[ARCHITECTURE_KEY] = app.session_state[TRAINING_KEY] = is_open
    return app


def open_app(page: str | None = None, query: dict | None = None, timeout: float = 120, expanders: bool = True):
    """An AppTest of the real entry point, optionally on `page` (e.g. "views/evaluate.py") with a link's query;
    the sidebar's expanders open unless `expanders` is False."""
    from streamlit.testing.v1 import AppTest

    app = AppTest.from_file(HOME, default_timeout=timeout)
    for key, value in (query or {}).items():
        app.query_params[key] = value
    open_sidebar_expanders(app, expanders)
    app.run()
    if page:
        app.switch_page(page)
        app.run()
    return app


def open_page(page: str, query: dict | None = None, timeout: float = 180, expanders: bool = True):
    """Open `page` directly with a link's query, as a browser opening `/evaluate?run=...` would: the link is
    restored on that page's first run, so its notices show there, not on Home. The sidebar's expanders open unless
    `expanders` is False."""
    from streamlit.testing.v1 import AppTest

    app = AppTest.from_file(HOME, default_timeout=timeout)
    for key, value in (query or {}).items():
        app.query_params[key] = value
    open_sidebar_expanders(app, expanders)
    app.switch_page(page)
    return app.run()


def open_tab(app, key: str, label: str):
    """Open the tab `label` of the tabs keyed `key` (as a click does: pages draw only the open tab) and rerun."""
    app.session_state[key] = label
    return app.run()


def literal(markdown: str) -> str:
    """What a reader sees of text the pages pass through `components.plain`: escapes resolved, the invisible word
    joiners that stop autolinks removed."""
    import re

    return re.sub(r"\\(.)", r"\1", str(markdown)).replace("\u2060", "")


def chart_titles(app) -> list[str]:
    """The titles of every plotly chart on the page."""
    import json

    titles = []
    for chart in app.get("plotly_chart"):
        title = json.loads(chart.proto.spec).get("layout", {}).get("title", {})
        titles.append(title.get("text", "") if isinstance(title, dict) else str(title))
    return titles


def figures_by_title(app) -> dict[str, dict]:
    """Every plotly figure an AppTest page drew, as plotly JSON, by its title text."""
    import json

    figures = {}
    for chart in app.get("plotly_chart"):
        figure = json.loads(chart.proto.spec)
        figures[(figure["layout"].get("title") or {}).get("text", "")] = figure
    return figures


def plotly_array(data):
    """A plotly array as numpy: a plain list, or {"dtype", "bdata" (base64)[, "shape"]} as plotly sends larger ones."""
    import base64

    import numpy as np

    if isinstance(data, dict):
        flat = np.frombuffer(base64.b64decode(data["bdata"]), dtype=data["dtype"])
        if "shape" not in data:
            return flat
        return flat.reshape(tuple(int(n) for n in str(data["shape"]).split(",")))
    return np.asarray(data, dtype=np.float64)

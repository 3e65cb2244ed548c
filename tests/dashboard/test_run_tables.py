"""Home's and Compare's run tables: every run named by its label, every shown column at a fixed width that fits
a 1400 px window (issue 23, items 15 and 17)."""

from __future__ import annotations

import json

from dashboard.components import TABLE_WIDTH_PX
from tests.dashboard.conftest import open_app, open_page

COMPARE = "views/compare.py"


def shown_columns(frame) -> dict[str, dict]:
    """The columns a dataframe element shows, in order, with the config the browser gets."""
    config = json.loads(frame.proto.columns) if frame.proto.columns else {}
    order = list(frame.proto.column_order) or list(frame.value.columns)
    return {name: config.get(f"col:{name}", config.get(name, {})) for name in order}


def assert_fits_a_1400_px_window(frame) -> None:
    columns = shown_columns(frame)
    widths = {name: config.get("width") for name, config in columns.items()}
    assert all(isinstance(width, int) for width in widths.values()), widths  # fixed, not left to the grid
    # A 1400 px window less the sidebar (about 336 px) and the main column's padding leaves about 900 px.
    assert TABLE_WIDTH_PX <= 1400 - 336 - 2 * 64 and sum(widths.values()) <= TABLE_WIDTH_PX, widths


def test_homes_run_table_fits_a_1400_px_window_and_names_each_run(with_trained_run):
    app = open_app()
    assert not app.exception
    (frame,) = [df for df in app.dataframe if "run_id" in df.value.columns]
    assert_fits_a_1400_px_window(frame)
    columns = shown_columns(frame)
    assert next(iter(columns)) == "label" and "run_id" not in columns  # the label names the run
    assert frame.value.set_index("run_id").loc[with_trained_run, "label"] == "digitlab-small8 + epochs 2 · digits"


def test_compares_table_fits_a_1400_px_window(with_trained_run):
    app = open_page(COMPARE, query={"runs": with_trained_run})
    assert not app.exception
    (frame,) = [df for df in app.dataframe if "test_accuracy" in df.value.columns]
    assert_fits_a_1400_px_window(frame)
    assert app.multiselect(key="compare_runs").format_func(with_trained_run) == "digitlab-small8 + epochs 2 · digits"

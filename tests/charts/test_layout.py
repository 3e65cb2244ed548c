"""Titles clear of Plotly's toolbar and legends clear of the x-axis title, in pixels of the figure Plotly lays out.

The oracle is Plotly's own geometry, written out by hand: the modebar is drawn over the top right of the figure
(2 px from the top, 22 px buttons, padded: about 30 px); a title line at the default 17 px font needs about 20 px;
under the plot, tick labels (12 px) and an axis title (14 px) with their standoffs take about 50 px; one row of a
horizontal legend about 20 px. Before `charts.layout`, titles sat at Plotly's default height, inside the toolbar's
band on a narrow chart, and legends at paper y = -0.2 overlapped "Epoch" (the HTML report showed it).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from charts.compare import aligned_curves
from charts.crossval import cv_beside_test, fold_curves
from charts.evaluation import confusion_heatmap
from charts.explain import robustness_curves
from charts.training import training_curves

MODEBAR_PX = 30
TITLE_PX = 20
SUBPLOT_TITLE_PX = 16
BELOW_PLOT_PX = 50  # tick labels and an x-axis title
LEGEND_ROW_PX = 20

HISTORY = {
    "initial": {"val_accuracy": 0.1, "val_loss": 2.3},
    "epochs": [
        {"epoch": e, "accuracy": 0.5 + e / 10, "loss": 1 / e, "val_accuracy": 0.5, "val_loss": 1.0} for e in (1, 2)
    ],
}


def _figures():
    labels = [f"run {i}" for i in range(7)]
    curves = pd.DataFrame(
        [
            {"label": label, "epoch": e, "metric": "val_accuracy", "value": 0.5 + e / 10}
            for label in labels
            for e in (1, 2, 3)
        ]
    )
    summary = {
        "folds": [{"fold": f, "train_accuracy": 0.9, "val_accuracy": 0.8, "test_accuracy": 0.85} for f in (1, 2)],
        "mean_train_accuracy": 0.9,
        "mean_val_accuracy": 0.8,
        "mean_test_accuracy": 0.85,
    }
    return {
        "training curves (the HTML report's too)": (training_curves(HISTORY), True, True),
        "aligned curves, seven runs": (aligned_curves(curves, "val_accuracy", labels), True, False),
        "fold curves": (fold_curves({1: HISTORY, 2: HISTORY}), True, True),
        "cv beside test": (cv_beside_test(summary), True, False),
        "robustness": (
            robustness_curves([(label, [0, 1], [0.9, 0.8]) for label in labels], "rotation", "°"),
            True,
            False,
        ),
        "confusion": (confusion_heatmap(np.eye(3, dtype=int), ["a", "b", "c"]), False, False),
    }


@pytest.mark.parametrize("name", list(_figures()))
def test_the_title_is_below_the_toolbar_and_the_legend_below_the_axis_title(name):
    figure, legend_below, has_subplot_titles = _figures()[name]
    layout = figure.layout
    title = layout.title
    assert title.text
    # The title hangs from the figure's top edge, below the toolbar's band, and the top margin holds both.
    assert title.yref == "container" and title.y == 1 and title.yanchor == "top"
    assert title.pad.t >= MODEBAR_PX
    needed_top = title.pad.t + TITLE_PX + (SUBPLOT_TITLE_PX if has_subplot_titles else 0)
    assert layout.margin.t >= needed_top
    if legend_below:
        entries = sum(1 for trace in figure.data if trace.name and trace.showlegend is not False)
        # However the row breaks fall, a legend of n entries fits ceil(n / 3) rows at about 3 entries per row.
        rows = -(-entries // 3)
        assert layout.legend.orientation == "h"
        assert layout.legend.yref == "container" and layout.legend.y == 0 and layout.legend.yanchor == "bottom"
        assert layout.margin.b >= BELOW_PLOT_PX + rows * LEGEND_ROW_PX


def test_the_plot_keeps_its_height_when_the_margins_grow():
    figure = training_curves(HISTORY)
    plot_px = figure.layout.height - figure.layout.margin.t - figure.layout.margin.b
    assert plot_px == 360 - 70 - 40  # the builder's own plot area before the margins grew

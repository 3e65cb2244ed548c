"""Classroom charts: how a class's best public scores spread. The class's confusion matrix uses the evaluation
charts' `confusion_heatmap`; nothing here imports Streamlit or the engine."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from charts.layout import readable

# Accuracy in bins of 2 percentage points: a class of 30 spreads over a few bars instead of one or thirty.
BIN_WIDTH = 0.02


def score_histogram(scores: Sequence[float], title: str = "Best public accuracy per student") -> go.Figure:
    """A histogram of accuracies in [0, 1] (one per student), in fixed bins of `BIN_WIDTH` so two classes' charts
    read alike; the x axis runs from the lowest bin to 100 %."""
    values = np.asarray(scores, dtype=float)
    low = float(np.floor(values.min() / BIN_WIDTH) * BIN_WIDTH) if values.size else 0.0
    figure = go.Figure(
        go.Histogram(
            x=values,
            xbins={"start": low, "end": 1.0 + BIN_WIDTH / 2, "size": BIN_WIDTH},
            marker_color="#1f77b4",
            hovertemplate="%{x} accuracy: %{y} student(s)<extra></extra>",
        )
    )
    figure.update_layout(
        title=title,
        xaxis={"title": "best public accuracy", "tickformat": ".0%", "range": [low, 1.0 + BIN_WIDTH / 2]},
        yaxis={"title": "students", "dtick": 1, "rangemode": "tozero"},
        bargap=0.05,
        height=320,
    )
    return readable(figure)

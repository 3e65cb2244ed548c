"""Comparison charts: curves of many runs aligned by epoch, accuracy against size, confusion matrices side by side.

Builders take the plain tables of `engine.compare` (and evaluation matrices) and return plotly figures.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.colors import qualitative
from plotly.subplots import make_subplots

RUN_COLOURS = qualitative.D3 + qualitative.Dark2
METRIC_TITLES = {
    "val_accuracy": "Validation accuracy",
    "accuracy": "Training accuracy",
    "val_loss": "Validation loss",
    "loss": "Training loss",
}


def run_colours(labels: list[str]) -> dict[str, str]:
    return {label: RUN_COLOURS[i % len(RUN_COLOURS)] for i, label in enumerate(labels)}


def aligned_curves(curves: pd.DataFrame, metric: str, labels: list[str]) -> go.Figure:
    """One line per run for `metric` (long table from `engine.compare.aligned_curves`); epoch 0 = before training."""
    colours = run_colours(labels)
    figure = go.Figure()
    rows = curves[curves["metric"] == metric]
    for label in labels:
        run = rows[rows["label"] == label].sort_values("epoch")
        if run.empty:
            continue
        figure.add_trace(
            go.Scatter(
                x=run["epoch"],
                y=run["value"],
                mode="lines+markers",
                name=label,
                line={"color": colours[label]},
                marker={"size": 5},
                hovertemplate=f"{label}<br>epoch %{{x}}: %{{y:.4f}}<extra></extra>",
            )
        )
    name = METRIC_TITLES.get(metric, metric)
    short = rows.empty or rows["epoch"].max() <= 20
    figure.update_xaxes(dtick=1 if short else None, tick0=0)  # whole epochs only
    figure.update_layout(
        title=f"{name} by epoch",
        xaxis_title="Epoch",
        yaxis_title=name,
        height=400,
        margin={"t": 60, "b": 40},
        legend={"orientation": "h", "y": -0.25},
    )
    return figure


def accuracy_vs_parameters(points: pd.DataFrame) -> go.Figure:
    """Test accuracy against parameter count (log x); marker area grows with training time."""
    figure = go.Figure()
    seconds = points["train_seconds"].astype(float).clip(lower=0)
    largest = float(seconds.max()) if len(seconds) and seconds.max() > 0 else 1.0
    sizes = 12 + 28 * np.sqrt(seconds / largest)  # sqrt: area, not diameter, follows time
    # More datasets than colours reuse the palette rather than dropping a dataset from the chart.
    for dataset, colour in zip(sorted(points["dataset"].unique()), itertools.cycle(RUN_COLOURS)):
        mask = points["dataset"] == dataset
        part = points[mask]
        figure.add_trace(
            go.Scatter(
                x=part["parameters"],
                y=part["test_accuracy"],
                mode="markers",
                name=dataset,
                marker={"size": sizes[mask], "color": colour, "opacity": 0.75, "line": {"width": 1, "color": "white"}},
                customdata=np.stack([part["label"], part["train_seconds"].astype(float)], axis=-1),
                hovertemplate="%{customdata[0]}<br>%{x:,} parameters<br>test accuracy %{y:.4f}"
                "<br>trained in %{customdata[1]:.1f} s<extra></extra>",
            )
        )
    figure.update_layout(
        title="Test accuracy against parameters (marker size: training time)",
        xaxis={"title": "Parameters (log scale)", "type": "log"},
        yaxis_title="Test accuracy",
        height=420,
        margin={"t": 60, "b": 40},
        legend_title="dataset",
    )
    return figure


def confusion_grid(matrices: list[tuple[str, np.ndarray, list[str]]], columns: int = 3) -> go.Figure:
    """Small row-normalised confusion heatmaps, one per (title, matrix, class names), on one colour scale."""
    rows = math.ceil(len(matrices) / columns)
    # Runs of one dataset share class names: label the rows once, on the left, so long names do not overlap.
    shared = all(list(m[2]) == list(matrices[0][2]) for m in matrices)
    longest = max(len(str(name)) for m in matrices for name in m[2])
    figure = make_subplots(
        rows=rows,
        cols=min(columns, len(matrices)),
        subplot_titles=[m[0] for m in matrices],
        horizontal_spacing=0.04 if shared else 0.03 + 0.012 * longest,
        vertical_spacing=min(0.3, (0.12 + 0.012 * longest) / max(1, rows) * 2),
    )
    for index, (title, matrix, names) in enumerate(matrices):
        row, col = divmod(index, columns)
        figure.add_trace(
            go.Heatmap(
                z=matrix,
                x=names,
                y=names,
                coloraxis="coloraxis",
                name=title,
                hovertemplate="true %{y} → predicted %{x}<br>%{z:.1%} of the true class<extra>" + title + "</extra>",
            ),
            row=row + 1,
            col=col + 1,
        )
        figure.update_yaxes(
            type="category",
            autorange="reversed",
            title_text="True" if col == 0 else None,
            showticklabels=col == 0 or not shared,
            tickfont_size=10,
            row=row + 1,
            col=col + 1,
        )
        figure.update_xaxes(type="category", title_text="Predicted", tickfont_size=10, row=row + 1, col=col + 1)
    figure.update_layout(
        title="Normalised confusion matrices (rows: true class)",
        height=(320 + 6 * longest) * rows + 60,
        coloraxis={"colorscale": "Blues", "cmin": 0, "cmax": 1, "colorbar": {"title": "share"}},
        margin={"t": 80, "b": 40},
    )
    figure.update_annotations(font_size=11)
    return figure

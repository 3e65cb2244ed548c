"""Comparison charts: curves of many runs aligned by epoch, accuracy against size, confusion matrices side by side.

Builders take the plain tables of `engine.compare` (and evaluation matrices) and return plotly figures.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.colors import qualitative
from plotly.subplots import make_subplots

from charts.layout import readable

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
    )
    return readable(figure, legend_below=True)


# Runs whose sizes are this close (in decades, ~3 %) share a spot on the log axis: they are spread sideways.
SAME_SIZE_DECADES = 0.013
SPREAD_DECADES = 0.035  # the sideways step between such runs, small beside the axis' one decade per 10x
AXIS_FONT = 13  # tick labels: the default 12 px (and the log axis' small minor digits) were hard to read


def spread_positions(parameters: Sequence[float] | np.ndarray) -> np.ndarray:
    """x positions for a log axis: runs of (nearly) the same size side by side instead of on top of each other.

    Each group of sizes within `SAME_SIZE_DECADES` of its smallest is centred on that size, `SPREAD_DECADES` apart,
    in the order given. The true sizes stay in the hover text.
    """
    sizes = np.asarray(parameters, dtype=float)
    logs = np.log10(np.maximum(sizes, 1.0))
    shifted = logs.copy()
    order = np.argsort(logs, kind="stable")
    group: list[int] = []
    for index in [*order, None]:
        if index is not None and group and logs[index] - logs[group[0]] <= SAME_SIZE_DECADES:
            group.append(index)
            continue
        for rank, member in enumerate(sorted(group)):
            shifted[member] = logs[group[0]] + SPREAD_DECADES * (rank - (len(group) - 1) / 2)
        group = [] if index is None else [index]
    return 10**shifted


def _size_ticks(low: float, high: float) -> tuple[list[float], list[str]]:
    """1-2-5 ticks between low and high, written out in full ("20,000"), never the log axis' bare minor digits."""
    values = []
    for power in range(int(np.floor(np.log10(max(low, 1.0)))), int(np.ceil(np.log10(max(high, 1.0)))) + 1):
        values += [m * 10**power for m in (1, 2, 5) if low <= m * 10**power <= high]
    if len(values) < 2:
        values = sorted({float(f"{low:.2g}"), float(f"{high:.2g}")})
    return values, [f"{v:,.0f}" for v in values]


def accuracy_vs_parameters(points: pd.DataFrame) -> go.Figure:
    """Test accuracy against parameter count (log x); marker area grows with training time.

    Runs of (nearly) the same size sit side by side (`spread_positions`) and each marker is labelled with its run's
    short id, so two near-equal runs never hide one another.
    """
    figure = go.Figure()
    seconds = points["train_seconds"].astype(float).clip(lower=0)
    largest = float(seconds.max()) if len(seconds) and seconds.max() > 0 else 1.0
    sizes = 12 + 28 * np.sqrt(seconds / largest)  # sqrt: area, not diameter, follows time
    xs = pd.Series(spread_positions(points["parameters"].astype(float).to_numpy()), index=points.index)
    # More datasets than colours reuse the palette rather than dropping a dataset from the chart.
    for dataset, colour in zip(sorted(points["dataset"].unique()), itertools.cycle(RUN_COLOURS)):
        mask = points["dataset"] == dataset
        part = points[mask]
        figure.add_trace(
            go.Scatter(
                x=xs[mask],
                y=part["test_accuracy"],
                mode="markers+text",
                name=dataset,
                text=[str(run_id)[:6] for run_id in part["run_id"]],
                textposition="top center",
                textfont={"size": 11},
                marker={"size": sizes[mask], "color": colour, "opacity": 0.75, "line": {"width": 1, "color": "white"}},
                customdata=np.stack(
                    [part["label"], part["train_seconds"].astype(float), part["parameters"].astype(float)], axis=-1
                ),
                hovertemplate="%{customdata[0]}<br>%{customdata[2]:,.0f} parameters<br>test accuracy %{y:.4f}"
                "<br>trained in %{customdata[1]:.1f} s<extra></extra>",
            )
        )
    low, high = (float(xs.min()) / 1.6, float(xs.max()) * 1.6) if len(xs) else (1.0, 10.0)
    tickvals, ticktext = _size_ticks(low, high)
    figure.update_layout(
        title="Test accuracy against parameters (marker size: training time; label: run id)",
        xaxis={
            "title": "Parameters (log scale)",
            "type": "log",
            "range": [np.log10(low), np.log10(high)],
            "tickvals": tickvals,
            "ticktext": ticktext,
            "tickfont": {"size": AXIS_FONT},
        },
        yaxis={"title": "Test accuracy", "tickfont": {"size": AXIS_FONT}},
        height=420,
        margin={"t": 60, "b": 40},
        legend_title="dataset",
    )
    return readable(figure)


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
    return readable(figure, subplot_titles=True)

"""Training curves: accuracy and loss per epoch, train against validation, with the pre-training score."""

from __future__ import annotations

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from charts.layout import readable

TRAIN_COLOUR, VAL_COLOUR = "#1f77b4", "#ff7f0e"  # the seeds' blue/orange, kept for familiarity


def training_curves(history: dict, title: str = "Training curves") -> go.Figure:
    """Two panels (accuracy, loss). Epoch 0 shows the validation score before any training (seed 004)."""
    epochs = history.get("epochs", [])
    initial = history.get("initial") or {}
    figure = make_subplots(rows=1, cols=2, subplot_titles=("Accuracy", "Loss"))
    for column, metric in ((1, "accuracy"), (2, "loss")):
        xs = [e["epoch"] for e in epochs if metric in e]
        figure.add_trace(
            go.Scatter(
                x=xs,
                y=[e[metric] for e in epochs if metric in e],
                mode="lines+markers",
                name=f"train {metric}",
                line={"color": TRAIN_COLOUR},
                legendgroup="train",
                showlegend=column == 1,
            ),
            row=1,
            col=column,
        )
        val_x = ([0] if f"val_{metric}" in initial else []) + [e["epoch"] for e in epochs if f"val_{metric}" in e]
        val_y = ([initial[f"val_{metric}"]] if f"val_{metric}" in initial else []) + [
            e[f"val_{metric}"] for e in epochs if f"val_{metric}" in e
        ]
        if val_x:
            figure.add_trace(
                go.Scatter(
                    x=val_x,
                    y=val_y,
                    mode="lines+markers",
                    name=f"validation {metric}",
                    line={"color": VAL_COLOUR},
                    legendgroup="val",
                    showlegend=column == 1,
                ),
                row=1,
                col=column,
            )
        figure.update_xaxes(title_text="Epoch", row=1, col=column)
    figure.update_yaxes(title_text="Accuracy", row=1, col=1)
    figure.update_yaxes(title_text="Loss", row=1, col=2)
    figure.update_layout(title=title, height=360, margin={"t": 70, "b": 40})
    return readable(figure, legend_below=True, subplot_titles=True)

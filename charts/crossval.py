"""Cross-validation charts: per-fold scores with mean and spread, every fold's curves, train/CV/test side by side.

Builders take the plain summary of `engine.crossval.CrossValidation.summary()` (or stored histories) and return
plotly figures; they never compute metrics.
"""

from __future__ import annotations

import math

import plotly.graph_objects as go
from plotly.colors import qualitative
from plotly.subplots import make_subplots

from charts.layout import readable

# Ten distinct colours, one per fold (k is at most 10).
FOLD_COLOURS = qualitative.D3
MEAN_COLOUR = "#444444"
SPLIT_COLOURS = {"train": "#1f77b4", "CV (validation)": "#ff7f0e", "test": "#2ca02c"}
# What the "train" bars hold, by the summary's `train_accuracy_kind`: the training set scored after training, or
# (runs stored before that) Keras' running average of the last epoch with dropout active, which reads low.
TRAIN_LABELS = {"inference": "train", "running": "train (last-epoch running average, dropout on)"}


def train_label(summary: dict) -> str:
    return TRAIN_LABELS.get(summary.get("train_accuracy_kind", "running"), TRAIN_LABELS["running"])


def fold_colour(fold: int) -> str:
    return FOLD_COLOURS[(fold - 1) % len(FOLD_COLOURS)]


def _band(
    figure: go.Figure, mean: float | None, std: float, row: int, col: int, x0: float, x1: float, colour: str
) -> None:
    """Mean as a dashed line and mean ± std as a shaded band across the folds."""
    if mean is None or math.isnan(mean):
        return
    figure.add_trace(
        go.Scatter(
            x=[x0, x1, x1, x0],
            y=[mean - std, mean - std, mean + std, mean + std],
            fill="toself",
            fillcolor=colour,
            opacity=0.15,
            line={"width": 0},
            hoverinfo="skip",
            name="mean ± std",
            legendgroup="band",
            showlegend=col == 1,
        ),
        row=row,
        col=col,
    )
    figure.add_trace(
        go.Scatter(
            x=[x0, x1],
            y=[mean, mean],
            mode="lines",
            line={"dash": "dash", "color": colour},
            name="mean",
            legendgroup="mean",
            showlegend=col == 1,
            hovertemplate=f"mean {mean:.4f} ± {std:.4f}<extra></extra>",
        ),
        row=row,
        col=col,
    )


def fold_scores(summary: dict, title: str = "Validation loss and accuracy per fold") -> go.Figure:
    """Seed 002's per-fold plot, interactive: markers + lines per fold, dashed mean, shaded mean ± std."""
    folds = summary["folds"]
    xs = [f["fold"] for f in folds]
    figure = make_subplots(rows=1, cols=2, subplot_titles=("Validation loss", "Validation accuracy"))
    panels = (("val_loss", "loss", "#d62728"), ("val_accuracy", "accuracy", "#1f77b4"))
    for col, (name, label, colour) in enumerate(panels, 1):
        ys = [f[name] for f in folds]
        figure.add_trace(
            go.Scatter(
                x=xs,
                y=ys,
                mode="lines+markers",
                name=f"validation {label}",
                marker={"size": 10, "color": colour},
                line={"color": colour},
                hovertemplate=f"fold %{{x}}<br>{label} %{{y:.4f}}<extra></extra>",
            ),
            row=1,
            col=col,
        )
        _band(
            figure,
            summary.get(f"mean_{name}"),
            summary.get(f"std_{name}", 0.0),
            1,
            col,
            min(xs) - 0.2,
            max(xs) + 0.2,
            MEAN_COLOUR,
        )
        figure.update_xaxes(title_text="Fold", tickmode="array", tickvals=xs, row=1, col=col)
    figure.update_yaxes(title_text="Loss", row=1, col=1)
    figure.update_yaxes(title_text="Accuracy", row=1, col=2)
    figure.update_layout(title=title, height=380, margin={"t": 70, "b": 40})
    return readable(figure, legend_below=True, subplot_titles=True)


def fold_curves(histories: dict[int, dict], title: str = "Training curves of every fold") -> go.Figure:
    """One colour per fold; validation solid, training dotted; accuracy and loss panels."""
    figure = make_subplots(rows=1, cols=2, subplot_titles=("Accuracy", "Loss"))
    for fold, history in sorted(histories.items()):
        epochs = history.get("epochs", [])
        initial = history.get("initial") or {}
        colour = fold_colour(fold)
        for col, metric in ((1, "accuracy"), (2, "loss")):
            val_key = f"val_{metric}"
            val_x = ([0] if val_key in initial else []) + [e["epoch"] for e in epochs if val_key in e]
            val_y = ([initial[val_key]] if val_key in initial else []) + [e[val_key] for e in epochs if val_key in e]
            hover = f"fold {fold} KIND {metric}<br>epoch %{{x}}: %{{y:.4f}}<extra></extra>"
            figure.add_trace(
                go.Scatter(
                    x=val_x,
                    y=val_y,
                    mode="lines+markers",
                    line={"color": colour},
                    marker={"size": 5},
                    name=f"fold {fold}",
                    legendgroup=f"fold{fold}",
                    showlegend=col == 1,
                    hovertemplate=hover.replace("KIND", "validation"),
                ),
                row=1,
                col=col,
            )
            trained = [e for e in epochs if metric in e]
            figure.add_trace(
                go.Scatter(
                    x=[e["epoch"] for e in trained],
                    y=[e[metric] for e in trained],
                    mode="lines",
                    line={"color": colour, "dash": "dot"},
                    name=f"fold {fold} train",
                    legendgroup=f"fold{fold}",
                    showlegend=False,
                    hovertemplate=hover.replace("KIND", "train"),
                ),
                row=1,
                col=col,
            )
            figure.update_xaxes(title_text="Epoch", row=1, col=col)
    figure.update_yaxes(title_text="Accuracy", row=1, col=1)
    figure.update_yaxes(title_text="Loss", row=1, col=2)
    figure.update_layout(
        title=title + " (solid: validation fold, dotted: training)",
        height=380,
        margin={"t": 70, "b": 40},
    )
    return readable(figure, legend_below=True, subplot_titles=True)


def cv_beside_test(summary: dict, title: str = "Train, CV and test accuracy per fold") -> go.Figure:
    """Grouped bars per fold plus a 'mean' group whose error bars are one standard deviation."""
    folds = summary["folds"]
    xs = [f"fold {f['fold']}" for f in folds] + ["mean ± std"]
    figure = go.Figure()
    for split, key in (("train", "train_accuracy"), ("CV (validation)", "val_accuracy"), ("test", "test_accuracy")):
        label = train_label(summary) if split == "train" else split
        values = [f[key] for f in folds] + [summary.get(f"mean_{key}")]
        errors = [0.0] * len(folds) + [summary.get(f"std_{key}", 0.0)]
        figure.add_trace(
            go.Bar(
                x=xs,
                y=values,
                name=label,
                marker_color=SPLIT_COLOURS[split],
                error_y={"type": "data", "array": errors, "visible": True, "color": MEAN_COLOUR},
                hovertemplate=f"{label}<br>%{{x}}: %{{y:.4f}}<extra></extra>",
            )
        )
    finite = [
        v
        for f in folds
        for v in (f["train_accuracy"], f["val_accuracy"], f["test_accuracy"])
        if v is not None and not math.isnan(v)
    ]
    # Accuracies sit close together near the top; start the axis just below the lowest so the gaps show.
    low = max(0.0, min(finite) - 0.05) if finite else 0.0
    figure.update_layout(
        title=title,
        barmode="group",
        height=380,
        xaxis_title="Fold",
        yaxis_title="Accuracy",
        yaxis_range=[low, 1.01],
        margin={"t": 70, "b": 40},
    )
    return readable(figure, legend_below=True)

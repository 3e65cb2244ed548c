"""Evaluation charts: confusion heatmap, one-vs-rest 2x2 matrix, ROC curves, image grids and probability bars.

Builders take plain numpy data from the engine's `Evaluation` and return plotly figures; nothing here imports
Streamlit. Rows are always the true class and columns the predicted class, as in the engine.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

# Plotly's qualitative palette has 10 colours; merged and 10-class runs both fit, more classes cycle.
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")
IMAGE_SCALE = "gray_r"  # dark ink on a light background, like a printed digit


def confusion_heatmap(
    confusion: np.ndarray, class_names: Sequence[str], normalised: bool = False, title: str = "Confusion matrix"
) -> go.Figure:
    """Annotated heatmap, true class down the side, predicted across the top.

    `confusion` holds counts; with `normalised` the colours and labels show each row's shares instead. A
    transparent marker sits on every cell because Streamlit's chart selection reports points of scatter traces
    but not heatmap clicks: choosing a cell selects its marker, and marker `true * k + predicted` sits on cell
    `[true, predicted]`.
    """
    counts = np.asarray(confusion)
    names = [str(name) for name in class_names]
    totals = counts.sum(axis=1, keepdims=True)
    shares = np.divide(counts, totals, out=np.zeros(counts.shape, dtype=float), where=totals > 0)
    values = shares if normalised else counts
    text = [[f"{v:.0%}" if normalised and v else (f"{v:,}" if not normalised else "") for v in row] for row in values]
    k = len(names)
    figure = go.Figure(
        go.Heatmap(
            z=values,
            x=names,
            y=names,
            text=text,
            texttemplate="%{text}",
            colorscale="Blues",
            zmin=0,
            zmax=1 if normalised else max(1, int(counts.max())),
            hoverinfo="skip",
            colorbar={"title": {"text": "share of row" if normalised else "images"}},
        )
    )
    true_idx, pred_idx = np.meshgrid(np.arange(k), np.arange(k), indexing="ij")
    figure.add_trace(
        go.Scatter(
            x=[names[p] for p in pred_idx.ravel()],
            y=[names[t] for t in true_idx.ravel()],
            mode="markers",
            marker={"symbol": "square", "size": max(8, 360 // max(k, 1)), "opacity": 0},
            customdata=np.stack([counts.ravel(), shares.ravel()], axis=1).tolist(),
            hovertemplate="true %{y} · predicted %{x}<br>%{customdata[0]:,} images (%{customdata[1]:.1%} of true %{y})"
            "<extra>click to see the images</extra>",
            showlegend=False,
            name="cells",
        )
    )
    figure.update_xaxes(title_text="Predicted class", side="bottom", type="category", constrain="domain")
    figure.update_yaxes(title_text="True class", autorange="reversed", type="category", scaleanchor="x")
    figure.update_layout(
        title=title,
        height=max(440, 44 * k + 160),
        margin={"t": 60, "b": 40},
        plot_bgcolor="white",
        clickmode="event+select",
        dragmode=False,
    )
    return figure


def one_vs_rest_heatmap(matrix: np.ndarray, class_name: str) -> go.Figure:
    """The 2x2 matrix `[[tp, fn], [fp, tn]]` of one class against the rest, each cell named and counted."""
    counts = np.asarray(matrix)
    labels = [["TP", "FN"], ["FP", "TN"]]
    text = [[f"{labels[r][c]}<br>{int(counts[r, c]):,}" for c in range(2)] for r in range(2)]
    axis = [f"{class_name}", f"not {class_name}"]
    # Log colours so the huge TN cell does not wash out the three interesting ones.
    figure = go.Figure(
        go.Heatmap(
            z=np.log1p(counts),
            x=axis,
            y=axis,
            text=text,
            texttemplate="%{text}",
            colorscale="Blues",
            showscale=False,
            hoverinfo="skip",
        )
    )
    figure.update_xaxes(title_text="Predicted", type="category")
    figure.update_yaxes(title_text="Actual", autorange="reversed", type="category", scaleanchor="x")
    figure.update_layout(
        title=f"Class {class_name} vs the rest", height=320, width=360, margin={"t": 50, "b": 40, "l": 40, "r": 20}
    )
    return figure


def roc_figure(per_class: Sequence, micro, macro, title: str = "ROC curves (one vs rest)") -> go.Figure:
    """One curve per class plus the micro and macro averages; legend entries carry the AUC.

    Takes the engine's `RocCurve` objects (name, fpr, tpr, auc, defined); undefined curves are listed in the
    legend as such and not drawn.
    """
    figure = go.Figure()
    for index, curve in enumerate(per_class):
        if not curve.defined:
            figure.add_trace(
                go.Scatter(
                    x=[None], y=[None], mode="lines", name=f"class {curve.name}: undefined", line={"color": "#cccccc"}
                )
            )
            continue
        figure.add_trace(
            go.Scatter(
                x=curve.fpr,
                y=curve.tpr,
                mode="lines",
                name=f"class {curve.name} (AUC {curve.auc:.4f})",
                line={"color": PALETTE[index % len(PALETTE)], "width": 1.5},
                hovertemplate=f"class {curve.name}<br>FPR %{{x:.3f}} · TPR %{{y:.3f}}<extra></extra>",
            )
        )
    for curve, dash in ((micro, "dash"), (macro, "dot")):
        if curve.defined:
            figure.add_trace(
                go.Scatter(
                    x=curve.fpr,
                    y=curve.tpr,
                    mode="lines",
                    name=f"{curve.name} (AUC {curve.auc:.4f})",
                    line={"color": "black", "dash": dash, "width": 2.5},
                )
            )
    figure.add_trace(
        go.Scatter(
            x=[0, 1],
            y=[0, 1],
            mode="lines",
            name="chance (AUC 0.5)",
            line={"color": "#999999", "dash": "dashdot", "width": 1},
            hoverinfo="skip",
        )
    )
    figure.update_xaxes(title_text="False positive rate", range=[-0.01, 1.01])
    figure.update_yaxes(title_text="True positive rate", range=[-0.01, 1.01])
    figure.update_layout(title=title, height=480, legend={"font": {"size": 11}}, margin={"t": 60})
    return figure


def image_grid(
    images: np.ndarray,
    titles: Sequence[str],
    value_max: float,
    columns: int = 10,
    title: str = "Test images",
    title_colours: Sequence[str] | None = None,
    panel_px: int | None = None,
) -> go.Figure:
    """A grid of grayscale images `(n, h, w[, 1])` with a short title above each; hover shows pixel values.

    The grid keeps `columns` slots per row even for fewer images, so three images are as small as ten and a
    page's grids line up; `panel_px` is each image's height (default: about a tenth of a wide page).
    """
    images = np.asarray(images)
    if images.ndim == 4:
        images = images[..., 0]
    n = len(images)
    columns = max(1, columns)
    rows = max(1, -(-n // columns))
    panel_px = panel_px or min(220, 1000 // columns)
    figure = make_subplots(
        rows=rows,
        cols=columns,
        subplot_titles=[str(t) for t in titles] or None,
        horizontal_spacing=0.01,
        vertical_spacing=min(0.3 / rows, 60 / (rows * (panel_px + 30))),
    )
    for index, image in enumerate(images):
        row, col = divmod(index, columns)
        figure.add_trace(
            go.Heatmap(
                z=image,
                colorscale=IMAGE_SCALE,
                zmin=0,
                zmax=value_max,
                showscale=False,
                hovertemplate="x %{x} · y %{y}: %{z}<extra></extra>",
            ),
            row=row + 1,
            col=col + 1,
        )
    figure.update_xaxes(showticklabels=False, showgrid=False, zeroline=False, showline=False, constrain="domain")
    figure.update_yaxes(
        showticklabels=False, showgrid=False, zeroline=False, showline=False, constrain="domain", autorange="reversed"
    )
    for index in range(rows * columns):
        # Square pixels in every panel (axis names are x, x2, x3...).
        suffix = "" if index == 0 else str(index + 1)
        figure.layout[f"yaxis{suffix}"].scaleanchor = f"x{suffix}"
    for index, annotation in enumerate(figure.layout.annotations):
        annotation.font = {"size": 11, "color": (title_colours[index] if title_colours else "#222222")}
    figure.update_layout(
        title=title,
        height=int(rows * (panel_px + 30) + 70),
        plot_bgcolor="white",
        margin={"t": 70, "b": 10, "l": 10, "r": 10},
    )
    return figure


def probability_bars(
    probabilities: np.ndarray,
    class_names: Sequence[str],
    true_label: int | None = None,
    title: str = "Predicted probabilities",
) -> go.Figure:
    """The model's probability for every class on one image; the true class green, the prediction red if wrong."""
    probs = np.asarray(probabilities, dtype=float)
    predicted = int(probs.argmax())
    colours = []
    for index in range(len(probs)):
        if index == true_label:
            colours.append("#2ca02c")
        elif index == predicted:
            colours.append("#d62728")
        else:
            colours.append("#9ecae1")
    figure = go.Figure(
        go.Bar(
            x=[str(name) for name in class_names],
            y=probs,
            marker_color=colours,
            text=[f"{p:.1%}" if p >= 0.01 else "" for p in probs],
            textposition="outside",
            hovertemplate="class %{x}: %{y:.4f}<extra></extra>",
        )
    )
    figure.update_xaxes(title_text="Class", type="category")
    figure.update_yaxes(title_text="Probability", range=[0, 1.1])
    figure.update_layout(title=title, height=320, margin={"t": 50, "b": 40})
    return figure

"""Evaluation charts: confusion heatmap, one-vs-rest 2x2 matrix, ROC curves, image grids and probability bars.

Builders take plain numpy data from the engine's `Evaluation` and return plotly figures; nothing here imports
Streamlit. Rows are always the true class and columns the predicted class, as in the engine.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any  # the engine's curve objects (fpr, tpr, auc, name): charts import no engine type

import numpy as np
import plotly.graph_objects as go

from charts.data import image_mosaic
from charts.layout import readable

# Plotly's qualitative palette has 10 colours; merged and 10-class runs both fit, more classes cycle.
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")


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
    return readable(figure)


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
    return readable(figure)


ROC_AXES = ("linear", "log", "zoom")  # the false-positive axis: whole range, log-scaled, or FPR <= ROC_ZOOM_FPR
ROC_ZOOM_FPR = 0.1


def roc_figure(
    per_class: Sequence, micro: Any, macro: Any, title: str = "ROC curves (one vs rest)", fpr_axis: str = "linear"
) -> go.Figure:
    """One curve per class plus the micro and macro averages; legend entries carry the AUC.

    Takes the engine's `RocCurve` objects (name, fpr, tpr, auc, defined); undefined curves are listed in the
    legend as such and not drawn. A good model's curves hug the top-left corner, so `fpr_axis` can spread the
    low false-positive rates: "log" (points at FPR 0 cannot sit on a log axis; each curve starts at its first
    false positive) or "zoom" (FPR up to `ROC_ZOOM_FPR`, the true-positive axis fitted to what is shown).
    """
    if fpr_axis not in ROC_AXES:
        raise ValueError(f"fpr_axis must be one of {ROC_AXES}, got {fpr_axis!r}")
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
    drawn = [c for c in (*per_class, micro, macro) if c.defined]
    if fpr_axis == "log":
        positive = [float(v) for c in drawn for v in np.asarray(c.fpr) if v > 0]
        low = min(positive, default=1e-3) / 2
        figure.update_xaxes(title_text="False positive rate (log scale)", type="log", range=[np.log10(low), 0.01])
        shown = [float(t) for c in drawn for f, t in zip(c.fpr, c.tpr, strict=True) if f > 0]
    elif fpr_axis == "zoom":
        figure.update_xaxes(title_text=f"False positive rate (up to {ROC_ZOOM_FPR:g})", range=[0, ROC_ZOOM_FPR])
        shown = [float(t) for c in drawn for f, t in zip(c.fpr, c.tpr, strict=True) if f <= ROC_ZOOM_FPR]
    else:
        figure.update_xaxes(title_text="False positive rate", range=[-0.01, 1.01])
        shown = [0.0]
    bottom = max(0.0, min(shown, default=0.0) - 0.02)
    figure.update_yaxes(title_text="True positive rate", range=[bottom - 0.01, 1.01])
    figure.update_layout(title=title, height=480, legend={"font": {"size": 11}}, margin={"t": 60})
    return readable(figure)


def image_grid(
    images: np.ndarray,
    titles: Sequence[str],
    value_max: float,
    columns: int = 6,
    title: str = "Test images",
    title_colours: Sequence[str] | None = None,
    panel_px: int | None = None,
    heatmaps: np.ndarray | None = None,
    heat_opacity: float = 0.6,
) -> go.Figure:
    """A grid of grayscale images `(n, h, w[, 1])` with a short title above each; hover shows the title and value.

    Drawn like every image in the dashboard (`charts.data.image_mosaic`): pixel value 0 black, no axes or ticks.
    `panel_px` caps each image's size (default: as large as `columns` images across a wide page allow).
    `heatmaps` `(n, h, w)`, when given, are drawn over the images like the Explain page's overlay, each scaled so
    its own strongest pixel is full colour (red for the explained class, blue against).
    """
    images = np.asarray(images)
    if images.ndim == 4:
        images = images[..., 0]
    captions = [str(t) for t in titles]
    figure = image_mosaic(
        list(images),
        max(1, columns),
        title,
        captions=captions,
        hover=captions,
        zmax=value_max,
        tile_px=panel_px or 180,
        caption_colours=title_colours,
    )
    if heatmaps is not None:
        from charts.explain import HEAT

        heat = np.asarray(heatmaps, dtype=np.float64)
        peaks = np.abs(heat).reshape(len(heat), -1).max(axis=1) if heat.size else np.zeros(0)
        scaled = [h / p if p > 0 else np.zeros_like(h) for h, p in zip(heat, peaks, strict=True)]
        # The same mosaic layout (same tiles, columns and captions), so each heatmap lands on its own image.
        layer = image_mosaic(
            scaled,
            max(1, columns),
            title,
            captions=captions,
            hover=captions,
            zmin=-1.0,
            zmax=1.0,
            colorscale=HEAT,
            colorbar_title="evidence (/ peak)",
        ).data[0]
        layer.opacity = heat_opacity
        figure.add_trace(layer)
    return readable(figure)


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
    return readable(figure)

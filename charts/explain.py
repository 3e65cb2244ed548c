"""Figures for the Explain page: an explanation heatmap over its image, robustness curves and the reliability
diagram. Builders take plain data from `engine.probes` (explanations, curves, reliability bins).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from charts.data import GRAY
from charts.layout import readable

# Diverging: red = evidence for the explained class, blue = against it (occlusion and integrated gradients can
# be negative); transparent white in the middle so weak evidence leaves the digit visible.
HEAT = [[0.0, "rgb(33,102,172)"], [0.5, "rgba(255,255,255,0)"], [1.0, "rgb(214,39,40)"]]


def _image_axes(figure: go.Figure, height: int) -> go.Figure:
    figure.update_xaxes(visible=False, constrain="domain")
    figure.update_yaxes(visible=False, autorange="reversed", scaleanchor="x")
    figure.update_layout(height=height, margin={"l": 10, "r": 10, "t": 50, "b": 10})
    return readable(figure)


def explanation_overlay(
    image: np.ndarray, value_max: float, heatmap: np.ndarray, opacity: float, title: str
) -> go.Figure:
    """The raw image in grey (0 black, value_max white) under the heatmap, scaled so its largest |value| is 1."""
    image = np.asarray(image, dtype=np.float64).reshape(np.shape(heatmap))
    heat = np.asarray(heatmap, dtype=np.float64)
    peak = float(np.max(np.abs(heat))) if heat.size else 0.0
    scaled = heat / peak if peak > 0 else np.zeros_like(heat)
    figure = go.Figure(
        [
            go.Heatmap(z=image, zmin=0.0, zmax=value_max, colorscale=GRAY, showscale=False, hoverinfo="skip"),
            go.Heatmap(
                z=scaled,
                zmin=-1.0,
                zmax=1.0,
                colorscale=HEAT,
                opacity=opacity,
                colorbar={"title": {"text": "evidence<br>(/ peak)"}},
                hovertemplate="row %{y}, col %{x}: %{z:.2f}<extra></extra>",
            ),
        ]
    )
    figure.update_layout(title=title)
    return _image_axes(figure, 380)


def robustness_curves(
    curves: Sequence[tuple[str, Sequence[float], Sequence[float]]], perturbation: str, unit: str
) -> go.Figure:
    """Test accuracy against severity, one line per (run label, levels, accuracy)."""
    figure = go.Figure()
    for label, levels, accuracy in curves:
        order = np.argsort(np.asarray(levels, dtype=np.float64), kind="stable")
        figure.add_trace(
            go.Scatter(
                x=[float(levels[i]) for i in order],
                y=[float(accuracy[i]) for i in order],
                mode="lines+markers",
                name=label,
                hovertemplate="level %{x:~g}: accuracy %{y:.1%}<extra></extra>",
            )
        )
    figure.update_layout(
        title=f"Test accuracy under {perturbation}",
        xaxis_title=f"severity ({unit})",
        yaxis={"title": "test accuracy", "range": [0, 1.02], "tickformat": ".0%"},
        height=400,
    )
    return readable(figure, legend_below=True)


def reliability_diagram(
    bins_before: Sequence, bins_after: Sequence | None, ece: float, ece_after: float | None
) -> go.Figure:
    """Accuracy against mean confidence per confidence bin (empty bins left out), before and after temperature
    scaling, with the diagonal of perfect calibration."""
    figure = go.Figure(
        go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="perfect calibration", line={"dash": "dot", "color": "grey"})
    )
    series = [(f"as trained (ECE {ece:.3f})", bins_before)]
    if ece_after is not None and bins_after:
        series.append((f"temperature-scaled (ECE {ece_after:.3f})", bins_after))
    for name, bins in series:
        filled = [b for b in bins if b.count > 0]
        figure.add_trace(
            go.Scatter(
                x=[b.confidence for b in filled],
                y=[b.accuracy for b in filled],
                mode="lines+markers",
                name=name,
                marker={"size": [6 + 14 * np.sqrt(b.count / max(x.count for x in filled)) for b in filled]},
                customdata=[[b.lower, b.upper, b.count] for b in filled],
                hovertemplate="confidence %{customdata[0]:.1f}–%{customdata[1]:.1f}: %{customdata[2]} images, "
                "mean confidence %{x:.3f}, accuracy %{y:.3f}<extra></extra>",
            )
        )
    figure.update_layout(
        title="Reliability diagram (marker size: images in the bin)",
        xaxis={"title": "mean top-class confidence", "range": [0, 1.02]},
        # Fixed ranges and no scale anchor: anchoring widened the x axis to -1..2 on a wide page.
        yaxis={"title": "accuracy", "range": [0, 1.02]},
        height=450,
    )
    return readable(figure, legend_below=True)

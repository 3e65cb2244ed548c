"""Figures for the Inspect page: the input image, class probabilities, activation grids and first-layer kernels.

Builders take plain arrays from `engine.inspection`; the tiling is `charts.data.image_mosaic`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from charts.data import image_mosaic
from charts.layout import readable

TRUE_COLOUR, WRONG_COLOUR, OTHER_COLOUR = "#2ca02c", "#d62728", "#9fb6cd"
PREDICTED_COLOUR = "#1f77b4"  # the top class when no true class is known (a drawing)
# An activation pixel's hover: its filter's number. The layer's name is in the figure's title, not here, where
# Plotly would read it as template syntax.
FILTER_HOVER = "filter %{customdata}"


def input_image(image: np.ndarray, value_max: float, title: str) -> go.Figure:
    """One image exactly as stored (raw values), white ink on black."""
    image = np.asarray(image, dtype=np.float64)
    return image_mosaic(
        [image.reshape(image.shape[0], image.shape[1])],
        1,
        title,
        zmax=value_max,
        colorbar_title="raw value",
        tile_px=260,
    )


def probability_bars(
    probabilities: np.ndarray, class_names: Sequence[str], true_class: int | None = None, title: str | None = None
) -> go.Figure:
    """Bars of P(class); the true class is green, a wrong prediction red (blue when the truth is unknown)."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    predicted = int(np.argmax(probabilities))
    colours = []
    for cls in range(len(probabilities)):
        if cls == true_class:
            colours.append(TRUE_COLOUR)
        elif cls == predicted:
            colours.append(WRONG_COLOUR if true_class is not None else PREDICTED_COLOUR)
        else:
            colours.append(OTHER_COLOUR)
    names = [str(n) for n in class_names]
    if title is None:
        title = f"Class probabilities: predicted {names[predicted]} ({probabilities[predicted]:.1%})"
        if true_class is not None:
            verdict = "right" if predicted == true_class else "wrong"
            title += f", true {names[true_class]} ({verdict})"
    figure = go.Figure(
        go.Bar(
            x=names,
            y=probabilities,
            marker_color=colours,
            text=[f"{p:.1%}" for p in probabilities],
            textposition="outside",
            hovertemplate="class %{x}: %{y:.4f}<extra></extra>",
        )
    )
    figure.update_layout(
        title=title,
        xaxis_title="Class",
        yaxis_title="Probability",
        xaxis={"type": "category"},
        yaxis={"range": [0, 1.12]},
        height=360,
        showlegend=False,
    )
    return readable(figure)


def activation_grid(name: str, kind: str, maps: np.ndarray, per_map: bool) -> go.Figure:
    """All filter outputs of one layer, `maps` shaped (channels, h, w), as a grid like seed 002's rows."""
    channels, h, w = maps.shape
    columns = min(channels, 16)
    # Filter numbers go in the hover (one number per pixel, not a string): drawn as captions above 32-64 tiles,
    # they were most of what made Inspect's page switch slow; a layer of up to 16 maps keeps them.
    captions = [str(i) for i in range(channels)] if h >= 4 and channels <= 16 else None
    title = f"{name} ({kind}) · {channels} maps of {h}x{w}"
    if per_map:
        return image_mosaic(
            list(maps),
            columns,
            title + " · each map scaled like seed 002",
            captions,
            zmin=0,
            zmax=255,
            tile_hover=FILTER_HOVER,
            tile_px=max(26, min(80, 1100 // columns)),
        )
    top = float(np.nanmax(maps)) if maps.size else 1.0
    low = float(np.nanmin(maps)) if maps.size else 0.0
    return image_mosaic(
        list(maps),
        columns,
        title + " · raw activations",
        captions,
        tile_hover=FILTER_HOVER,
        zmin=min(0.0, low),
        zmax=top if top > low else low + 1,
        colorscale="Viridis",
        colorbar_title="activation",
        tile_px=max(26, min(80, 1100 // columns)),
    )


def kernel_grid(kernels: np.ndarray, title: str = "First-layer kernels") -> go.Figure:
    """Each filter's k x k weights on one diverging scale centred at 0 (blue negative, red positive)."""
    filters, k, _ = kernels.shape
    limit = float(np.abs(kernels).max()) or 1.0
    columns = min(filters, 16)
    return image_mosaic(
        list(kernels),
        columns,
        f"{title}: {filters} filters of {k}x{k}",
        [str(i) for i in range(filters)],
        [f"filter {i}" for i in range(filters)],
        zmin=-limit,
        zmax=limit,
        colorscale="RdBu_r",
        colorbar_title="weight",
        tile_px=max(30, min(70, 1100 // columns)),
    )

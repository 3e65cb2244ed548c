"""The training-dynamics data map (Swayamdipta et al. 2020): training images placed by variability (x) and
confidence (y) over the epochs, coloured by correctness, one trace per region so a legend click hides one. The
builder takes plain arrays (from `engine.probes.dynamics.TrainingDynamics`); class names arrive chart-safe."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from charts.layout import readable

REGION_SYMBOLS = {"easy-to-learn": "circle", "ambiguous": "diamond", "hard-to-learn": "square", "in between": "cross"}


def data_map_chart(
    indices: np.ndarray,
    variability: np.ndarray,
    confidence: np.ndarray,
    correctness: np.ndarray,
    regions: np.ndarray,
    labels: np.ndarray,
    class_names: Sequence[str],
    title: str,
) -> go.Figure:
    """A scatter of the examples at `indices` (the arrays are per drawn example, in that order); each point's
    customdata starts with its training-row index, which a click selection hands back to the page."""
    figure = go.Figure()
    names = list(class_names)
    for region, symbol in REGION_SYMBOLS.items():
        where = np.flatnonzero(np.asarray(regions) == region)
        if not len(where):
            continue
        figure.add_trace(
            go.Scattergl(
                x=np.asarray(variability)[where],
                y=np.asarray(confidence)[where],
                mode="markers",
                name=f"{region} ({len(where):,})",
                marker={
                    "symbol": symbol,
                    "size": 6,
                    "color": np.asarray(correctness)[where],
                    "cmin": 0,
                    "cmax": 1,
                    "colorscale": "RdBu",
                    "colorbar": {"title": {"text": "correctness"}},
                    "showscale": True,
                    "opacity": 0.75,
                },
                customdata=np.stack([np.asarray(indices)[where], np.asarray(correctness)[where]], axis=1).tolist(),
                text=[names[int(label)] for label in np.asarray(labels)[where]],
                hovertemplate="training image #%{customdata[0]} · label %{text}<br>confidence %{y:.3f} · "
                "variability %{x:.3f} · correct in %{customdata[1]:.0%} of epochs<extra>" + region + "</extra>",
            )
        )
    figure.update_xaxes(title_text="variability (std of the gold label's probability over epochs)", rangemode="tozero")
    figure.update_yaxes(title_text="confidence (mean probability of the gold label)", range=[-0.02, 1.02])
    figure.update_layout(title=title, height=520, legend={"orientation": "h"})
    return readable(figure, legend_below=True)

"""The embedding map's figure: a 2-D scatter of test images coloured by true class, mistakes drawn as a
black-outlined x, hover naming the image, its true and predicted class. The builder takes plain arrays (from
`engine.probes.embedding_map.EmbeddingMap`); class names arrive already made chart-safe by the page.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from charts.data import CLASS_COLOURS
from charts.layout import readable

RIGHT_SYMBOL, WRONG_SYMBOL = "circle", "x"


def embedding_map_chart(
    coords: np.ndarray,
    indices: np.ndarray,
    true_labels: np.ndarray,
    predicted_labels: np.ndarray,
    class_names: Sequence[str],
    method: str,
    explained: tuple[float, float] | None,
    title: str,
) -> go.Figure:
    """One trace per true class (click the legend to hide one); each point's customdata starts with its test index,
    which is what a click selection hands back to the page."""
    coords = np.asarray(coords, dtype=np.float64)
    predicted_names = [str(class_names[p]) if 0 <= p < len(class_names) else str(p) for p in predicted_labels]
    figure = go.Figure()
    for cls, name in enumerate(class_names):
        members = np.flatnonzero(true_labels == cls)
        wrong = predicted_labels[members] != cls
        # Right and wrong answers in two traces of one legend group: the legend shows the class's circle, and
        # clicking it hides both.
        for points, is_wrong in ((members[~wrong], False), (members[wrong], True)):
            if len(points) == 0:
                continue
            figure.add_trace(
                go.Scatter(
                    x=coords[points, 0],
                    y=coords[points, 1],
                    mode="markers",
                    name=str(name),
                    legendgroup=str(cls),
                    showlegend=not is_wrong or not np.any(~wrong),
                    marker={
                        "color": CLASS_COLOURS[cls % len(CLASS_COLOURS)],
                        "symbol": WRONG_SYMBOL if is_wrong else RIGHT_SYMBOL,
                        "size": 11 if is_wrong else 6,
                        "opacity": 0.85,
                        "line": {"color": "black", "width": 1.5 if is_wrong else 0},
                    },
                    customdata=[[int(indices[i]), predicted_names[i], ("right", "wrong")[is_wrong]] for i in points],
                    hovertemplate=f"test image #%{{customdata[0]}}<br>true {name}, predicted %{{customdata[1]}} "
                    "(%{customdata[2]})<extra></extra>",
                )
            )
    if method == "pca":
        x_title = "PC 1" + (f" ({explained[0]:.1%} of variance)" if explained else "")
        y_title = "PC 2" + (f" ({explained[1]:.1%} of variance)" if explained else "")
    else:
        x_title, y_title = "t-SNE 1", "t-SNE 2"
    # A legend entry for the mistake marker itself, so the x needs no caption to be read.
    figure.add_trace(
        go.Scatter(
            x=[None],
            y=[None],
            mode="markers",
            name="mistake (x)",
            marker={"symbol": WRONG_SYMBOL, "size": 11, "color": "white", "line": {"color": "black", "width": 1.5}},
            hoverinfo="skip",
        )
    )
    figure.update_layout(
        title=title,
        xaxis_title=x_title,
        yaxis_title=y_title,
        height=480,
        legend_title="True class",
        clickmode="event+select",
        margin={"l": 10, "r": 10, "t": 50, "b": 10},
    )
    return readable(figure)

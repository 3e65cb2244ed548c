"""Figures for the Explain page's Adversarial tab: test accuracy against the attack's strength eps. Builders take
plain numbers (the engine's adversarial result fields), never the engine itself."""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go

from charts.layout import readable


def adversarial_curve(
    epsilons: Sequence[float], accuracy: Sequence[float], raw_accuracy: Sequence[float], method: str, n_images: int
) -> go.Figure:
    """Accuracy (an image fooled at any smaller eps stays wrong) and raw accuracy (each eps on its own) against eps.

    The raw line is drawn only where it differs from the other, dotted: on most runs the two coincide."""
    name = method.upper()
    figure = go.Figure(
        go.Scatter(
            x=[float(e) for e in epsilons],
            y=[float(a) for a in accuracy],
            mode="lines+markers",
            name=f"{name}: fooled at any eps up to this one",
            hovertemplate="eps %{x:~g}: accuracy %{y:.1%}<extra></extra>",
        )
    )
    if any(abs(float(r) - float(a)) > 1e-12 for r, a in zip(raw_accuracy, accuracy, strict=True)):
        figure.add_trace(
            go.Scatter(
                x=[float(e) for e in epsilons],
                y=[float(r) for r in raw_accuracy],
                mode="lines+markers",
                line={"dash": "dot"},
                name=f"{name}: this eps alone",
                hovertemplate="eps %{x:~g}: raw accuracy %{y:.1%}<extra></extra>",
            )
        )
    figure.update_layout(
        title=f"Test accuracy under {name} ({n_images:,} images)",
        xaxis_title="eps (largest change of any pixel, on the 0..1 input scale)",
        yaxis={"title": "test accuracy", "range": [0, 1.02], "tickformat": ".0%"},
        height=400,
    )
    return readable(figure, legend_below=True)

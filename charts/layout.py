"""Room for a figure's title and legend, shared by the chart builders.

Plotly draws its toolbar (the modebar: zoom, pan, download) over the top right of every figure, in the dashboard
and in the HTML report alike; a title in that band was hidden under it on a narrow column. A horizontal legend at
a negative paper `y` sat on the x-axis title ("Epoch") once the tick labels took their room. `readable` pins the
title below the toolbar's band and puts a legend under the axis title, in the figure's margins, and grows the
figure's height by what the margins gain so the plot itself keeps its size.
"""

from __future__ import annotations

import math

import plotly.graph_objects as go

TOOLBAR_PX = 32  # the modebar's band: 22 px buttons, a 2 px offset and their padding
TITLE_LINE_PX = 28  # one title line at Plotly's 17 px title font, with its leading
SUBPLOT_TITLE_PX = 24  # subplot titles sit in the top margin, just above their panels
GAP_PX = 8
X_AXIS_PX = 64  # tick labels plus an x-axis title under the plot
LEGEND_ROW_PX = 24  # one row of a horizontal legend
LEGEND_ENTRIES_PER_ROW = 3  # what a half-page column fits of labels such as "validation accuracy"
PLOTLY_DEFAULT_MARGIN = {"t": 100, "b": 80}


def legend_entries(figure: go.Figure) -> int:
    """How many entries the figure's legend shows: named traces not hidden from it."""
    return sum(1 for trace in figure.data if trace.name and trace.showlegend is not False)


def readable(figure: go.Figure, *, legend_below: bool = False, subplot_titles: bool = False) -> go.Figure:
    """`figure` with its title clear of the toolbar and, with `legend_below`, its legend under the x-axis title.

    `subplot_titles`: the figure's panels have titles of their own, which need room between the title and the
    plot. Returns the same figure.
    """
    margin = figure.layout.margin
    old_top = margin.t if margin.t is not None else PLOTLY_DEFAULT_MARGIN["t"]
    old_bottom = margin.b if margin.b is not None else PLOTLY_DEFAULT_MARGIN["b"]
    top, bottom = old_top, old_bottom
    if figure.layout.title.text:
        # Measured from the figure's top edge (the container), not the plot, so the toolbar's band stays clear
        # whatever the plot's size.
        figure.update_layout(title={"yref": "container", "y": 1.0, "yanchor": "top", "pad": {"t": TOOLBAR_PX}})
        top = max(top, TOOLBAR_PX + TITLE_LINE_PX + (SUBPLOT_TITLE_PX if subplot_titles else 0) + GAP_PX)
    if legend_below:
        rows = max(1, math.ceil(legend_entries(figure) / LEGEND_ENTRIES_PER_ROW))
        figure.update_layout(
            legend={"orientation": "h", "yref": "container", "y": 0, "yanchor": "bottom", "x": 0, "xanchor": "left"}
        )
        bottom = max(bottom, X_AXIS_PX + rows * LEGEND_ROW_PX)
    figure.update_layout(margin={"t": top, "b": bottom})
    if figure.layout.height is not None:
        figure.update_layout(height=figure.layout.height + (top - old_top) + (bottom - old_bottom))
    return figure

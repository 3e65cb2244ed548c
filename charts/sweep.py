"""Sweep charts: parallel coordinates of the trials coloured by the metric, and Optuna's parameter importance.

Builders take the plain rows of `engine.sweeps.SweepResult.to_dict()["trials"]` (or an importance dict) and return
plotly figures; they never compute metrics.
"""

from __future__ import annotations

import math
from collections.abc import Set as AbstractSet

import plotly.graph_objects as go

from charts.layout import readable


def _dimension(name: str, values: list, log: bool, categorical: bool = False) -> dict:
    """One axis: numbers as they are (log10 for log ranges, labelled with the real values), text or true/false as
    evenly spaced categories."""
    if not categorical and all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        if log and all(v > 0 for v in values):
            ticks = sorted(set(values))
            return {
                "label": f"{name} (log)",
                "values": [math.log10(v) for v in values],
                "tickvals": [math.log10(v) for v in ticks],
                "ticktext": [f"{v:.3g}" for v in ticks],
            }
        return {"label": name, "values": values}
    categories = list(dict.fromkeys(str(v) for v in values))
    return {
        "label": name,
        "values": [categories.index(str(v)) for v in values],
        "tickvals": list(range(len(categories))),
        "ticktext": categories,
    }


def parallel_coordinates(
    trials: list[dict],
    metric: str,
    log_params: AbstractSet[str] = frozenset(),
    choice_params: AbstractSet[str] = frozenset(),
) -> go.Figure:
    """One line per complete trial across every varied setting, ending on the metric axis; colour is the metric.
    Choice settings are categories (evenly spaced, in the order first seen), even when their values are numbers."""
    done = [t for t in trials if t["state"] == "complete" and t.get(metric) is not None]
    figure = go.Figure()
    if not done:
        figure.update_layout(title="No complete trials yet")
        return readable(figure)
    names = list(done[0]["params"])
    dimensions = [
        _dimension(name, [t["params"][name] for t in done], name in log_params, name in choice_params) for name in names
    ]
    scores = [t[metric] for t in done]
    dimensions.append({"label": metric, "values": scores})
    figure.add_trace(
        go.Parcoords(
            line={"color": scores, "colorscale": "Viridis", "showscale": True, "colorbar": {"title": metric}},
            dimensions=dimensions,
        )
    )
    figure.update_layout(
        title=f"{len(done)} complete trials: each line one trial, coloured by {metric}",
        height=420,
        margin={"l": 90, "r": 90, "t": 90},  # room for the outer axes' labels
    )
    return readable(figure)


def importance_bars(importance: dict[str, float]) -> go.Figure:
    """Optuna's importance per setting, largest on top."""
    ordered = sorted(importance.items(), key=lambda item: item[1])
    figure = go.Figure(go.Bar(x=[v for _, v in ordered], y=[k for k, _ in ordered], orientation="h"))
    figure.update_layout(
        title="Parameter importance (Optuna, fANOVA): share of the metric's variance",
        xaxis_title="importance",
        height=160 + 40 * len(ordered),
        yaxis={"automargin": True},
    )
    return readable(figure)

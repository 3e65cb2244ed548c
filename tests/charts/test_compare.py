"""Compare's accuracy-versus-parameters scatter (`charts.compare`): runs of one size drawn apart, hovers true."""

import pandas as pd
import pytest

from charts.compare import accuracy_vs_parameters


def test_accuracy_scatter_separates_runs_of_one_size():
    points = pd.DataFrame(
        {
            "run_id": ["aaaaaa1", "bbbbbb2", "cccccc3"],
            "label": ["a", "b", "c"],
            "parameters": [13706, 13706, 102794],
            "test_accuracy": [0.9722, 0.9716, 0.95],
            "train_seconds": [6.0, 7.0, 9.0],
            "dataset": ["digits"] * 3,
        }
    )
    chart = accuracy_vs_parameters(points)
    trace = chart.data[0]
    xs = list(trace.x)
    assert xs[0] != xs[1] and abs(xs[0] / xs[1] - 1) < 0.2  # side by side, still near their size
    assert xs[2] == pytest.approx(102794)  # alone at its size: not moved
    assert [row[2] for row in trace.customdata] == [13706, 13706, 102794]  # the hover keeps the true size
    assert list(trace.text) == ["aaaaaa", "bbbbbb", "cccccc"]
    assert chart.layout.xaxis.tickfont.size >= 13 and chart.layout.yaxis.tickfont.size >= 13
    assert all("," in label or len(label) <= 3 for label in chart.layout.xaxis.ticktext)  # "20,000", not "2"

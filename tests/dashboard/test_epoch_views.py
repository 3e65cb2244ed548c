"""Evaluate's confusion matrix over time: the epoch slider draws the stored epoch's matrix (scikit-learn on the stored
per-epoch predictions as the oracle), the link carries the epoch both ways and refuses one the run does not have."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.metrics import confusion_matrix

from tests.dashboard.conftest import literal, open_page

EVALUATE = "views/evaluate.py"

pytestmark = pytest.mark.slow


def drawn_matrix(app) -> tuple[str, np.ndarray]:
    """(title, counts) of the confusion heatmap, its counts read from the cell labels."""
    for chart in app.get("plotly_chart"):
        spec = json.loads(chart.proto.spec)
        title = spec["layout"].get("title", {}).get("text", "")
        if title.startswith("Confusion matrix"):
            text = spec["data"][0]["text"]
            return title, np.array([[int(cell.replace(",", "")) for cell in row] for row in text])
    raise AssertionError("no confusion matrix drawn")


def stored(run_id: str):
    from engine.store import RunStore

    run = RunStore().get(run_id)
    return run, np.load(run.path / "epoch_predictions.npy")


def param(app, name: str):
    value = app.query_params.get(name)
    return value[0] if isinstance(value, list) else value


def test_the_slider_shows_each_epochs_matrix_and_the_link_carries_it(with_trained_run):
    run, predictions = stored(with_trained_run)
    labels = run.test_labels()
    app = open_page(EVALUATE, {"run": with_trained_run, "tab": "Confusion matrix", "epoch": "1"})
    assert not app.exception and not app.warning
    assert app.slider(key="eval_epoch").value == 1
    title, counts = drawn_matrix(app)
    assert "after epoch 1 of 2" in title
    np.testing.assert_array_equal(counts, confusion_matrix(labels, predictions[0], labels=range(10)))
    assert param(app, "epoch") == "1"  # written back: the address bar reopens this epoch

    app.slider(key="eval_epoch").set_value(2).run()
    assert not app.exception
    title, counts = drawn_matrix(app)
    assert "after epoch" not in title  # the stored model's own matrix
    final = confusion_matrix(labels, run.test_probabilities().argmax(axis=1), labels=range(10))
    np.testing.assert_array_equal(counts, final)
    assert param(app, "epoch") == "2"


@pytest.mark.parametrize(
    "value, reason", [("3", "this run has 2 epochs"), ("0", "from 1 to"), ("two", "not a whole number")]
)
def test_a_bad_epoch_in_the_link_is_a_notice(with_trained_run, value, reason):
    app = open_page(EVALUATE, {"run": with_trained_run, "tab": "Confusion matrix", "epoch": value})
    assert not app.exception
    text = " ".join(literal(w.value) for w in app.warning)
    assert f"The link's epoch = {value} was not used" in text and reason in text
    assert app.slider(key="eval_epoch").value == 2  # the stored model's epoch

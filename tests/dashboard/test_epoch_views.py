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


def test_the_training_dynamics_tab_draws_the_stored_map(with_trained_run):
    run, _ = stored(with_trained_run)
    gold = np.load(run.path / "train_dynamics.npy").astype(np.float64)
    app = open_page(EVALUATE, {"run": with_trained_run, "tab": "Training dynamics"})
    assert not app.exception and not app.error
    counts = next(frame.value for frame in app.dataframe if "region" in frame.value.columns)
    assert int(counts["training images"].sum()) == gold.shape[1]
    charts = {
        json.loads(c.proto.spec)["layout"]["title"]["text"]: json.loads(c.proto.spec) for c in app.get("plotly_chart")
    }
    data_map = next(spec for title, spec in charts.items() if title.startswith("Data map"))
    confidence = np.concatenate([trace["y"] if isinstance(trace["y"], list) else _decode(trace["y"])
                                 for trace in data_map["data"]])  # fmt: skip
    np.testing.assert_allclose(np.sort(confidence), np.sort(gold.mean(axis=0)), atol=1e-9)  # numpy as the oracle
    assert any(title.startswith("The 24 least confident training images") for title in charts)


def _decode(packed) -> np.ndarray:
    """A plotly array sent packed as {"dtype", "bdata"}."""
    import base64

    return np.frombuffer(base64.b64decode(packed["bdata"]), dtype=np.dtype(packed["dtype"])).astype(np.float64)


def test_a_run_without_dynamics_says_so_on_the_tab_and_on_train(empty_cache):
    from engine.architectures import DEFAULT_PRESET
    from engine.datasets import load_dataset
    from engine.runs import get_or_train, preset_request

    digits = load_dataset("digits")
    spec, config = preset_request(DEFAULT_PRESET, digits, epochs=1)  # what the sidebar asks for with 1 epoch
    run = get_or_train(digits, spec, config, preset=DEFAULT_PRESET, record_dynamics=False).run
    app = open_page(EVALUATE, {"run": run.run_id, "tab": "Training dynamics"})
    assert not app.exception
    assert "trained without recording its training dynamics" in " ".join(literal(i.value) for i in app.info)
    # Train: the checkbox is on by default for digits (under 10,000 images), and says the stored run lacks them.
    app.switch_page("views/train.py")
    app.number_input(key="cfg_epochs").set_value(1).run()
    assert not app.exception
    assert app.checkbox(key="train_record_dynamics").value is True
    assert "trained without training dynamics" in " ".join(c.value for c in app.caption)


def test_the_train_checkbox_decides_what_is_recorded(empty_cache):
    from engine.runs import has_dynamics
    from engine.store import RunStore

    app = open_page("views/train.py")
    app.number_input(key="cfg_epochs").set_value(1).run()
    app.checkbox(key="train_record_dynamics").uncheck().run()
    app.button(key="train_button").click().run()
    assert not app.exception
    (run,) = RunStore().list()
    assert not has_dynamics(run) and "epoch_predictions.npy" in run.files()


@pytest.fixture
def empty_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("DIGIT_LAB_CACHE", str(tmp_path))
    return tmp_path

"""The train step is traced once per run: the optimizer's slots and the compiled loss and metric trackers exist
before `fit` (`build_training_state`), so TensorFlow does not trace the step a second time, and a run's numbers
are exactly those of Keras building them inside the step."""

from dataclasses import replace

import numpy as np
import pytest
from keras.src.backend.tensorflow.trainer import TensorFlowTrainer

import engine.training.fit as fit
from engine.architectures import DEFAULT_PRESET
from engine.datasets import load_dataset
from engine.runs import preset_request


@pytest.fixture
def traces(monkeypatch):
    """How many times Keras' train step is traced (its Python body runs only while a graph is traced)."""
    counted = []
    original = TensorFlowTrainer.train_step

    def counting(self, data):
        counted.append(1)
        return original(self, data)

    monkeypatch.setattr(TensorFlowTrainer, "train_step", counting)
    return counted


def _without_clock(epochs: list[dict]) -> list[dict]:
    return [{key: value for key, value in epoch.items() if key != "seconds"} for epoch in epochs]


@pytest.mark.parametrize(
    "name, loss",
    [
        (DEFAULT_PRESET, None),  # one-cycle schedule, dropout
        ("seed002-uci8x8", None),  # constant rate, three dropout blocks
        (DEFAULT_PRESET, "sparse_categorical_crossentropy"),  # class-index targets
    ],
)
def test_one_trace_and_the_same_numbers_as_building_inside_the_step(traces, monkeypatch, name, loss):
    digits = load_dataset("digits")
    spec, config = preset_request(name, digits, epochs=2, limit_train=400)
    if loss:
        spec = replace(spec, loss=loss)
    built_first = fit.train(digits, spec, config)
    assert len(traces) == 1

    traces.clear()
    monkeypatch.setattr(fit, "build_training_state", lambda model, spec: None)  # Keras' own deferred build
    deferred = fit.train(digits, spec, config)
    assert len(traces) == 2  # what the engine avoids: the variable-creating first trace, then the real one

    assert _without_clock(built_first.history["epochs"]) == _without_clock(deferred.history["epochs"])
    assert built_first.history["initial"] == deferred.history["initial"]
    np.testing.assert_array_equal(built_first.test_probabilities, deferred.test_probabilities)

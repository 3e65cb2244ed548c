"""The default preset on the bundled digits: the accuracy its description promises, and the scores of a run
equal Keras' own `evaluate`/`predict` on the stored model (the engine scores through one traced function)."""

import numpy as np
import pytest

from engine.architectures import DEFAULT_PRESET
from engine.datasets import load_dataset
from engine.runs import preset_request
from engine.training.data import prepare_data
from engine.training.fit import train
from engine.training.pipeline import targets


@pytest.fixture(scope="module")
def trained():
    digits = load_dataset("digits")
    spec, config = preset_request(DEFAULT_PRESET, digits)
    return digits, spec, config, train(digits, spec, config)


def test_the_default_preset_reaches_97_percent_on_the_digits(trained):
    _digits, _spec, config, result = trained
    accuracy = float(np.mean(result.test_probabilities.argmax(axis=1) == result.test_labels))
    assert DEFAULT_PRESET == "digitlab-small8-v2" and config.epochs == 8
    assert accuracy >= 0.97, f"{DEFAULT_PRESET} scored {accuracy:.4f} on the digits test set"


def test_stored_scores_equal_keras_evaluate_and_predict(trained):
    digits, spec, config, result = trained
    data = prepare_data(digits, config)
    model = result.model
    val_loss, val_accuracy = model.evaluate(data.x_val, targets(spec, data.y_val), batch_size=512, verbose=0)
    final = result.history["final_validation"]
    assert final["val_loss"] == pytest.approx(val_loss, rel=1e-4)
    assert final["val_accuracy"] == pytest.approx(val_accuracy, abs=1e-6)
    # The last epoch's validation score is the same model's (no early stopping here).
    assert result.history["epochs"][-1]["val_loss"] == pytest.approx(val_loss, rel=1e-4)
    train_loss, train_accuracy = model.evaluate(data.x_train, targets(spec, data.y_train), batch_size=512, verbose=0)
    assert result.history["final_train"]["train_loss_inference"] == pytest.approx(train_loss, rel=1e-4)
    assert result.history["final_train"]["train_accuracy_inference"] == pytest.approx(train_accuracy, abs=1e-6)
    np.testing.assert_allclose(result.test_probabilities, model.predict(data.x_test, verbose=0), atol=1e-5)

"""Training dynamics of a tiny digits run: stored shape and range, the last epoch's gold probabilities against the
stored model's own predictions on the training rows, the map against numpy, the opt-in rule kept out of the run key,
damaged files refused, and the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest

from engine.architectures import ConvBlock, DenseLayer, ModelSpec
from engine.cli import main
from engine.datasets import load_dataset, normalised
from engine.errors import NotRecorded, StoreError
from engine.limits import dynamics_map_points
from engine.probes.dynamics import DYNAMICS, HARDEST_SHOWN, TRAIN_PREDICTIONS, training_dynamics
from engine.probes.run_data import run_data
from engine.runs import get_or_train, has_dynamics, run_id_for
from engine.store import RunStore
from engine.training.config import TrainConfig
from engine.training.fit import DYNAMICS_DEFAULT_MAX_TRAIN, records_dynamics
from tests.store.planted import copied_run

from .conftest import CONFIG


def test_the_stored_dynamics_are_the_final_models_gold_probabilities(digits_run):
    assert digits_run.history().get("restored_epoch") is None  # no early stopping: the last epoch is the model
    gold = np.load(digits_run.file(DYNAMICS))
    predicted = np.load(digits_run.file(TRAIN_PREDICTIONS))
    rebuilt = run_data(digits_run).data
    n_train = len(rebuilt.y_train)
    assert gold.dtype == np.float16 and gold.shape == (CONFIG.epochs, n_train) == predicted.shape
    assert n_train == digits_run.meta["dataset"]["n_train"]
    assert np.isfinite(gold).all() and gold.min() >= 0 and gold.max() <= 1
    # Oracle: the stored model (the final weights) scoring the training rows with Keras' own predict.
    probabilities = digits_run.load_model().predict(rebuilt.x_train, verbose=0)
    expected = probabilities[np.arange(n_train), rebuilt.y_train]
    np.testing.assert_allclose(gold[-1].astype(np.float64), expected, atol=1e-3)  # float16: 11 significant bits
    np.testing.assert_array_equal(predicted[-1], probabilities.argmax(axis=1))


def test_the_map_is_numpys_over_the_stored_arrays(digits_run):
    found = training_dynamics(digits_run)
    gold = np.load(digits_run.file(DYNAMICS)).astype(np.float64)
    right = np.load(digits_run.file(TRAIN_PREDICTIONS)) == found.labels[None, :]
    np.testing.assert_allclose(found.map.confidence, gold.mean(axis=0))
    np.testing.assert_allclose(found.map.variability, gold.std(axis=0))
    np.testing.assert_allclose(found.map.correctness, right.mean(axis=0))
    assert sum(found.map.counts().values()) == found.n_train
    assert found.hardest.tolist() == np.argsort(gold.mean(axis=0), kind="stable")[:HARDEST_SHOWN].tolist()
    assert found.hardest_images.shape[0] == HARDEST_SHOWN
    sample = found.map_sample(100)
    assert len(sample) == len(set(sample.tolist())) == 100 and set(found.hardest) <= set(sample.tolist())


def test_the_hosted_map_is_capped(monkeypatch):
    assert dynamics_map_points() >= 60_000
    monkeypatch.setenv("DIGIT_LAB_HOSTED", "1")
    assert dynamics_map_points() == 5_000


def test_on_by_default_up_to_ten_thousand_training_images():
    assert DYNAMICS_DEFAULT_MAX_TRAIN == 10_000
    assert records_dynamics(None, 10_000) and not records_dynamics(None, 10_001)
    assert records_dynamics(True, 60_000) and not records_dynamics(False, 100)


def test_recording_is_not_part_of_the_run_key(tmp_path):
    digits = load_dataset("digits")
    spec = ModelSpec(conv_blocks=(ConvBlock(8, padding="same"),), dense_layers=(DenseLayer(16),), input_shape=(8, 8, 1))
    config = TrainConfig(epochs=1, batch_size=128, seed=5)
    store = RunStore(tmp_path / "runs")
    first = get_or_train(digits, spec, config, store=store, record_dynamics=False)
    assert not first.cached and not has_dynamics(first.run) and first.notes == ()
    assert first.run.run_id == run_id_for(digits, spec, config)
    with pytest.raises(NotRecorded, match="without recording its training dynamics"):
        training_dynamics(first.run)
    again = get_or_train(digits, spec, config, store=store, record_dynamics=True)
    assert again.cached and again.run.run_id == first.run.run_id  # toggling never retrains
    assert len(again.notes) == 1 and "already stored without training dynamics" in again.notes[0]


@pytest.mark.parametrize(
    "name, damage, match",
    [
        (DYNAMICS, lambda a: a + np.float16(1.5), "not probabilities"),
        (DYNAMICS, lambda a: a - np.float16(1.5), "not probabilities"),
        (DYNAMICS, lambda a: np.where(a > 0.2, np.float16(np.nan), a), "not probabilities"),
        (DYNAMICS, lambda a: a[:, :-1], "shape"),
        (TRAIN_PREDICTIONS, lambda a: a.astype(np.int16), "not class numbers"),
        (TRAIN_PREDICTIONS, lambda a: (a + 10).astype(np.uint8), "not class numbers"),
        (TRAIN_PREDICTIONS, lambda a: a[:-1], "shape"),
    ],
)
def test_a_damaged_file_is_refused(digits_run, tmp_path, name, damage, match):
    copy = copied_run(digits_run, tmp_path)
    np.save(copy.path / name, damage(np.load(copy.path / name)))
    with pytest.raises(StoreError, match=match):
        training_dynamics(copy)


def test_dynamics_cli(digits_run, probe_cache, capsys):
    assert main(["dynamics", digits_run.run_id, "--json"]) == 0
    found = json.loads(capsys.readouterr().out)
    gold = np.load(digits_run.file(DYNAMICS)).astype(np.float64)
    assert found["epochs"] == CONFIG.epochs and found["n_train"] == gold.shape[1] == len(found["examples"])
    assert sum(found["counts"].values()) == found["n_train"]
    confidence = np.array([example["confidence"] for example in found["examples"]])
    np.testing.assert_allclose(confidence, gold.mean(axis=0))
    assert [example["index"] for example in found["examples"]] == list(range(found["n_train"]))
    assert {example["region"] for example in found["examples"]} <= set(found["regions"])
    assert main(["dynamics", digits_run.run_id]) == 0
    assert "hardest to learn" in capsys.readouterr().out


def test_train_cli_says_when_the_stored_run_lacks_the_dynamics_asked_for(isolated_cache, capsys):
    request = ["train", "--dataset", "digits", "--epochs", "1", "--limit-train", "300", "--json"]
    assert main([*request, "--no-record-dynamics"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["training_dynamics"] is False and first["notes"] == []
    assert main([*request, "--record-dynamics"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["run_id"] == first["run_id"] and again["cached"] is True
    assert again["training_dynamics"] is False and "Delete the run" in again["notes"][0]


def test_the_hardest_rows_are_the_hardest_images_in_the_datasets_own_training_part(digits_run):
    """What lets the Training dynamics tab match its hardest images with the label-issue search's rows."""
    found = training_dynamics(digits_run)
    digits = load_dataset("digits")
    assert len(found.hardest_rows) == len(found.hardest) and len(set(found.hardest_rows.tolist())) == len(found.hardest)
    np.testing.assert_array_equal(
        found.hardest_images, normalised(digits.x_train[found.hardest_rows], digits.value_max)
    )
    np.testing.assert_array_equal(found.labels, digits.y_train[found.source_rows])  # every row, not only those

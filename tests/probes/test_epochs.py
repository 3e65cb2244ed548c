"""Confusion matrices over time: each epoch's stored test predictions, checked against scikit-learn on the stored
final probabilities, with and without early stopping's restored weights; damaged files refused; the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.metrics import confusion_matrix

from engine.architectures import ConvBlock, DenseLayer, ModelSpec
from engine.cli import main
from engine.datasets import load_dataset
from engine.errors import InvalidConfig, NotRecorded, StoreError
from engine.probes.epochs import EPOCH_PREDICTIONS, check_epoch_number, epoch_confusion, stored_epoch_predictions
from engine.runs import get_or_train
from engine.store import RunStore, StoredRun
from engine.training.config import TrainConfig
from tests.store.planted import copied_run

from .conftest import CONFIG

# A run that early stopping ends with the best epoch's weights set back: its validation loss rises once after
# epoch 5 (seed 1, patience 1, learning rate 0.03; the test asserts the restore happened, so a change shows).
RESTORING_SPEC = ModelSpec(
    conv_blocks=(ConvBlock(16, padding="same"),),
    dense_layers=(DenseLayer(32),),
    input_shape=(8, 8, 1),
    learning_rate=0.03,
)
RESTORING_CONFIG = TrainConfig(epochs=15, batch_size=64, seed=1, early_stopping_patience=1)


def sklearn_final_matrix(run: StoredRun) -> np.ndarray:
    k = len(run.meta["class_names"])
    return confusion_matrix(run.test_labels(), run.test_probabilities().argmax(axis=1), labels=range(k))


@pytest.fixture(scope="module")
def restoring_run(trained_cache):
    return get_or_train(
        load_dataset("digits"), RESTORING_SPEC, RESTORING_CONFIG, store=RunStore(trained_cache / "runs")
    ).run


def test_every_epoch_is_stored_and_the_last_is_the_final_matrix(digits_run):
    predictions = stored_epoch_predictions(digits_run)
    assert predictions.shape == (CONFIG.epochs, len(digits_run.test_labels()))
    assert np.load(digits_run.file(EPOCH_PREDICTIONS)).dtype == np.uint8  # a byte per image and epoch
    assert digits_run.history().get("restored_epoch") is None  # no early stopping: the last epoch is the model's
    last = epoch_confusion(digits_run)
    assert last.epoch == last.final_epoch == CONFIG.epochs and last.is_final
    np.testing.assert_array_equal(last.matrix, sklearn_final_matrix(digits_run))
    # An earlier epoch's matrix is its own row's, by scikit-learn too.
    first = epoch_confusion(digits_run, 1)
    np.testing.assert_array_equal(
        first.matrix, confusion_matrix(digits_run.test_labels(), predictions[0], labels=range(10))
    )
    assert first.accuracy == pytest.approx(np.mean(predictions[0] == digits_run.test_labels()))
    assert not first.is_final
    truth, guess = 3, 8
    expected = np.flatnonzero((digits_run.test_labels() == truth) & (predictions[0] == guess))
    np.testing.assert_array_equal(first.cell_indices(truth, guess), expected)


def test_restored_weights_make_that_epoch_the_final_matrix(restoring_run):
    history = restoring_run.history()
    epochs = len(history["epochs"])
    restored = history["restored_epoch"]
    assert restored is not None and restored < epochs  # the fixture's premise: an earlier epoch's weights were kept
    best = min(range(epochs), key=lambda i: history["epochs"][i]["val_loss"]) + 1
    assert restored == best
    shown = epoch_confusion(restoring_run)  # default: the stored model's epoch
    assert shown.epoch == restored and shown.is_final and str(restored) in shown.note
    np.testing.assert_array_equal(shown.matrix, sklearn_final_matrix(restoring_run))
    last = epoch_confusion(restoring_run, epochs)
    assert not last.is_final


@pytest.mark.parametrize("bad", [0, -1, 9, True, 2.0, "3"])
def test_an_epoch_outside_the_run_is_refused(digits_run, bad):
    with pytest.raises(InvalidConfig, match="epoch"):
        epoch_confusion(digits_run, bad)


def test_epoch_check_without_a_run():
    assert check_epoch_number(7) == 7
    with pytest.raises(InvalidConfig):
        check_epoch_number(10**9)


@pytest.mark.parametrize(
    "damage, match",
    [
        (lambda a: a.astype(np.float32), "float32"),
        (lambda a: a.astype(np.int8), "int8"),
        (lambda a: a[:-1], "shape"),
        (lambda a: a[:, :-1], "shape"),
        (lambda a: np.where(a == 0, 10, a).astype(np.uint8), "class 10"),
    ],
)
def test_a_damaged_file_is_refused(digits_run, tmp_path, damage, match):
    copy = copied_run(digits_run, tmp_path)
    np.save(copy.path / EPOCH_PREDICTIONS, damage(np.load(copy.path / EPOCH_PREDICTIONS)))
    with pytest.raises(StoreError, match=match):
        epoch_confusion(copy)


def test_a_run_stored_before_the_file_says_so(digits_run, tmp_path):
    copy = copied_run(digits_run, tmp_path)
    (copy.path / EPOCH_PREDICTIONS).unlink()
    with pytest.raises(NotRecorded, match="stored before"):
        epoch_confusion(copy)


def test_confusion_cli(digits_run, probe_cache, capsys):
    assert main(["confusion", digits_run.run_id, "--json"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert found["epoch"] == found["epochs"] == CONFIG.epochs and found["is_final"]
    np.testing.assert_array_equal(np.array(found["matrix"]), sklearn_final_matrix(digits_run))
    assert main(["confusion", digits_run.run_id, "--epoch", "2", "--json"]) == 0
    second = json.loads(capsys.readouterr().out)
    predictions = np.load(digits_run.file(EPOCH_PREDICTIONS))
    expected = confusion_matrix(digits_run.test_labels(), predictions[1], labels=range(10))
    np.testing.assert_array_equal(np.array(second["matrix"]), expected)
    assert main(["confusion", digits_run.run_id, "--epoch", "9", "--json"]) == 2
    assert "from 1 to 8" in capsys.readouterr().err
    assert main(["confusion", digits_run.run_id, "--epoch", "1"]) == 0
    assert "epoch 1 of 8" in capsys.readouterr().out


def test_in_bfloat16_the_stored_models_row_is_its_float32_answer(tmp_path, monkeypatch):
    # Rows are scored in the training precision; the stored model's row must still be the stored float32 model's.
    monkeypatch.setenv("DIGIT_LAB_PRECISION", "mixed_bfloat16")
    config = TrainConfig(epochs=2, batch_size=64, seed=2)
    run = get_or_train(load_dataset("digits"), RESTORING_SPEC, config, store=RunStore(tmp_path / "runs")).run
    assert run.history()["precision"] == "mixed_bfloat16"
    np.testing.assert_array_equal(epoch_confusion(run).matrix, sklearn_final_matrix(run))
    assert np.array_equal(stored_epoch_predictions(run)[-1], run.test_probabilities().argmax(axis=1))


def _recorder_after(epochs: int, settled_epoch: int | None):
    """An EpochRecorder taken through `epochs` epochs with outputs that count their calls: test images are 5
    rows, training images 4 (hand-built, so which rows came from where is known)."""
    from types import SimpleNamespace

    from engine.training.callbacks import EpochRecorder

    calls: list[int] = []

    def outputs(images: np.ndarray) -> np.ndarray:
        calls.append(len(images))
        return np.eye(3, dtype=np.float32)[np.arange(len(images)) % 3]  # image i predicted as class i % 3

    watcher = SimpleNamespace(diverged="", epochs=[])
    train = (np.zeros((4, 8, 8, 1), np.float32), np.array([0, 1, 1, 2]))
    recorder = EpochRecorder(outputs, watcher, np.zeros((5, 8, 8, 1), np.float32), train, settled_epoch=settled_epoch)
    for epoch in range(epochs):
        watcher.epochs.append({})
        recorder.on_epoch_end(epoch)
    return recorder, calls


def test_the_last_epoch_is_not_scored_twice():
    # Without early stopping the last epoch's row comes from the final float32 scores, which are computed anyway:
    # scoring it during training too was a whole extra test (and training) pass inside the training's clock.
    recorder, calls = _recorder_after(2, settled_epoch=2)
    assert calls == [5, 4]  # epoch 1's test and training images, nothing for epoch 2
    assert len(recorder.predictions) == 1 and recorder.seconds[-1] == 0.0
    final_test = np.eye(3, dtype=np.float32)[[2, 2, 0, 1, 0]]
    final_train = np.full((4, 3), 1 / 3, np.float32)
    final_train[:, 1] = [0.5, 0.6, 0.2, 0.1]
    recorder.settle(2, final_test, final_train)
    np.testing.assert_array_equal(recorder.predictions[1], [2, 2, 0, 1, 0])
    np.testing.assert_array_equal(recorder.dynamics[1], np.float16([1 / 3, 0.6, 0.2, 1 / 3]))
    np.testing.assert_array_equal(recorder.train_predictions[1], [1, 1, 0, 0])
    np.testing.assert_array_equal(recorder.predictions[0], [0, 1, 2, 0, 1])  # epoch 1 kept as scored


def test_with_early_stopping_every_epoch_is_scored():
    # Early stopping can restore an earlier epoch's weights, and then nothing else holds the last epoch's answers.
    recorder, calls = _recorder_after(3, settled_epoch=None)
    assert calls == [5, 4] * 3 and len(recorder.predictions) == 3
    recorder.settle(2, np.eye(3, dtype=np.float32)[[1, 1, 1, 1, 1]], np.eye(3, dtype=np.float32)[[0, 1, 1, 2]])
    np.testing.assert_array_equal(recorder.predictions[1], [1, 1, 1, 1, 1])  # the restored epoch's row replaced
    np.testing.assert_array_equal(recorder.predictions[2], [0, 1, 2, 0, 1])  # the last epoch's own row stays

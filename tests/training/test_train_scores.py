"""What a trained run reports about its own training set and its preparation time, checked against scikit-learn
on the stored model's predictions."""

from __future__ import annotations

import pytest


def test_training_set_is_scored_in_inference_mode(tmp_path, monkeypatch):
    from sklearn.metrics import accuracy_score

    from engine.datasets import load_dataset
    from engine.runs import get_or_train, preset_request
    from engine.training.data import prepare_data

    monkeypatch.setenv("DIGIT_LAB_CACHE", str(tmp_path))
    dataset = load_dataset("digits")
    # Dropout is on while Keras averages its epoch accuracy; the model's own score of the same images differs.
    spec, config = preset_request("digitlab-small8", dataset, epochs=3, limit_train=600)
    run = get_or_train(dataset, spec, config).run
    metrics = run.meta["metrics"]
    prepared = prepare_data(dataset, config)
    predicted = run.load_model().predict(prepared.x_train, verbose=0).argmax(axis=1)
    assert metrics["train_accuracy_inference"] == pytest.approx(accuracy_score(prepared.y_train, predicted), abs=1e-6)
    assert metrics["train_loss_inference"] >= 0
    assert metrics["final_train_accuracy"] != metrics["train_accuracy_inference"]  # not the running average
    assert run.meta["prepare_seconds"] > 0 and run.meta["train_seconds"] > 0

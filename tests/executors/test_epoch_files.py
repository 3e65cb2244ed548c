"""A run trained by an executor's worker returns its per-epoch files with the others, and the driver stores them."""

from __future__ import annotations

import numpy as np
import pytest

from engine.architectures import ConvBlock, DenseLayer, ModelSpec
from engine.datasets import load_dataset
from engine.errors import StoreError
from engine.executors.tasks import RunTask, execute_task, store_payload
from engine.probes.epochs import EPOCH_PREDICTIONS
from engine.store import RunStore
from engine.training.config import TrainConfig


def test_worker_files_travel_back(tmp_path):
    digits = load_dataset("digits")
    spec = ModelSpec(conv_blocks=(ConvBlock(8, padding="same"),), dense_layers=(DenseLayer(16),), input_shape=(8, 8, 1))
    config = TrainConfig(epochs=2, batch_size=128, seed=3)
    payload = execute_task(RunTask.for_request(digits, spec, config))
    assert {EPOCH_PREDICTIONS, "train_dynamics.npy"} <= set(payload["files"])
    run = store_payload(RunStore(tmp_path / "runs"), payload)
    assert np.load(run.file(EPOCH_PREDICTIONS)).shape == (2, len(run.test_labels()))
    assert np.load(run.file("train_dynamics.npy")).shape[0] == 2
    # Missing a required file, or bringing one nobody asked for, is refused.
    for files in (
        {k: v for k, v in payload["files"].items() if k != EPOCH_PREDICTIONS},
        {**payload["files"], "planted.npy": b""},
    ):
        with pytest.raises(StoreError, match="expected"):
            store_payload(RunStore(tmp_path / "other"), {**payload, "files": files})

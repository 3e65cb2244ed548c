"""The exact arrays a stored run was trained, validated and tested on, rebuilt from its meta.

A run's meta names its dataset, the dataset's fingerprint and the training config; `engine.training.data`
rebuilds the same label merging and validation split from those. The fingerprint check refuses to pair a run
with different data of the same name (the stored test predictions would not line up with the images).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.datasets import Dataset, load_dataset, normalised
from engine.errors import DatasetUnavailable
from engine.store import StoredRun
from engine.training.checks import validate_config
from engine.training.config import TrainConfig
from engine.training.data import PreparedData, prepare_data


@dataclass(frozen=True)
class RunData:
    """One stored run with its rebuilt data split (images 0..1 floats) and the dataset's raw value range."""

    run: StoredRun
    data: PreparedData
    value_max: float  # the dataset's raw maximum (16 for UCI digits, 255 for MNIST-like data)


def _matching_dataset(run: StoredRun, dataset: Dataset | None = None) -> Dataset:
    """The run's dataset: `dataset` when the caller has it loaded already (the dashboard's shared copy), else
    loaded here; either way checked against the run's fingerprint."""
    meta = run.meta
    if dataset is None:
        dataset = load_dataset(meta["dataset"]["name"])
    if dataset.fingerprint != meta["dataset"]["fingerprint"]:
        raise DatasetUnavailable(
            f"The {dataset.name} data on this machine (fingerprint {dataset.fingerprint[:12]}) differ from the data "
            f"run {run.run_id} was trained on ({str(meta['dataset']['fingerprint'])[:12]}), so its test images cannot "
            "be matched with its stored predictions. Retrain the model here."
        )
    return dataset


def test_images(run: StoredRun, dataset: Dataset | None = None) -> tuple[np.ndarray, float]:
    """(the run's test images as 0..1 floats (N, H, W, 1), the dataset's value_max), without rebuilding the
    training split: label merging and training subsets never change the test images, only their labels."""
    dataset = _matching_dataset(run, dataset)
    if len(dataset.x_test) != len(run.test_labels()):
        raise DatasetUnavailable(f"Run {run.run_id} stored predictions for a test set of another size; retrain it.")
    return normalised(dataset.x_test, dataset.value_max), float(dataset.value_max)


def run_data(run: StoredRun, dataset: Dataset | None = None) -> RunData:
    meta = run.meta
    dataset = _matching_dataset(run, dataset)
    config = TrainConfig.from_dict(meta["config"])
    # Stored meta never passed the request door, and `prepare_data` trusts its config: check it here.
    validate_config(config, n_train=len(dataset.x_train), num_classes=len(meta["class_names"]))
    data = prepare_data(dataset, config)
    labels = run.test_labels()
    if len(labels) != len(data.y_test) or not np.array_equal(labels, data.y_test):
        raise DatasetUnavailable(
            f"The rebuilt test labels of run {run.run_id} differ from its stored ones; retrain the model here."
        )
    return RunData(run, data, float(dataset.value_max))

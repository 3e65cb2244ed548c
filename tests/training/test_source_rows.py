"""`PreparedData.train_source_rows`: each training row `prepare_data` gives, traced back to the dataset's own training
part. Oracle: the raw images and labels at those rows, scaled as training scales them, are the prepared ones."""

from __future__ import annotations

import numpy as np
import pytest

from engine.datasets import load_dataset, merge_labels, normalised, parse_label_mapping
from engine.training.config import TrainConfig
from engine.training.data import prepare_data


@pytest.mark.parametrize(
    "config",
    [
        TrainConfig(),
        TrainConfig(validation_split=0.0),
        TrainConfig(limit_train=300, seed=3),
        TrainConfig(limit_train=500, label_mapping="seed004-4class", seed=1),
        TrainConfig(cv_folds=3, cv_fold=2),
    ],
    ids=["split", "no-split", "subset", "merged-subset", "cv-fold"],
)
def test_rows_give_back_the_prepared_training_images_and_labels(config):
    digits = load_dataset("digits")
    prepared = prepare_data(digits, config)
    rows = prepared.train_source_rows
    assert len(rows) == len(prepared.y_train) and len(set(rows.tolist())) == len(rows)
    np.testing.assert_array_equal(normalised(digits.x_train[rows], digits.value_max), prepared.x_train)
    labels = digits.y_train
    if config.label_mapping:
        labels = merge_labels(digits, parse_label_mapping(config.label_mapping, digits.num_classes)).y_train
    np.testing.assert_array_equal(labels[rows], prepared.y_train)
    # Not the identity: the split really moved rows, so the test above can tell a wrong trace from a right one.
    assert config == TrainConfig(validation_split=0.0) or not np.array_equal(rows, np.arange(len(rows)))

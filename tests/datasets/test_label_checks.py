"""Label sanity sentences on hand-built label arrays whose answers are known."""

import numpy as np

from engine.datasets.catalog import DIGIT_CLASS_NAMES, FASHION_CLASS_NAMES
from engine.datasets.label_checks import label_warnings, mapping_warning


def test_every_class_present_gives_no_warning():
    labels = np.arange(20) % 10
    assert label_warnings(labels, labels, DIGIT_CLASS_NAMES, 10) == ()


def test_all_labels_zero_names_the_nine_missing_training_classes():
    (warning,) = label_warnings(np.zeros(50, dtype=int), np.arange(10), DIGIT_CLASS_NAMES, 10)
    assert warning.startswith("The training set has 1 of the model's 10 classes: 1, 2, 3, 4, 5, 6, 7, 8, 9 never")


def test_a_class_missing_from_the_test_set_is_named():
    (warning,) = label_warnings(np.arange(30) % 10, np.array([0, 1, 2, 3, 4, 5, 6, 8, 9]), FASHION_CLASS_NAMES, 10)
    assert warning.startswith("The test set has no image of Sneaker")


def test_digit_merge_warns_only_off_digits():
    assert mapping_warning(DIGIT_CLASS_NAMES, "0,6|1,7|2,3,5,8|4,9") is None
    assert "T-shirt/top" in mapping_warning(FASHION_CLASS_NAMES, "0,6|1,7|2,3,5,8|4,9")
    assert mapping_warning(FASHION_CLASS_NAMES, "") is None

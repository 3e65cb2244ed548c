"""Checking and normalising the stored test-set arrays every evaluation function starts from.

An evaluation is computed from three things kept with a run: `y_true` (class indices), `probabilities` (one
softmax row per test image) and `class_names`. Bad inputs are rejected here with `InvalidEvaluationInput`, whose
message says what was wrong, so the metric code can assume clean arrays.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from engine.errors import DigitLabError

# Report rows that follow the per-class rows; a class may not share one of these names.
SUMMARY_ROWS = ("accuracy", "macro avg", "weighted avg")

# Softmax outputs stored as float32 can overshoot [0, 1] by a rounding step; anything further out is not a
# probability and points at logits stored by mistake.
PROBABILITY_SLACK = 1e-6


class InvalidEvaluationInput(DigitLabError, ValueError):
    """Stored labels, probabilities or class names that cannot be evaluated (shapes, ranges, duplicates)."""


def check_class_names(class_names: Sequence[str], num_classes: int | None = None) -> tuple[str, ...]:
    """The class names as a tuple of str, checked to be unique, at least two, and `num_classes` long if given."""
    if isinstance(class_names, str):
        raise InvalidEvaluationInput(f"class_names must be a sequence of names, got the single string {class_names!r}")
    names = tuple(str(name) for name in class_names)
    if len(names) < 2:
        raise InvalidEvaluationInput(f"An evaluation needs at least 2 classes, got {len(names)}: {names}")
    if num_classes is not None and len(names) != num_classes:
        raise InvalidEvaluationInput(
            f"There are {len(names)} class names but the data has {num_classes} classes; "
            "pass one name per probability column"
        )
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise InvalidEvaluationInput(f"Class names must be unique; repeated: {duplicates}")
    clashes = [name for name in names if name in SUMMARY_ROWS]
    if clashes:
        raise InvalidEvaluationInput(f"Class names {clashes} clash with report rows {SUMMARY_ROWS}; rename them")
    return names


def check_labels(labels: np.ndarray | Sequence[int], num_classes: int, what: str = "y_true") -> np.ndarray:
    """A 1-D int64 copy of `labels`, checked to hold whole numbers in `0..num_classes-1`."""
    array = np.asarray(labels)
    if array.ndim != 1:
        raise InvalidEvaluationInput(f"{what} must be one-dimensional, got shape {array.shape}")
    if array.size == 0:
        raise InvalidEvaluationInput(f"{what} is empty: there is nothing to evaluate")
    if array.dtype.kind == "b" or array.dtype.kind not in "iuf":
        raise InvalidEvaluationInput(f"{what} must hold integer class indices, got dtype {array.dtype}")
    # Labels that went through a float array (e.g. a CSV round trip) are accepted if they are whole numbers.
    if array.dtype.kind == "f" and (not np.all(np.isfinite(array)) or np.any(array != np.round(array))):
        raise InvalidEvaluationInput(f"{what} must hold whole-number class indices, got non-integer values")
    lowest, highest = array.min(), array.max()
    if lowest < 0 or highest >= num_classes:
        raise InvalidEvaluationInput(
            f"{what} holds class indices from {int(lowest)} to {int(highest)}, "
            f"but only 0..{num_classes - 1} exist for {num_classes} classes"
        )
    return array.astype(np.int64)


def check_probabilities(probabilities: np.ndarray, num_samples: int | None = None) -> np.ndarray:
    """A 2-D float copy of `probabilities` (float32 kept as float32, anything else made float64).

    float32 is kept so the log loss clips at float32's epsilon, as scikit-learn does with the same input.
    """
    array = np.asarray(probabilities)
    if array.ndim != 2:
        raise InvalidEvaluationInput(f"probabilities must be shaped (samples, classes), got shape {array.shape}")
    if array.dtype.kind not in "iuf" or array.dtype.kind == "b":
        raise InvalidEvaluationInput(f"probabilities must be numbers, got dtype {array.dtype}")
    array = array.copy() if array.dtype in (np.float32, np.float64) else array.astype(np.float64)
    if num_samples is not None and array.shape[0] != num_samples:
        raise InvalidEvaluationInput(
            f"probabilities has {array.shape[0]} rows but there are {num_samples} labels; they must match"
        )
    if array.shape[0] == 0:
        raise InvalidEvaluationInput("probabilities is empty: there is nothing to evaluate")
    if array.shape[1] < 2:
        raise InvalidEvaluationInput(f"probabilities needs a column per class (at least 2), got {array.shape[1]}")
    if not np.all(np.isfinite(array)):
        raise InvalidEvaluationInput("probabilities contains NaN or infinite values; the model output is unusable")
    lowest, highest = float(array.min()), float(array.max())
    if lowest < -PROBABILITY_SLACK or highest > 1 + PROBABILITY_SLACK:
        raise InvalidEvaluationInput(
            f"probabilities range from {lowest:.6g} to {highest:.6g}, outside 0..1; store softmax outputs, not logits"
        )
    return array


def check_inputs(
    y_true: np.ndarray | Sequence[int], probabilities: np.ndarray, class_names: Sequence[str]
) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """(labels, probabilities, class names) checked against each other, the entry check of every metric."""
    probs = check_probabilities(probabilities)
    names = check_class_names(class_names, probs.shape[1])
    truth = check_labels(y_true, len(names), "y_true")
    if truth.shape[0] != probs.shape[0]:
        raise InvalidEvaluationInput(
            f"probabilities has {probs.shape[0]} rows but there are {truth.shape[0]} labels; they must match"
        )
    return truth, probs, names


def row_sum_deviation(probabilities: np.ndarray) -> float:
    """The largest distance of a row sum from 1."""
    return float(np.max(np.abs(probabilities.sum(axis=1, dtype=np.float64) - 1.0)))


def rows_sum_to_one(probabilities: np.ndarray) -> bool:
    """Whether every row sums to 1 within the tolerance scikit-learn's log loss uses before it warns."""
    eps = np.finfo(probabilities.dtype).eps
    sums = probabilities.sum(axis=1)
    return bool(np.all(np.isclose(sums, 1.0, rtol=np.sqrt(eps))))


def readonly(array: np.ndarray) -> np.ndarray:
    """`array` marked read-only, so arrays held by frozen results cannot be changed behind their back."""
    array.flags.writeable = False
    return array

"""Confusion matrices and what is read off them: one-vs-rest counts, the most confused pairs, the
misclassified test images, and the test-set rows behind one cell.

Layout everywhere: rows are the true class, columns the predicted class, both indexed 0..k-1 in `class_names`
order.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from engine.evaluation.inputs import (
    InvalidEvaluationInput,
    check_class_names,
    check_inputs,
    check_labels,
)


def confusion_matrix(
    y_true: np.ndarray | Sequence[int],
    y_pred: np.ndarray | Sequence[int],
    num_classes: int,
    normalise: bool = False,
) -> np.ndarray:
    """The `(num_classes, num_classes)` confusion matrix: entry `[t, p]` counts samples of true class `t`
    predicted as `p`.

    Every class gets a row and a column even when absent from both arrays, so matrices from different runs of
    the same dataset line up. With `normalise=True` each row is divided by its total (the share of class `t`
    predicted as `p`); a row with no samples stays all zeros rather than NaN.
    """
    if int(num_classes) != num_classes or num_classes < 1:
        raise InvalidEvaluationInput(f"num_classes must be a positive whole number, got {num_classes!r}")
    num_classes = int(num_classes)
    truth = check_labels(y_true, num_classes, "y_true")
    predicted = check_labels(y_pred, num_classes, "y_pred")
    if truth.shape != predicted.shape:
        raise InvalidEvaluationInput(f"y_true has {truth.size} labels but y_pred has {predicted.size}; they must match")
    counts = np.bincount(truth * num_classes + predicted, minlength=num_classes * num_classes)
    counts = counts.reshape(num_classes, num_classes).astype(np.int64)
    return normalise_rows(counts) if normalise else counts


def normalise_rows(confusion: np.ndarray) -> np.ndarray:
    """Each row of a count matrix divided by its total; empty rows stay zeros (no class, no shares)."""
    counts = _check_confusion(confusion)
    totals = counts.sum(axis=1, keepdims=True)
    shares = np.zeros(counts.shape, dtype=np.float64)
    np.divide(counts, totals, out=shares, where=totals > 0)
    return shares


def one_vs_rest_matrix(confusion: np.ndarray, class_index: int) -> np.ndarray:
    """The 2x2 binary confusion matrix of one class against all others, as `[[tp, fn], [fp, tn]]`.

    Rows are the actual class (positive = `class_index`, then negative = any other class); columns are the
    prediction (positive, then negative). This is the textbook layout used in the dashboard's explanation. Note
    it differs from scikit-learn's `multilabel_confusion_matrix`, which orders negatives first: `[[tn, fp],
    [fn, tp]]`.
    """
    counts = _check_confusion(confusion)
    k = counts.shape[0]
    if int(class_index) != class_index or not 0 <= class_index < k:
        raise InvalidEvaluationInput(f"class_index must be in 0..{k - 1}, got {class_index!r}")
    tp, fp, fn, tn = (int(part[class_index]) for part in _one_vs_rest_counts(counts))
    return np.array([[tp, fn], [fp, tn]], dtype=np.int64)


def one_vs_rest(confusion: np.ndarray, class_names: Sequence[str]) -> pd.DataFrame:
    """One row per class with its one-vs-rest counts: columns `class`, `tp`, `fp`, `fn`, `tn`.

    For class c: tp = predicted c and is c; fp = predicted c but is another class; fn = is c but predicted
    another class; tn = neither. tp + fp + fn + tn is the number of test samples on every row.
    """
    counts = _check_confusion(confusion)
    names = check_class_names(class_names, counts.shape[0])
    tp, fp, fn, tn = _one_vs_rest_counts(counts)
    return pd.DataFrame({"class": list(names), "tp": tp, "fp": fp, "fn": fn, "tn": tn})


def most_confused_pairs(confusion: np.ndarray, class_names: Sequence[str], top: int | None = 10) -> pd.DataFrame:
    """The off-diagonal cells with the most samples, largest first: which class is mistaken for which.

    Columns: `true`, `predicted` (class names), `count`, `share_of_true` (count / samples of the true class),
    then `true_label`, `predicted_label` (indices, for looking images up). Only nonzero off-diagonal cells
    appear. Ties in count are ordered by true index, then predicted index, so the order is reproducible.
    `top=None` gives every confused pair.
    """
    counts = _check_confusion(confusion)
    names = check_class_names(class_names, counts.shape[0])
    if top is not None and (int(top) != top or top < 0):
        raise InvalidEvaluationInput(f"top must be a non-negative whole number or None, got {top!r}")
    off_diagonal = counts.copy()
    np.fill_diagonal(off_diagonal, 0)
    true_idx, pred_idx = np.nonzero(off_diagonal)  # row-major, so already in (true, predicted) index order
    cell_counts = off_diagonal[true_idx, pred_idx]
    order = np.argsort(-cell_counts, kind="stable")
    if top is not None:
        order = order[: int(top)]
    true_idx, pred_idx, cell_counts = true_idx[order], pred_idx[order], cell_counts[order]
    row_totals = counts.sum(axis=1)[true_idx]
    return pd.DataFrame(
        {
            "true": [names[i] for i in true_idx],
            "predicted": [names[i] for i in pred_idx],
            "count": cell_counts.astype(np.int64),
            # row_totals >= count > 0 here, so no division by zero
            "share_of_true": cell_counts / row_totals if len(cell_counts) else np.zeros(0),
            "true_label": true_idx.astype(np.int64),
            "predicted_label": pred_idx.astype(np.int64),
        }
    )


def misclassified(
    y_true: np.ndarray | Sequence[int],
    probabilities: np.ndarray,
    class_names: Sequence[str],
) -> pd.DataFrame:
    """Every test sample whose arg-max prediction is wrong, most confident mistakes first.

    Columns: `index` (row in the test set), `true`, `predicted` (class names), `true_label`, `predicted_label`
    (indices), `confidence` (probability of the predicted class) and `true_probability` (probability the model
    gave the right class). Equal confidences keep test-set order. An exact tie in a probability row is
    predicted as the lowest class index, like `numpy.argmax`.
    """
    truth, probs, names = check_inputs(y_true, probabilities, class_names)
    predicted = probs.argmax(axis=1)
    wrong = np.flatnonzero(predicted != truth)
    confidence = probs[wrong, predicted[wrong]].astype(np.float64)
    true_probability = probs[wrong, truth[wrong]].astype(np.float64)
    order = np.argsort(-confidence, kind="stable")
    wrong, confidence, true_probability = wrong[order], confidence[order], true_probability[order]
    return pd.DataFrame(
        {
            "index": wrong.astype(np.int64),
            "true": [names[i] for i in truth[wrong]],
            "predicted": [names[i] for i in predicted[wrong]],
            "true_label": truth[wrong],
            "predicted_label": predicted[wrong].astype(np.int64),
            "confidence": confidence,
            "true_probability": true_probability,
        }
    )


def cell_indices(
    y_true: np.ndarray | Sequence[int],
    y_pred: np.ndarray | Sequence[int],
    true_class: int,
    predicted_class: int,
) -> np.ndarray:
    """Test-set row indices (ascending) of the samples counted in confusion cell `[true_class, predicted_class]`.

    A class index that no sample has simply gives an empty array.
    """
    truth = np.asarray(y_true)
    predicted = np.asarray(y_pred)
    if truth.shape != predicted.shape or truth.ndim != 1:
        raise InvalidEvaluationInput(
            f"y_true and y_pred must be 1-D and the same length, got shapes {truth.shape} and {predicted.shape}"
        )
    return np.flatnonzero((truth == true_class) & (predicted == predicted_class)).astype(np.int64)


def _one_vs_rest_counts(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    tp = np.diag(counts).astype(np.int64)
    fp = counts.sum(axis=0) - tp
    fn = counts.sum(axis=1) - tp
    tn = counts.sum() - tp - fp - fn
    return tp, fp, fn, tn


def _check_confusion(confusion: np.ndarray) -> np.ndarray:
    counts = np.asarray(confusion)
    if counts.ndim != 2 or counts.shape[0] != counts.shape[1] or counts.shape[0] == 0:
        raise InvalidEvaluationInput(f"A confusion matrix must be square (k, k), got shape {counts.shape}")
    if counts.dtype.kind not in "iuf" or counts.dtype.kind == "b":
        raise InvalidEvaluationInput(f"A confusion matrix must hold counts, got dtype {counts.dtype}")
    if np.any(counts < 0) or not np.all(np.isfinite(counts)):
        raise InvalidEvaluationInput("A confusion matrix cannot hold negative or non-finite counts")
    return counts

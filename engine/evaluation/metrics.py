"""Scalar metrics and the classification report, computed from the confusion matrix, and `evaluate`, which
bundles everything the dashboard shows about one run's test set into a frozen `Evaluation`.

The numbers reproduce scikit-learn's (`classification_report(..., zero_division=0)`, `log_loss`) to the last
bit; the tests hold us to that. They are computed here rather than delegated so the dashboard does not import
scikit-learn to open a run, and so the formulas sit next to the explanation pages that quote them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from engine.evaluation.confusion import (
    cell_indices,
    confusion_matrix,
    misclassified,
    most_confused_pairs,
    normalise_rows,
    one_vs_rest,
)
from engine.evaluation.inputs import (
    check_inputs,
    SUMMARY_ROWS,
    InvalidEvaluationInput,
    check_class_names,
    check_labels,
    check_probabilities,
    readonly,
    row_sum_deviation,
    rows_sum_to_one,
)

REPORT_COLUMNS = ("precision", "recall", "f1-score", "support")


def classification_report_table(
    y_true: np.ndarray | Sequence[int],
    y_pred: np.ndarray | Sequence[int],
    class_names: Sequence[str],
) -> pd.DataFrame:
    """Per-class precision, recall, F1 and support, then the "accuracy", "macro avg" and "weighted avg" rows.

    Indexed by class name; columns "precision", "recall", "f1-score", "support" (int). A ratio whose
    denominator is zero (a class never predicted has no precision) is 0, like scikit-learn's
    `zero_division=0`. The accuracy row has NaN precision and recall, f1-score = accuracy and support = all
    samples, mirroring scikit-learn's text report.
    """
    names = check_class_names(class_names)
    counts = confusion_matrix(y_true, y_pred, len(names))
    return _report_from_confusion(counts, names)


def classification_report_text(
    y_true: np.ndarray | Sequence[int],
    y_pred: np.ndarray | Sequence[int],
    class_names: Sequence[str],
    digits: int = 4,
) -> str:
    """The classification report as fixed-width text, character for character as scikit-learn prints it."""
    names = check_class_names(class_names)
    counts = confusion_matrix(y_true, y_pred, len(names))
    return _report_text(_report_from_confusion(counts, names), digits)


def accuracy(y_true: np.ndarray | Sequence[int], y_pred: np.ndarray | Sequence[int]) -> float:
    """Share of samples predicted correctly."""
    truth = np.asarray(y_true)
    predicted = np.asarray(y_pred)
    if truth.shape != predicted.shape or truth.size == 0:
        raise InvalidEvaluationInput(f"y_true and y_pred must be non-empty and the same shape, got {truth.shape} and {predicted.shape}")
    return float(np.count_nonzero(truth == predicted) / truth.size)


def log_loss(y_true: np.ndarray | Sequence[int], probabilities: np.ndarray) -> float:
    """Mean cross-entropy `-log p(true class)` over the samples, natural log.

    Matches `sklearn.metrics.log_loss(y_true, probabilities, labels=range(k))` (scikit-learn 1.9): each
    probability is clipped to `[eps, 1 - eps]`, with eps the machine epsilon of the array's dtype (float32 is
    kept as float32), so a confident wrong answer costs at most `-log(eps)` instead of infinity. Rows are NOT
    renormalised: scikit-learn stopped doing that (it only warns when rows do not sum to 1), and we follow it
    so the numbers agree. `Evaluation.notes` mentions rows that do not sum to 1.
    """
    probs = check_probabilities(probabilities)
    truth = check_labels(y_true, probs.shape[1], "y_true")
    if truth.shape[0] != probs.shape[0]:
        raise InvalidEvaluationInput(
            f"probabilities has {probs.shape[0]} rows but there are {truth.shape[0]} labels; they must match"
        )
    return _log_loss(truth, probs)


@dataclass(frozen=True, eq=False)
class Evaluation:
    """Everything computed about one model's predictions on its test set. Arrays are read-only.

    `report` is the `classification_report_table`; the scalar metrics are copied out of it. `notes` holds
    plain-language remarks for the dashboard (classes never predicted, absent from the test set, probability
    rows that do not sum to 1).
    """

    class_names: tuple[str, ...]
    y_true: np.ndarray  # (n,) int64 true class indices
    probabilities: np.ndarray  # (n, k) as stored (float32 or float64)
    y_pred: np.ndarray  # (n,) int64 arg-max class; an exact tie goes to the lowest index
    confidence: np.ndarray  # (n,) float64 probability of the predicted class
    confusion: np.ndarray  # (k, k) int64 counts, rows true, columns predicted
    confusion_normalised: np.ndarray  # (k, k) float64 row shares; empty rows all zero
    report: pd.DataFrame
    accuracy: float
    log_loss: float
    macro_precision: float
    macro_recall: float
    macro_f1: float
    weighted_precision: float
    weighted_recall: float
    weighted_f1: float
    notes: tuple[str, ...] = field(default=())

    @property
    def num_samples(self) -> int:
        return int(self.y_true.shape[0])

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def num_errors(self) -> int:
        return int(np.count_nonzero(self.y_true != self.y_pred))

    def report_text(self, digits: int = 4) -> str:
        return _report_text(self.report, digits)

    def most_confused_pairs(self, top: int | None = 10) -> pd.DataFrame:
        return most_confused_pairs(self.confusion, self.class_names, top)

    def misclassified(self) -> pd.DataFrame:
        return misclassified(self.y_true, self.probabilities, self.class_names)

    def cell_indices(self, true_class: int, predicted_class: int) -> np.ndarray:
        return cell_indices(self.y_true, self.y_pred, true_class, predicted_class)

    def one_vs_rest(self) -> pd.DataFrame:
        return one_vs_rest(self.confusion, self.class_names)

    def roc_curves(self):  # -> RocCurves; imported lazily because it needs scikit-learn
        from engine.evaluation.roc import roc_curves

        return roc_curves(self.y_true, self.probabilities, self.class_names)


def evaluate(
    y_true: np.ndarray | Sequence[int],
    probabilities: np.ndarray,
    class_names: Sequence[str],
) -> Evaluation:
    """Evaluate stored test-set predictions: arg-max predictions, confusion matrices, report and metrics.

    Works for any k >= 2 (merged-label runs simply pass fewer class names) and any n >= 1. Never retrains.
    """
    truth, probs, names = check_inputs(y_true, probabilities, class_names)
    predicted = probs.argmax(axis=1).astype(np.int64)
    confidence = probs[np.arange(len(predicted)), predicted].astype(np.float64)
    counts = confusion_matrix(truth, predicted, len(names))
    report = _report_from_confusion(counts, names)
    return Evaluation(
        class_names=names,
        y_true=readonly(truth),
        probabilities=readonly(probs),
        y_pred=readonly(predicted),
        confidence=readonly(confidence),
        confusion=readonly(counts),
        confusion_normalised=readonly(normalise_rows(counts)),
        report=report,
        accuracy=float(report.at["accuracy", "f1-score"]),
        log_loss=_log_loss(truth, probs),
        macro_precision=float(report.at["macro avg", "precision"]),
        macro_recall=float(report.at["macro avg", "recall"]),
        macro_f1=float(report.at["macro avg", "f1-score"]),
        weighted_precision=float(report.at["weighted avg", "precision"]),
        weighted_recall=float(report.at["weighted avg", "recall"]),
        weighted_f1=float(report.at["weighted avg", "f1-score"]),
        notes=_notes(counts, names, probs),
    )


def _safe_divide(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    # Same arithmetic as scikit-learn's _prf_divide with zero_division=0, so results agree bit for bit.
    numerator = np.asarray(numerator, dtype=np.float64)
    denominator = np.asarray(denominator, dtype=np.float64).copy()
    empty = denominator == 0
    denominator[empty] = 1.0
    result = numerator / denominator
    result[empty] = 0.0
    return result


def _report_from_confusion(counts: np.ndarray, names: tuple[str, ...]) -> pd.DataFrame:
    tp = np.diag(counts).astype(np.int64)
    predicted_totals = counts.sum(axis=0).astype(np.int64)
    support = counts.sum(axis=1).astype(np.int64)
    total = int(support.sum())

    precision = _safe_divide(tp, predicted_totals)
    recall = _safe_divide(tp, support)
    # F1 from counts, 2tp / (2tp + fp + fn) = 2tp / (support + predicted), not from rounded precision and recall.
    f1 = _safe_divide(2.0 * tp, support.astype(np.float64) + predicted_totals.astype(np.float64))
    # Over all classes micro precision = micro recall = accuracy; this is how sklearn arrives at it.
    accuracy = float(_safe_divide(np.array([tp.sum()]), np.array([total]))[0])

    rows = {
        name: (float(p), float(r), float(f), int(s)) for name, p, r, f, s in zip(names, precision, recall, f1, support)
    }
    rows[SUMMARY_ROWS[0]] = (np.nan, np.nan, accuracy, total)
    rows[SUMMARY_ROWS[1]] = (float(np.mean(precision)), float(np.mean(recall)), float(np.mean(f1)), total)
    if total > 0:
        weighted = [float(np.average(metric, weights=support)) for metric in (precision, recall, f1)]
    else:
        weighted = [0.0, 0.0, 0.0]
    rows[SUMMARY_ROWS[2]] = (*weighted, total)

    table = pd.DataFrame.from_dict(rows, orient="index", columns=list(REPORT_COLUMNS))
    table["support"] = table["support"].astype(np.int64)
    return table


def _report_text(table: pd.DataFrame, digits: int) -> str:
    # The layout of sklearn.metrics.classification_report's text output, reproduced so no import is needed.
    class_rows = [name for name in table.index if name not in SUMMARY_ROWS]
    width = max(max(len(name) for name in class_rows), len("weighted avg"), digits)
    headers = REPORT_COLUMNS
    text = ("{:>{width}s} " + " {:>9}" * len(headers)).format("", *headers, width=width) + "\n\n"
    row_fmt = "{:>{width}s} " + " {:>9.{digits}f}" * 3 + " {:>9}\n"
    for name in class_rows:
        p, r, f, s = table.loc[name]
        text += row_fmt.format(name, p, r, f, int(s), width=width, digits=digits)
    text += "\n"
    accuracy_fmt = "{:>{width}s} " + " {:>9.{digits}}" * 2 + " {:>9.{digits}f}" + " {:>9}\n"
    text += accuracy_fmt.format(
        "accuracy", "", "", table.at["accuracy", "f1-score"], int(table.at["accuracy", "support"]), width=width, digits=digits
    )
    for name in SUMMARY_ROWS[1:]:
        p, r, f, s = table.loc[name]
        text += row_fmt.format(name, p, r, f, int(s), width=width, digits=digits)
    return text


def _log_loss(truth: np.ndarray, probs: np.ndarray) -> float:
    eps = np.finfo(probs.dtype).eps
    clipped = np.clip(probs, eps, 1 - eps)
    # sklearn sums xlogy(one_hot, p) over each row; only the true column is nonzero, so this is the same value.
    losses = -np.log(clipped[np.arange(len(truth)), truth])
    return float(np.mean(losses))


def _notes(counts: np.ndarray, names: tuple[str, ...], probs: np.ndarray) -> tuple[str, ...]:
    notes = []
    absent = [names[i] for i in np.flatnonzero(counts.sum(axis=1) == 0)]
    if absent:
        notes.append(
            f"Classes with no test samples: {', '.join(absent)}. Their recall and F1 are reported as 0 and "
            "they still count in the macro average; their ROC curves are undefined."
        )
    never_predicted = [names[i] for i in np.flatnonzero(counts.sum(axis=0) == 0)]
    if never_predicted:
        notes.append(
            f"Classes the model never predicted: {', '.join(never_predicted)}. Their precision is reported as 0."
        )
    if not rows_sum_to_one(probs):
        notes.append(
            f"Probability rows do not sum to 1 (off by up to {row_sum_deviation(probs):.3g}). Log loss uses them "
            "as stored, only clipped away from 0 and 1, as scikit-learn does."
        )
    return tuple(notes)

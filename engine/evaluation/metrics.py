"""The classification report and log loss of one run's test set, and `evaluate`, which bundles everything the
dashboard shows about it into a frozen `Evaluation`.

The numbers are scikit-learn's own (`classification_report(..., zero_division=0)`, `log_loss`): this module
checks the stored arrays, calls it with every class listed (so classes absent from the test set keep their row)
and adds what it does not say, the plain-language `notes`. scikit-learn is imported inside the functions that
need it: importing `sklearn.metrics` takes about 2.5 s here (`python -X importtime`), which pages that only list
runs, and the CLI, should not pay.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, cast

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
    SUMMARY_ROWS,
    InvalidEvaluationInput,
    check_class_names,
    check_inputs,
    check_labels,
    check_probabilities,
    readonly,
    row_sum_deviation,
    rows_sum_to_one,
)

if TYPE_CHECKING:  # annotations only: the ROC module needs scikit-learn, which `Evaluation.roc_curves` imports late
    from engine.evaluation.roc import RocCurves

REPORT_COLUMNS = ("precision", "recall", "f1-score", "support")


def classification_report_table(
    y_true: np.ndarray | Sequence[int],
    y_pred: np.ndarray | Sequence[int],
    class_names: Sequence[str],
) -> pd.DataFrame:
    """Per-class precision, recall, F1 and support, then the "accuracy", "macro avg" and "weighted avg" rows.

    Indexed by class name; columns "precision", "recall", "f1-score", "support" (int). Values are
    scikit-learn's `classification_report(output_dict=True, zero_division=0)`: a ratio whose denominator is
    zero (a class never predicted has no precision) is 0. The accuracy row has NaN precision and recall,
    f1-score = accuracy and support = all samples, as in scikit-learn's text report.
    """
    names, truth, predicted = _check_predictions(y_true, y_pred, class_names)
    return _report_table(truth, predicted, names)


def report_from_confusion(confusion: np.ndarray | Sequence[Sequence[int]], class_names: Sequence[str]) -> pd.DataFrame:
    """`classification_report_table` of a stored confusion matrix of counts (rows true, columns predicted) instead
    of the labels behind it: a count matrix fixes every per-class score, so the labels are rebuilt from it, one pair
    per counted image, and scored on the one path every other report takes."""
    counts = np.asarray(confusion)
    if counts.ndim != 2 or counts.shape[0] != counts.shape[1] or counts.shape[0] != len(class_names):
        raise InvalidEvaluationInput(
            f"a confusion matrix of {len(class_names)} classes is {len(class_names)}x{len(class_names)}; got shape "
            f"{counts.shape}"
        )
    if not np.issubdtype(counts.dtype, np.integer) or (counts < 0).any() or counts.sum() < 1:
        raise InvalidEvaluationInput("a confusion matrix holds whole counts, none negative, at least one image")
    classes = counts.shape[0]
    truth = np.repeat(np.arange(classes * classes) // classes, counts.ravel())
    predicted = np.repeat(np.arange(classes * classes) % classes, counts.ravel())
    return classification_report_table(truth, predicted, class_names)


def classification_report_text(
    y_true: np.ndarray | Sequence[int],
    y_pred: np.ndarray | Sequence[int],
    class_names: Sequence[str],
    digits: int = 4,
) -> str:
    """The classification report as scikit-learn prints it, every class listed even if absent from the test set."""
    from sklearn.metrics import classification_report

    names, truth, predicted = _check_predictions(y_true, y_pred, class_names)
    return classification_report(
        truth, predicted, labels=range(len(names)), target_names=list(names), digits=digits, zero_division=0
    )


def accuracy(y_true: np.ndarray | Sequence[int], y_pred: np.ndarray | Sequence[int]) -> float:
    """Share of samples predicted correctly."""
    truth = np.asarray(y_true)
    predicted = np.asarray(y_pred)
    if truth.shape != predicted.shape or truth.size == 0:
        raise InvalidEvaluationInput(
            f"y_true and y_pred must be non-empty and the same shape, got {truth.shape} and {predicted.shape}"
        )
    return float(np.count_nonzero(truth == predicted) / truth.size)


def log_loss(y_true: np.ndarray | Sequence[int], probabilities: np.ndarray) -> float:
    """Mean cross-entropy `-log p(true class)` over the samples, natural log: scikit-learn's `log_loss` with
    every class listed.

    scikit-learn clips each probability to `[eps, 1 - eps]`, with eps the machine epsilon of the array's dtype
    (float32 is kept as float32), so a confident wrong answer costs at most `-log(eps)` instead of infinity. Rows
    are NOT renormalised (scikit-learn only warns when rows do not sum to 1); `Evaluation.notes` mentions them.
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
        return classification_report_text(self.y_true, self.y_pred, self.class_names, digits)

    def most_confused_pairs(self, top: int | None = 10) -> pd.DataFrame:
        return most_confused_pairs(self.confusion, self.class_names, top)

    def misclassified(self) -> pd.DataFrame:
        return misclassified(self.y_true, self.probabilities, self.class_names)

    def cell_indices(self, true_class: int, predicted_class: int) -> np.ndarray:
        return cell_indices(self.y_true, self.y_pred, true_class, predicted_class)

    def one_vs_rest(self) -> pd.DataFrame:
        return one_vs_rest(self.confusion, self.class_names)

    def roc_curves(self) -> RocCurves:  # imported lazily because it needs scikit-learn
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
    report = _report_table(truth, predicted, names)
    return Evaluation(
        class_names=names,
        y_true=readonly(truth),
        probabilities=readonly(probs),
        y_pred=readonly(predicted),
        confidence=readonly(confidence),
        confusion=readonly(counts),
        confusion_normalised=readonly(normalise_rows(counts)),
        report=report,
        accuracy=_score(report, "accuracy", "f1-score"),
        log_loss=_log_loss(truth, probs),
        macro_precision=_score(report, "macro avg", "precision"),
        macro_recall=_score(report, "macro avg", "recall"),
        macro_f1=_score(report, "macro avg", "f1-score"),
        weighted_precision=_score(report, "weighted avg", "precision"),
        weighted_recall=_score(report, "weighted avg", "recall"),
        weighted_f1=_score(report, "weighted avg", "f1-score"),
        notes=_notes(counts, names, probs),
    )


def _check_predictions(
    y_true: np.ndarray | Sequence[int], y_pred: np.ndarray | Sequence[int], class_names: Sequence[str]
) -> tuple[tuple[str, ...], np.ndarray, np.ndarray]:
    names = check_class_names(class_names)
    truth = check_labels(y_true, len(names), "y_true")
    predicted = check_labels(y_pred, len(names), "y_pred")
    if truth.shape != predicted.shape:
        raise InvalidEvaluationInput(f"y_true has {truth.size} labels but y_pred has {predicted.size}; they must match")
    return names, truth, predicted


def _report_table(truth: np.ndarray, predicted: np.ndarray, names: tuple[str, ...]) -> pd.DataFrame:
    from sklearn.metrics import classification_report

    # labels=range(k) keeps a row for every class, even one absent from both arrays, and makes the "accuracy"
    # entry appear (scikit-learn gives micro averages instead when the labels do not cover every class seen).
    report = classification_report(
        truth, predicted, labels=range(len(names)), target_names=list(names), output_dict=True, zero_division=0
    )
    accuracy_row, *average_rows = SUMMARY_ROWS
    rows = {name: [report[name][column] for column in REPORT_COLUMNS] for name in names}
    rows[accuracy_row] = [np.nan, np.nan, report[accuracy_row], len(truth)]
    rows.update({name: [report[name][column] for column in REPORT_COLUMNS] for name in average_rows})
    table = pd.DataFrame.from_dict(rows, orient="index", columns=list(REPORT_COLUMNS))
    table["support"] = table["support"].astype(np.int64)  # scikit-learn reports counts as floats
    return table


def _score(report: pd.DataFrame, row: str, column: str) -> float:
    # Every score in the table is a float; pandas' stubs type a cell as any scalar (a date, a string, ...).
    return float(cast(float, report.at[row, column]))


def _log_loss(truth: np.ndarray, probs: np.ndarray) -> float:
    from sklearn.metrics import log_loss as sklearn_log_loss

    # check_probabilities lets float32 softmax overshoot [0, 1] by a rounding step; scikit-learn rejects any
    # overshoot, and clips to [eps, 1 - eps] right after, so clipping to [0, 1] first changes no result.
    within_range = np.clip(probs, 0, 1)
    with warnings.catch_warnings():
        # Rows that do not sum to 1 are already reported in Evaluation.notes; the warning would only repeat it.
        warnings.filterwarnings("ignore", message="The y_prob values do not sum to one", category=UserWarning)
        return float(sklearn_log_loss(truth, within_range, labels=range(probs.shape[1])))


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

"""Evaluating a trained model from its stored test-set predictions (labels, softmax probabilities, class
names): metrics, classification report, confusion matrices, misclassified samples and ROC curves.

Nothing here retrains or imports a deep-learning framework; results are numpy arrays, pandas DataFrames and
frozen dataclasses for the dashboard to draw.
"""

from engine.evaluation.confusion import (
    cell_indices,
    confusion_matrix,
    misclassified,
    most_confused_pairs,
    normalise_rows,
    one_vs_rest,
    one_vs_rest_matrix,
)
from engine.evaluation.inputs import InvalidEvaluationInput
from engine.evaluation.metrics import (
    Evaluation,
    accuracy,
    classification_report_table,
    classification_report_text,
    evaluate,
    log_loss,
    report_from_confusion,
)
from engine.evaluation.roc import RocCurve, RocCurves, roc_curves

__all__ = [
    "Evaluation",
    "InvalidEvaluationInput",
    "RocCurve",
    "RocCurves",
    "accuracy",
    "cell_indices",
    "classification_report_table",
    "classification_report_text",
    "confusion_matrix",
    "evaluate",
    "log_loss",
    "misclassified",
    "most_confused_pairs",
    "normalise_rows",
    "one_vs_rest",
    "one_vs_rest_matrix",
    "report_from_confusion",
    "roc_curves",
]

"""One-vs-rest ROC curves and their areas for a multiclass model: one per class, plus micro and macro averages.

Curve points come from scikit-learn's `roc_curve` (imported when called, not when the dashboard starts), so
per-class, micro and macro AUCs equal `roc_auc_score`'s. What this module adds is surviving test sets in which
a class's ROC is undefined instead of raising.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from engine.evaluation.inputs import (
    check_inputs,
    readonly,
)

MICRO = "micro average"
MACRO = "macro average"


@dataclass(frozen=True, eq=False)
class RocCurve:
    """One ROC curve: false-positive rate against true-positive rate as the decision threshold falls.

    `thresholds[i]` is the score at or above which samples count as positive to reach point i (the first is
    +inf: nothing positive). An undefined curve has empty arrays and `auc` NaN; `defined` says which.
    The macro curve has no thresholds (it averages curves over an fpr grid), so its `thresholds` is empty.
    """

    name: str
    fpr: np.ndarray
    tpr: np.ndarray
    thresholds: np.ndarray
    auc: float

    @property
    def defined(self) -> bool:
        return bool(self.fpr.size)


@dataclass(frozen=True, eq=False)
class RocCurves:
    """Per-class one-vs-rest ROC curves (in `class_names` order) and the micro and macro averages.

    micro: one curve over all (sample, class) pairs, positives being each sample's true class, from the raveled
    one-hot labels and probabilities; it is dominated by big classes. macro: the per-class curves' tpr
    averaged over the union of their fpr points (linear interpolation, as in scikit-learn's ROC example), and
    `macro.auc` is the plain mean of the per-class AUCs, which is what `roc_auc_score(average="macro",
    multi_class="ovr")` reports; the area under the drawn averaged curve can differ slightly.

    A class with no positive or no negative test samples has no ROC curve: it gets an empty curve with AUC
    NaN, is left out of the macro average, and `notes` says so.
    """

    class_names: tuple[str, ...]
    per_class: tuple[RocCurve, ...]
    micro: RocCurve
    macro: RocCurve
    notes: tuple[str, ...] = field(default=())

    def __getitem__(self, class_name_or_index: str | int) -> RocCurve:
        if isinstance(class_name_or_index, str):
            if class_name_or_index not in self.class_names:
                raise KeyError(f"No class named {class_name_or_index!r}; classes are {self.class_names}")
            return self.per_class[self.class_names.index(class_name_or_index)]
        return self.per_class[class_name_or_index]

    def auc_table(self) -> pd.DataFrame:
        """Columns `class`, `auc`: one row per class, then the micro and macro averages."""
        curves = (*self.per_class, self.micro, self.macro)
        return pd.DataFrame({"class": [c.name for c in curves], "auc": [c.auc for c in curves]})


def roc_curves(
    y_true: np.ndarray | Sequence[int],
    probabilities: np.ndarray,
    class_names: Sequence[str],
) -> RocCurves:
    """ROC curves of each class against the rest, scored by that class's probability column. Never raises
    for missing classes, k=2 or a single sample; see `RocCurves` for how undefined curves are reported."""
    from sklearn.metrics import auc as area_under
    from sklearn.metrics import roc_curve

    truth, probs, names = check_inputs(y_true, probabilities, class_names)
    n, k = probs.shape
    one_hot = np.zeros((n, k), dtype=np.int64)
    one_hot[np.arange(n), truth] = 1

    def curve(name: str, positives: np.ndarray, scores: np.ndarray) -> RocCurve:
        fpr, tpr, thresholds = roc_curve(positives, scores)
        return RocCurve(name, readonly(fpr), readonly(tpr), readonly(thresholds), float(area_under(fpr, tpr)))

    per_class = []
    notes = []
    for index, name in enumerate(names):
        positives = int(one_hot[:, index].sum())
        if positives == 0 or positives == n:
            per_class.append(_undefined(name))
            missing = "positive" if positives == 0 else "negative"
            notes.append(
                f"Class {name}: ROC undefined (no {missing} samples in the test set); AUC shown as NaN and "
                "left out of the macro average."
            )
        else:
            per_class.append(curve(name, one_hot[:, index], probs[:, index]))

    # With k >= 2 the raveled labels always contain both ones and zeros, so micro is always defined.
    micro = curve(MICRO, one_hot.ravel(), probs.ravel())

    defined = [c for c in per_class if c.defined]
    if defined:
        grid = np.unique(np.concatenate([c.fpr for c in defined]))
        mean_tpr = np.mean([np.interp(grid, c.fpr, c.tpr) for c in defined], axis=0)
        macro_auc = float(np.mean([c.auc for c in defined]))
        macro = RocCurve(MACRO, readonly(grid), readonly(mean_tpr), readonly(np.zeros(0)), macro_auc)
    else:
        macro = _undefined(MACRO)
        notes.append("Macro average undefined: no class has both positive and negative test samples.")
    return RocCurves(names, tuple(per_class), micro, macro, tuple(notes))


def _undefined(name: str) -> RocCurve:
    empty = np.zeros(0)
    return RocCurve(name, readonly(empty.copy()), readonly(empty.copy()), readonly(empty.copy()), float("nan"))

"""Sanity checks on what a run will learn from: classes absent from its training or test labels, and a class
merge applied to data it was not defined for. Each returns plain sentences, stored with the run and shown on
Evaluate, because such a run still trains (on purpose, sometimes) but its scores mean less than they seem.
"""

from __future__ import annotations

import numpy as np

from engine.datasets.catalog import DIGIT_CLASS_NAMES


def _named(indices: np.ndarray, class_names: tuple[str, ...]) -> str:
    names = [class_names[i] if i < len(class_names) else str(i) for i in indices[:10]]
    return ", ".join(names) + (f" and {len(indices) - 10} more" if len(indices) > 10 else "")


def label_warnings(
    y_train: np.ndarray, y_test: np.ndarray, class_names: tuple[str, ...], num_outputs: int
) -> tuple[str, ...]:
    """Sentences for classes the model has outputs for but the training or test labels never show."""
    found = []
    outputs = np.arange(num_outputs)
    unseen = np.setdiff1d(outputs, np.unique(np.asarray(y_train)))
    if len(unseen):
        found.append(
            f"The training set has {num_outputs - len(unseen)} of the model's {num_outputs} classes: "
            f"{_named(unseen, class_names)} never appear(s), so the model cannot learn to predict it. "
            "Check the labels (or the training subset)."
        )
    untested = np.setdiff1d(outputs, np.unique(np.asarray(y_test)))
    if len(untested):
        found.append(
            f"The test set has no image of {_named(untested, class_names)}: accuracy and per-class scores say "
            "nothing about that class, and its recall is undefined."
        )
    return tuple(found)


def mapping_warning(class_names: tuple[str, ...], mapping: str) -> str | None:
    """A sentence when a class merge defined for the digits 0-9 is applied to other classes (e.g. clothing)."""
    if not mapping or tuple(class_names) == DIGIT_CLASS_NAMES:
        return None
    shown = ", ".join(class_names[:10])
    return (
        f"The class merge {mapping!r} groups digits that look alike; this dataset's classes are {shown}, so it "
        "merges class numbers that have nothing in common. Its scores are not comparable to the digit results."
    )

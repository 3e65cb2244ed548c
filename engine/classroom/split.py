"""The hidden split: a challenge's test set cut, seeded and stratified, into a public part (scored on the public
board while the challenge runs) and a private part (scored only after it closes).

Stratified so that both parts hold every class in the test set's proportions: a public part that happened to lack
a class would rank students on the other nine, and the private ranking would then reward something else."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.model_selection import StratifiedShuffleSplit

from engine.classroom.spec import InvalidChallenge


@dataclass(frozen=True, eq=False)
class HiddenSplit:
    """Indices into the test set, int64, sorted, read-only: `public` and `private` are disjoint and cover it."""

    public: np.ndarray
    private: np.ndarray

    def __post_init__(self) -> None:
        for name in ("public", "private"):
            part = np.array(getattr(self, name), dtype=np.int64, copy=True).reshape(-1)
            if part.size > 1 and not bool(np.all(np.diff(part) > 0)):
                raise InvalidChallenge(f"The {name} part of a hidden split must be sorted and without repeats.")
            # Read-only, so that no caller can move an image from one part to the other after the fact.
            part.setflags(write=False)
            object.__setattr__(self, name, part)
        if np.intersect1d(self.public, self.private).size:
            raise InvalidChallenge("The public and private parts of a hidden split share images.")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, HiddenSplit):
            return NotImplemented
        return bool(np.array_equal(self.public, other.public) and np.array_equal(self.private, other.private))

    __hash__ = None  # type: ignore[assignment]  # arrays are not hashable; equal splits compare equal

    def describe(self, labels: np.ndarray | None = None) -> dict[str, Any]:
        """Counts per part (and per class in each part, when the test labels are given): plain data for a page."""
        summary: dict[str, Any] = {
            "public": int(self.public.size),
            "private": int(self.private.size),
            "total": int(self.public.size + self.private.size),
        }
        if labels is not None:
            labels = np.asarray(labels).reshape(-1)
            classes = np.unique(labels)
            summary["per_class"] = {
                int(c): {
                    "public": int(np.count_nonzero(labels[self.public] == c)),
                    "private": int(np.count_nonzero(labels[self.private] == c)),
                }
                for c in classes
            }
        return summary


def hidden_split(labels: np.ndarray, private_fraction: float, seed: int) -> HiddenSplit:
    """The test set cut into public and private parts; the same labels, fraction and seed give the same parts.

    Refused (`InvalidChallenge`, with the counts) when a part would lack some class of the test set."""
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.size == 0:
        raise InvalidChallenge(f"A hidden split needs a non-empty list of test labels, got shape {labels.shape}.")
    if not np.issubdtype(labels.dtype, np.integer):
        raise InvalidChallenge(f"Test labels must be integers to split by class, got {labels.dtype}.")
    fraction = float(private_fraction)
    if not (math.isfinite(fraction) and 0.0 < fraction < 1.0):
        raise InvalidChallenge(f"private fraction {private_fraction} must lie strictly between 0 and 1.")
    classes, counts = np.unique(labels, return_counts=True)
    smallest = int(counts.min())
    smallest_class = int(classes[int(counts.argmin())])
    if smallest < 2:
        raise InvalidChallenge(
            f"Class {smallest_class} has {smallest} test image; both the public and the private part need at least "
            "one image of every class, so every class needs at least 2."
        )
    # scikit-learn rounds the private part's size up and the public part's down; say it with the same numbers.
    total = int(labels.size)
    private_size = math.ceil(fraction * total)
    public_size = total - private_size
    for short_part, size in (("private", private_size), ("public", public_size)):
        if size < classes.size:
            raise InvalidChallenge(
                f"A private fraction of {fraction:g} leaves the {short_part} part {size} of the {total} test images, "
                f"fewer than its {classes.size} classes: every class needs at least one image in each part. "
                "Choose a fraction nearer 0.5."
            )
    splitter = StratifiedShuffleSplit(n_splits=1, test_size=fraction, random_state=seed)
    try:
        public, private = next(splitter.split(np.zeros((total, 1)), labels))
    except ValueError as problem:  # scikit-learn's own refusals, said with our words around them
        raise InvalidChallenge(f"The test set cannot be split with private fraction {fraction:g}: {problem}") from None
    split = HiddenSplit(public=np.sort(public).astype(np.int64), private=np.sort(private).astype(np.int64))
    # Stratification allocates by rounding: a rare class can still land wholly in one part. Refuse, with counts.
    for part_name, part in (("public", split.public), ("private", split.private)):
        present = set(np.unique(labels[part]).tolist())
        missing = [int(c) for c in classes if int(c) not in present]
        if missing:
            names = ", ".join(f"class {c} ({int(counts[classes == c][0])} test images)" for c in missing)
            raise InvalidChallenge(
                f"A private fraction of {fraction:g} leaves the {part_name} part ({part.size} images) with no image "
                f"of {names}. Choose a fraction nearer 0.5 or a test set with more images of those classes."
            )
    return split

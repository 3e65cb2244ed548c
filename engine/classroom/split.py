"""The hidden split: a challenge's test set cut, seeded and stratified, into a public part (scored on the public
board while the challenge runs) and a private part (scored only after it closes).

Stratified so that both parts hold every class in the test set's proportions: a public part that happened to lack
a class would rank students on the other nine, and the private ranking would then reward something else."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.classroom.spec import InvalidChallenge
from engine.datasets.views import public_private_split
from engine.errors import InvalidTestSplit


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

    Computed by `engine.datasets.views.public_private_split`, the function a challenge's public view is rebuilt
    with in any process (`load_dataset("challenge-<id>-public-<dataset>")`), so the two can never disagree.
    Refused (`InvalidChallenge`, with the counts) when a part would lack some class of the test set."""
    try:
        public, private = public_private_split(labels, private_fraction, seed)
    except InvalidTestSplit as problem:
        raise InvalidChallenge(str(problem)) from None
    return HiddenSplit(public=public, private=private)

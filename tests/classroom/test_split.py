"""The hidden split against scikit-learn: the same parts as `train_test_split(stratify=...)`, class proportions
within one image of the test set's, disjoint and covering, reproducible; refusals that give the counts."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from engine.classroom.spec import InvalidChallenge
from engine.classroom.split import HiddenSplit, hidden_split

LABELS = load_digits().target[:540].astype(np.int64)


@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.75, 0.9])
@pytest.mark.parametrize("seed", [0, 7])
def test_parts_are_scikit_learns_stratified_split(fraction: float, seed: int) -> None:
    split = hidden_split(LABELS, fraction, seed)
    indices = np.arange(LABELS.size)
    public, private = train_test_split(indices, test_size=fraction, random_state=seed, stratify=LABELS)
    np.testing.assert_array_equal(split.public, np.sort(public))
    np.testing.assert_array_equal(split.private, np.sort(private))


@pytest.mark.parametrize("fraction", [0.1, 0.33, 0.5, 0.9])
def test_disjoint_covering_sorted_and_stratified(fraction: float) -> None:
    split = hidden_split(LABELS, fraction, 3)
    assert split.public.dtype == np.int64 and split.private.dtype == np.int64
    assert np.all(np.diff(split.public) > 0) and np.all(np.diff(split.private) > 0)
    assert np.intersect1d(split.public, split.private).size == 0
    np.testing.assert_array_equal(np.union1d(split.public, split.private), np.arange(LABELS.size))
    # Class proportions: each class's private count is within one image of its exact share.
    labels = LABELS
    for label in np.unique(labels):
        in_class = int(np.count_nonzero(labels == label))
        private_count = int(np.count_nonzero(labels[split.private] == label))
        assert abs(private_count - fraction * in_class) <= 1.0
        assert private_count >= 1 and in_class - private_count >= 1


def test_reproducible_and_seed_dependent() -> None:
    assert hidden_split(LABELS, 0.5, 11) == hidden_split(LABELS.copy(), 0.5, 11)
    assert hidden_split(LABELS, 0.5, 11) != hidden_split(LABELS, 0.5, 12)


def test_describe_counts_by_hand() -> None:
    labels = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    split = hidden_split(labels, 0.5, 0)
    summary = split.describe(labels)
    assert (summary["public"], summary["private"], summary["total"]) == (4, 4, 8)
    assert summary["per_class"] == {0: {"public": 2, "private": 2}, 1: {"public": 2, "private": 2}}
    assert split.describe() == {"public": 4, "private": 4, "total": 8}


def test_frozen_and_read_only() -> None:
    split = hidden_split(LABELS, 0.5, 0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        split.public = np.arange(3)  # type: ignore[misc]
    with pytest.raises(ValueError):
        split.public[0] = split.private[0]


def test_hand_built_parts_that_overlap_or_are_unsorted_are_refused() -> None:
    with pytest.raises(InvalidChallenge, match="share images"):
        HiddenSplit(public=np.array([0, 1]), private=np.array([1, 2]))
    with pytest.raises(InvalidChallenge, match="sorted"):
        HiddenSplit(public=np.array([2, 1]), private=np.array([0]))


def test_a_class_with_one_test_image_is_refused_with_its_count() -> None:
    with pytest.raises(InvalidChallenge, match="Class 2 has 1 test image"):
        hidden_split(np.array([0, 0, 1, 1, 2]), 0.5, 0)


def test_fraction_leaving_a_part_smaller_than_the_classes_is_refused_with_counts() -> None:
    # 20 images, two of each of 10 classes: 0.1 private is 2 images, 0.9 private leaves 2 public.
    labels = np.repeat(np.arange(10), 2)
    with pytest.raises(InvalidChallenge, match=r"leaves the private part 2 of the 20 test images, fewer than its 10"):
        hidden_split(labels, 0.1, 0)
    with pytest.raises(InvalidChallenge, match=r"leaves the public part 2 of the 20 test images"):
        hidden_split(labels, 0.9, 0)


def test_fraction_leaving_a_rare_class_out_of_a_part_is_refused_naming_it() -> None:
    labels = np.array([0] * 10 + [1] * 2)
    with pytest.raises(InvalidChallenge, match=r"private part \(2 images\) with no image of class 1 \(2 test images\)"):
        hidden_split(labels, 0.1, 0)


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.2, float("nan"), float("inf")])
def test_fraction_outside_zero_one_is_refused(fraction: float) -> None:
    with pytest.raises(InvalidChallenge, match="strictly between 0 and 1"):
        hidden_split(LABELS, fraction, 0)


def test_labels_that_are_not_a_list_of_integers_are_refused() -> None:
    with pytest.raises(InvalidChallenge, match="non-empty"):
        hidden_split(np.array([], dtype=np.int64), 0.5, 0)
    with pytest.raises(InvalidChallenge, match="integers"):
        hidden_split(np.array([0.0, 1.0, 0.0, 1.0]), 0.5, 0)

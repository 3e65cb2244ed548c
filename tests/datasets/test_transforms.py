"""Transforms: 0..1 scaling, stratified training subsets, and class-merging label mappings."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.datasets import (
    LABEL_MAPPINGS,
    LabelMapping,
    load_dataset,
    merge_labels,
    normalised,
    parse_label_mapping,
    stratified_indices,
    subset_train,
    subset_train_with_rows,
)
from engine.errors import InvalidLabelMapping


@pytest.mark.parametrize("dtype, value_max", [(np.uint8, 255), (np.uint8, 16), (np.int64, 16)])
def test_normalised_range_and_dtype(dtype, value_max):
    x = np.arange(value_max + 1, dtype=dtype).reshape(1, -1, 1, 1)
    result = normalised(x, value_max)
    assert result.dtype == np.float32 and result.shape == x.shape
    assert result.min() == 0.0 and result.max() == 1.0  # exactly 1.0 at value_max
    np.testing.assert_allclose(result.ravel(), np.arange(value_max + 1) / value_max, rtol=1e-6)
    with pytest.raises(ValueError, match="positive"):
        normalised(x, 0)


def test_subset_train_is_stratified_deterministic_and_recorded():
    data = load_dataset("digits")
    subset = subset_train(data, 500, seed=0)
    assert len(subset.y_train) == 500 and len(subset.x_train) == 500
    expected = np.bincount(data.y_train, minlength=10) * 500 / len(data.y_train)
    assert np.all(np.abs(np.bincount(subset.y_train, minlength=10) - expected) <= 1)
    assert subset.transforms == ("train subset 500 (stratified, seed 0)",)
    assert subset.x_test is data.x_test and subset.name == data.name
    assert not subset.x_train.flags.writeable and not subset.y_train.flags.writeable
    again = subset_train(data, 500, seed=0)
    np.testing.assert_array_equal(again.x_train, subset.x_train)
    assert again.fingerprint == subset.fingerprint != data.fingerprint
    assert subset_train(data, 500, seed=1).fingerprint != subset.fingerprint
    # Every chosen image is a real training image with its own label.
    rows = {(img.tobytes(), int(lbl)) for img, lbl in zip(data.x_train, data.y_train, strict=True)}
    assert all((img.tobytes(), int(lbl)) in rows for img, lbl in zip(subset.x_train, subset.y_train, strict=True))


def test_the_subset_reports_the_rows_it_kept():
    data = load_dataset("digits")
    subset, rows = subset_train_with_rows(data, 300, seed=4)
    # Oracle: the source's images and labels at those rows, in that order, are the subset's.
    assert len(rows) == 300 and np.all(np.diff(rows) > 0)
    np.testing.assert_array_equal(data.x_train[rows], subset.x_train)
    np.testing.assert_array_equal(data.y_train[rows], subset.y_train)
    assert subset.fingerprint == subset_train(data, 300, seed=4).fingerprint
    whole, every_row = subset_train_with_rows(data, len(data.y_train))
    assert whole is data and np.array_equal(every_row, np.arange(len(data.y_train)))


def test_subset_train_limits():
    data = load_dataset("digits")
    assert subset_train(data, len(data.y_train)) is data
    assert subset_train(data, 10**6) is data
    assert np.all(np.bincount(subset_train(data, 10).y_train, minlength=10) == 1)
    for bad in (0, -5, 9):
        with pytest.raises(ValueError, match="at least 10"):
            subset_train(data, bad)
    with pytest.raises(ValueError, match="whole number"):
        subset_train(data, 12.5)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 300), min_size=2, max_size=12).filter(lambda c: sum(c) > 0), st.data())
def test_stratified_indices_properties(counts, data):
    counts = np.array(counts)
    shuffle = np.random.default_rng(data.draw(st.integers(0, 1000)))
    labels = shuffle.permutation(np.repeat(np.arange(len(counts)), counts))
    present = int((counts > 0).sum())
    n = data.draw(st.integers(present, int(counts.sum())))
    seed = data.draw(st.integers(0, 2**32 - 1))
    rows = stratified_indices(labels, n, seed)
    assert len(rows) == n and np.all(np.diff(rows) > 0) and rows.min() >= 0 and rows.max() < len(labels)
    take = np.bincount(labels[rows], minlength=len(counts))
    assert np.all(take <= counts) and np.all(take[counts > 0] >= 1)
    np.testing.assert_array_equal(stratified_indices(labels, n, seed), rows)
    if present > 1:
        with pytest.raises(ValueError, match="one of each"):
            stratified_indices(labels, present - 1, seed)


def _digest(rows: np.ndarray) -> str:
    return hashlib.sha256(np.asarray(rows, dtype=np.int64).tobytes()).hexdigest()[:16]


# Digests of the rows the earlier implementations (subset_train's and the Data page's, before they became one
# function) drew. Stored runs are keyed by their training subset, so these rows must never change.
DIGITS_SUBSETS = [
    (10, 0, "7540442de4700ebf"),
    (100, 0, "177131cb61efbdba"),
    (500, 0, "fccaeb33e2a4048e"),
    (500, 1, "4cde3f1868f8e7da"),
    (1000, 7, "483999da75c4e704"),
    (1437, 3, "55f2262ee319c8d6"),
]
SKEWED_SUBSETS = [
    (6, 0, "3d728009a28968b0"),
    (12, 1, "38512f7b66d49ec8"),
    (40, 2, "57846f53c3cff264"),
    (300, 3, "b1388f3e852efc24"),
]


@pytest.mark.parametrize("n, seed, digest", DIGITS_SUBSETS)
def test_training_subsets_are_the_rows_stored_runs_were_trained_on(n, seed, digest):
    data = load_dataset("digits")
    rows = stratified_indices(data.y_train, n, seed)
    assert _digest(rows) == digest
    subset = subset_train(data, n, seed)
    np.testing.assert_array_equal(subset.x_train, data.x_train[rows])
    np.testing.assert_array_equal(subset.y_train, data.y_train[rows])


def test_stratified_indices_unchanged_for_skewed_and_missing_classes():
    # Class sizes 500, 3, 3, 100, 1, 37 exercise both corrections of the largest-remainder quotas.
    labels = np.repeat(np.arange(6), [500, 3, 3, 100, 1, 37])
    np.random.default_rng(0).shuffle(labels)
    assert [_digest(stratified_indices(labels, n, seed)) for n, seed, _ in SKEWED_SUBSETS] == [
        digest for _, _, digest in SKEWED_SUBSETS
    ]
    # digits with every 4 relabelled 0: a class with no rows at all is skipped without shifting the draw.
    data = load_dataset("digits")
    merged = np.where(data.y_train == 4, 0, data.y_train)
    assert _digest(stratified_indices(merged, 50, 0)) == "bda03904d5aba01a"
    assert _digest(stratified_indices(merged, 300, 5)) == "bd637d94c45f8941"


def test_label_mapping_errors_name_the_classes():
    with pytest.raises(InvalidLabelMapping, match=r"classes 5, 8 are not in any group"):
        LabelMapping("m", ((0, 6), (1, 7), (2, 3), (4, 9))).validate(10)
    with pytest.raises(InvalidLabelMapping, match=r"classes 3 are mapped more than once"):
        LabelMapping("m", ((0, 3), (1, 3, 2)))
    with pytest.raises(InvalidLabelMapping, match=r"classes 10, 12 do not exist"):
        LabelMapping("m", ((0, 1, 2, 3, 4), (5, 6, 7, 8, 9, 10, 12))).validate(10)
    with pytest.raises(InvalidLabelMapping, match=r"group\(s\) 2 are empty"):
        LabelMapping("m", ((0, 1), ()))
    with pytest.raises(InvalidLabelMapping, match="one name per group"):
        LabelMapping("m", ((0,), (1,)), ("only one",))
    mapping = LabelMapping("m", [[1, 0], [2]])
    assert mapping.groups == ((1, 0), (2,)) and mapping.group_names == ("1/0", "2")


def test_preset_and_parsing():
    preset = LABEL_MAPPINGS["seed004-4class"]
    assert preset.groups == ((0, 6), (1, 7), (2, 3, 5, 8), (4, 9))
    assert preset.group_names == ("0/6", "1/7", "2/3/5/8", "4/9")
    assert parse_label_mapping("seed004-4class", 10) is preset
    parsed = parse_label_mapping(" 0,6 | 1,7|2, 3,5,8|4,9 ", 10)
    assert parsed.groups == preset.groups and parsed.group_names == preset.group_names
    assert parsed.name == "0,6|1,7|2,3,5,8|4,9"
    with pytest.raises(InvalidLabelMapping, match="'x' in group 2"):
        parse_label_mapping("0,6|1,x", 10)
    with pytest.raises(InvalidLabelMapping, match="group 2 is empty"):
        parse_label_mapping("0,1,2,3,4||5,6,7,8,9", 10)
    with pytest.raises(InvalidLabelMapping, match="empty entry"):
        parse_label_mapping("0,,1|2,3,4,5,6,7,8,9", 10)
    with pytest.raises(InvalidLabelMapping, match="empty"):
        parse_label_mapping("  ", 10)
    with pytest.raises(InvalidLabelMapping, match="classes 4 are not in any group"):
        parse_label_mapping("0,1|2,3", 5)
    with pytest.raises(InvalidLabelMapping, match="do not exist"):
        parse_label_mapping("seed004-4class", 8)


def test_merge_labels_counts_and_names():
    data = load_dataset("digits")
    merged = merge_labels(data, LABEL_MAPPINGS["seed004-4class"])
    assert merged.name == "digits" and merged.num_classes == 4
    assert merged.class_names == ("0/6", "1/7", "2/3/5/8", "4/9")
    for original, new in ((data.y_train, merged.y_train), (data.y_test, merged.y_test)):
        before = np.bincount(original, minlength=10)
        after = np.bincount(new, minlength=4)
        assert list(after) == [
            before[[0, 6]].sum(),
            before[[1, 7]].sum(),
            before[[2, 3, 5, 8]].sum(),
            before[[4, 9]].sum(),
        ]
    assert set(np.unique(merged.y_train)) == {0, 1, 2, 3}
    assert merged.transforms[-1].startswith("classes merged (seed004-4class)")
    assert merged.x_train is data.x_train and not merged.y_train.flags.writeable
    assert merged.fingerprint != data.fingerprint
    with pytest.raises(InvalidLabelMapping):
        merge_labels(data, LabelMapping("half", ((0, 1), (2, 3))))

"""The train/test leakage check against planted copies and a brute-force numpy oracle; its validator, caps and CLI."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import numpy as np
import pytest

from engine.datasets import Dataset, load_dataset
from engine.errors import InvalidConfig
from engine.leakage import LeakageSpec, find_leakage, validate_leakage_spec
from engine.limits import LeakageLimits


def _oracle(dataset: Dataset) -> tuple[np.ndarray, np.ndarray]:
    """(nearest train row, its RMS distance on 0..1) of every test image, from the full distance matrix."""
    a = dataset.x_test.reshape(len(dataset.x_test), -1).astype(np.float64) / dataset.value_max
    b = dataset.x_train.reshape(len(dataset.x_train), -1).astype(np.float64) / dataset.value_max
    squared = np.maximum((a**2).sum(1)[:, None] + (b**2).sum(1)[None, :] - 2 * a @ b.T, 0)
    rows = squared.argmin(axis=1)
    return rows, np.sqrt(squared[np.arange(len(a)), rows] / a.shape[1])


def _planted() -> tuple[Dataset, dict]:
    """200 digits for training, 40 for testing, with an exact copy, a noisy copy (relabelled) and a copy of an image
    that appears twice in training."""
    digits = load_dataset("digits")
    x_train, y_train = digits.x_train[:200].copy(), digits.y_train[:200].copy()
    x_test, y_test = digits.x_test[:40].copy(), digits.y_test[:40].copy()
    x_test[7], y_test[7] = x_train[13], y_train[13]
    noisy = x_train[42].astype(np.int64).reshape(-1)
    changed = [5, 20, 37]
    for pixel in changed:  # one grey level up or down: the copy is no longer byte-identical
        noisy[pixel] = noisy[pixel] + 1 if noisy[pixel] < 16 else noisy[pixel] - 1
    x_test[20] = noisy.reshape(x_train[42].shape).astype(x_test.dtype)
    y_test[20] = (y_train[42] + 1) % 10  # the same picture under another label
    x_train[150] = x_train[60]  # two identical training images: the first one is named
    x_test[33], y_test[33] = x_train[60], y_train[60]
    dataset = replace(digits, name="planted", x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    near_rms = math.sqrt(len(changed) / x_train[0].size) / digits.value_max  # three pixels off by 1/16
    return dataset, {"near_rms": near_rms}


def test_planted_exact_and_near_copies_are_found_with_their_indices():
    dataset, facts = _planted()
    report = find_leakage(dataset)
    found = {(p.test_index, p.train_index, p.exact) for p in report.pairs}
    assert found == {(7, 13, True), (33, 60, True), (20, 42, False)}
    assert (report.exact, report.near, report.found) == (2, 1, 3)
    near = next(p for p in report.pairs if p.test_index == 20)
    assert near.distance == pytest.approx(facts["near_rms"], rel=1e-9)
    assert not near.labels_agree and near.test_label != near.train_label
    assert all(p.labels_agree for p in report.pairs if p.exact)
    assert [p.distance for p in report.pairs] == sorted(p.distance for p in report.pairs)
    assert report.pairs[-1].test_index == 20  # exact copies (distance 0) first
    # The oracle agrees on every flagged pair and flags nothing else.
    rows, distances = _oracle(dataset)
    flagged = set(np.flatnonzero(distances <= report.spec.threshold).tolist())
    assert flagged == {p.test_index for p in report.pairs}
    assert rows[20] == 42 and distances[20] == pytest.approx(near.distance, abs=1e-9)


def test_a_distance_is_numpys_rms_of_the_scaled_difference():
    dataset, _ = _planted()
    report = find_leakage(dataset, LeakageSpec(threshold=0.2, max_pairs=1000))
    assert report.near > 3  # distinct digits within 0.2 of each other
    for pair in report.pairs:
        a = dataset.x_test[pair.test_index].astype(np.float64) / dataset.value_max
        b = dataset.x_train[pair.train_index].astype(np.float64) / dataset.value_max
        assert pair.distance == pytest.approx(np.linalg.norm(a - b) / math.sqrt(a.size), abs=1e-12)


def test_bundled_digits_have_no_copies_at_the_default_threshold_and_the_oracles_pairs_above_it():
    digits = load_dataset("digits")
    rows, distances = _oracle(digits)
    assert distances.min() > LeakageSpec().threshold  # the premise: no digits test image copies a train image
    report = find_leakage(digits)
    assert (report.exact, report.near, report.pairs) == (0, 0, ())
    assert (report.test_compared, report.train_compared) == (len(digits.x_test), len(digits.x_train))
    wider = find_leakage(digits, LeakageSpec(threshold=0.075))
    expected = {(int(i), int(rows[i])) for i in np.flatnonzero(distances <= 0.075)}
    assert expected and {(p.test_index, p.train_index) for p in wider.pairs} == expected


def test_max_pairs_truncates_the_list_not_the_counts():
    dataset, _ = _planted()
    report = find_leakage(dataset, LeakageSpec(max_pairs=1))
    assert report.found == 3 and len(report.pairs) == 1 and report.pairs[0].distance == 0.0


def test_caps_limit_the_images_compared(monkeypatch):
    dataset, _ = _planted()
    capped = find_leakage(dataset, limits=LeakageLimits(max_test_images=10, max_train_images=100))
    assert (capped.test_compared, capped.train_compared) == (10, 100)
    assert {p.test_index for p in capped.pairs} == {7}  # 20 and 33 are past the first 10; 13 is within 100
    monkeypatch.setenv("DIGIT_LAB_HOSTED", "1")
    monkeypatch.setenv("DIGIT_LAB_MAX_LEAKAGE_TEST_IMAGES", "25")
    hosted = find_leakage(dataset)
    assert hosted.test_compared == 25 and {p.test_index for p in hosted.pairs} == {7, 20}


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        (LeakageSpec(threshold=-0.01), "0..1"),
        (LeakageSpec(threshold=1.5), "0..1"),
        (LeakageSpec(threshold=float("nan")), "number"),
        (LeakageSpec(threshold="0.1"), "number"),  # type: ignore[arg-type]
        (LeakageSpec(threshold=True), "number"),
        (LeakageSpec(max_pairs=0), "1 to 1,000"),
        (LeakageSpec(max_pairs=1001), "1 to 1,000"),
        (LeakageSpec(max_pairs=2.5), "whole number"),  # type: ignore[arg-type]
        (LeakageSpec(max_pairs=True), "whole number"),
    ],
)
def test_validator_refuses_unusable_settings(spec, words):
    with pytest.raises(InvalidConfig, match=words):
        validate_leakage_spec(spec, LeakageLimits())
    with pytest.raises(InvalidConfig):
        find_leakage(load_dataset("digits"), spec)


def test_validator_accepts_the_edges():
    for spec in (LeakageSpec(threshold=0, max_pairs=1), LeakageSpec(threshold=1, max_pairs=1000)):
        assert validate_leakage_spec(spec, LeakageLimits()) is spec


def test_cli_json_lists_a_planted_copy(tmp_path, capsys):
    from engine.cli import main

    rng = np.random.default_rng(0)
    x_train = rng.integers(0, 256, (50, 28, 28), dtype=np.uint8)
    x_test = rng.integers(0, 256, (12, 28, 28), dtype=np.uint8)
    x_test[3] = x_train[17]
    labels = np.arange(62) % 10
    path = tmp_path / "planted.npz"
    np.savez(path, x_train=x_train, y_train=labels[:50], x_test=x_test, y_test=labels[50:])
    code = main(["leakage", "--dataset", "mnist", "--data-path", str(path), "--max-pairs", "5", "--json"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["exact"], out["near"], out["test_compared"], out["train_compared"]) == (1, 0, 12, 50)
    assert out["pairs"] == [
        {
            "test_index": 3,
            "train_index": 17,
            "distance": 0.0,
            "test_label": 3,
            "train_label": 7,
            "labels_agree": False,
            "exact": True,
        }
    ]
    assert out["spec"] == {"threshold": 0.04, "max_pairs": 5}


def test_cli_refuses_a_bad_threshold_in_one_line(capsys):
    from engine.cli import main

    assert main(["leakage", "--threshold", "2", "--json"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "0..1" in err

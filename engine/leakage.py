"""Train/test leakage: test images that are exact or near copies of training images.

A test image that also sits in the training part (byte for byte, or with a little noise) is scored by a model that
has seen it, so its accuracy overstates what the model does on new digits. `find_leakage` compares every test image
with its nearest training image:

- exact: the raw bytes are equal (hashed, so the check costs one pass over the data);
- near: the root-mean-square pixel distance on the 0..1 scale, ||a - b|| / sqrt(pixels), is at most the spec's
  threshold (nearest neighbour by scikit-learn, fitted on train and queried with test).

The result is plain data (counts and the closest pairs); the Data page and `digit-lab leakage` show it.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import asdict, dataclass

import numpy as np

from engine.datasets import Dataset, normalised
from engine.errors import InvalidConfig
from engine.limits import LeakageLimits, leakage_limits

# The UCI digits' closest distinct train/test pair is 0.067 RMS apart; 0.04 flags copies with light noise or a few
# changed pixels and leaves distinct handwriting alone.
DEFAULT_THRESHOLD = 0.04


@dataclass(frozen=True)
class LeakageSpec:
    """What counts as a near copy and how many pairs to list."""

    threshold: float = DEFAULT_THRESHOLD  # RMS pixel distance, pixels scaled to 0..1 (1 = black vs white everywhere)
    max_pairs: int = 50  # pairs listed, closest first; the counts cover every pair found


def validate_leakage_spec(spec: LeakageSpec, limits: LeakageLimits | None = None) -> LeakageSpec:
    """The spec itself when its numbers are usable; else `InvalidConfig` naming the setting and its range."""
    limits = limits or leakage_limits()
    threshold = spec.threshold
    if isinstance(threshold, bool) or not isinstance(threshold, int | float) or not math.isfinite(threshold):
        raise InvalidConfig(f"the leakage threshold must be a number from 0 to 1, got {threshold!r}")
    if not 0 <= threshold <= 1:
        raise InvalidConfig(f"the leakage threshold (RMS distance on 0..1 pixels) must lie in 0..1, got {threshold:g}")
    pairs = spec.max_pairs
    if isinstance(pairs, bool) or not isinstance(pairs, int) or not 1 <= pairs <= limits.max_pairs:
        raise InvalidConfig(f"the pairs listed must be a whole number from 1 to {limits.max_pairs:,}, got {pairs!r}")
    return spec


@dataclass(frozen=True)
class LeakagePair:
    """One test image and its nearest training image."""

    test_index: int  # row of the test part
    train_index: int  # row of the training part (for an exact copy, the first identical one)
    distance: float  # RMS pixel distance on 0..1 (0 for an exact copy)
    test_label: int
    train_label: int
    labels_agree: bool  # False: the same picture carries two labels, one of them wrong
    exact: bool  # byte-identical


@dataclass(frozen=True)
class LeakageReport:
    spec: LeakageSpec
    exact: int  # test images with a byte-identical training image
    near: int  # further test images within the threshold of a training image
    pairs: tuple[LeakagePair, ...]  # closest first (then by test index), at most spec.max_pairs
    test_compared: int  # the first this many test images were compared (all unless a cap applies)
    test_total: int
    train_compared: int  # ... against the first this many training images
    train_total: int

    @property
    def found(self) -> int:
        return self.exact + self.near

    def to_dict(self) -> dict:
        return {
            "spec": asdict(self.spec),
            "exact": self.exact,
            "near": self.near,
            "found": self.found,
            "test_compared": self.test_compared,
            "test_total": self.test_total,
            "train_compared": self.train_compared,
            "train_total": self.train_total,
            "pairs": [asdict(pair) for pair in self.pairs],
        }


def _digests(images: np.ndarray) -> list[bytes]:
    rows = np.ascontiguousarray(images).reshape(len(images), -1)
    return [hashlib.blake2b(row.tobytes(), digest_size=16).digest() for row in rows]


def rms_distance(a: np.ndarray, b: np.ndarray, value_max: float) -> float:
    """Root-mean-square difference of two raw images after scaling pixels to 0..1."""
    diff = (np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)) / float(value_max)
    return float(np.sqrt(np.mean(diff**2)))


def find_leakage(
    dataset: Dataset, spec: LeakageSpec | None = None, limits: LeakageLimits | None = None
) -> LeakageReport:
    """Exact and near copies of training images in the test part (see the module docstring)."""
    spec = validate_leakage_spec(spec or LeakageSpec(), limits)
    limits = limits or leakage_limits()
    n_test = min(len(dataset.x_test), limits.max_test_images or len(dataset.x_test))
    n_train = min(len(dataset.x_train), limits.max_train_images or len(dataset.x_train))
    x_test, x_train = dataset.x_test[:n_test], dataset.x_train[:n_train]
    y_test, y_train = dataset.y_test[:n_test], dataset.y_train[:n_train]

    # Both parts in one dtype, so equal values are equal bytes.
    common = np.result_type(x_train.dtype, x_test.dtype)
    first_train: dict[bytes, int] = {}
    for index, digest in enumerate(_digests(x_train.astype(common, copy=False))):
        first_train.setdefault(digest, index)
    exact_of = {
        i: first_train[d] for i, d in enumerate(_digests(x_test.astype(common, copy=False))) if d in first_train
    }

    nearest = _nearest_train(x_train, x_test, dataset.value_max)
    pairs = []
    for test_index in range(n_test):
        if test_index in exact_of:
            train_index, distance, exact = exact_of[test_index], 0.0, True
        else:
            train_index, exact = int(nearest[test_index]), False
            # The neighbour search ranks in float32; the reported distance is recomputed exactly.
            distance = rms_distance(x_test[test_index], x_train[train_index], dataset.value_max)
            if distance > spec.threshold:
                continue
        test_label, train_label = int(y_test[test_index]), int(y_train[train_index])
        pairs.append(
            LeakagePair(test_index, train_index, distance, test_label, train_label, test_label == train_label, exact)
        )
    pairs.sort(key=lambda pair: (pair.distance, pair.test_index))
    exact_count = sum(pair.exact for pair in pairs)
    return LeakageReport(
        spec,
        exact_count,
        len(pairs) - exact_count,
        tuple(pairs[: spec.max_pairs]),
        n_test,
        len(dataset.x_test),
        n_train,
        len(dataset.x_train),
    )


def _nearest_train(x_train: np.ndarray, x_test: np.ndarray, value_max: float) -> np.ndarray:
    """For each test image, the row of its nearest training image (Euclidean on 0..1 pixels)."""
    from sklearn import config_context
    from sklearn.neighbors import NearestNeighbors

    train = normalised(x_train.reshape(len(x_train), -1), value_max)
    test = normalised(x_test.reshape(len(x_test), -1), value_max)
    # Brute force suits 64 to 784 dimensions; a small working memory keeps the distance blocks to ~64 MB on a
    # shared server (the default allows 1 GB per block).
    with config_context(working_memory=64):
        search = NearestNeighbors(n_neighbors=1, algorithm="brute").fit(train)
        _, rows = search.kneighbors(test)
    return rows[:, 0]

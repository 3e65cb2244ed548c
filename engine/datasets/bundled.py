"""The `digits` source: scikit-learn's bundled 8x8 digits, always available offline."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from engine.datasets.catalog import DIGIT_CLASS_NAMES, make_dataset
from engine.datasets.dataset import Dataset
from engine.datasets.identity import content_checksum, identify
from engine.errors import DatasetUnavailable


def _refuse_local_path(name: str, local_path: Path | None) -> None:
    if local_path is not None:
        raise DatasetUnavailable(
            f"{name} is bundled with scikit-learn and takes no local path (got {local_path}); load it without one."
        )


def status_digits(local_path: Path | None) -> tuple[bool, str]:
    return True, "bundled with scikit-learn; always available offline"


def load_digits(local_path: Path | None) -> Dataset:
    _refuse_local_path("digits", local_path)
    from sklearn.datasets import load_digits as sklearn_load_digits
    from sklearn.model_selection import train_test_split

    bunch = sklearn_load_digits()
    x = bunch.images.astype(np.uint8)  # the float64 values are whole counts 0..16
    y = bunch.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.2, stratify=y, random_state=42)
    # A changed scikit-learn copy (or split) would silently change every digits run; the checksum says so.
    identity = identify("digits", content_checksum(x_train, y_train, x_test, y_test))
    return make_dataset(
        "digits",
        (x_train, y_train),
        (x_test, y_test),
        DIGIT_CLASS_NAMES,
        16,
        "scikit-learn bundled data (sklearn.datasets.load_digits)",
        identity=identity.status,
    )

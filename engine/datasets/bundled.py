"""The `digits` source: scikit-learn's bundled 8x8 digits, always available offline."""

from __future__ import annotations

import importlib.util
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


# Row order of scikit-learn's `train_test_split(x, y, test_size=0.2, stratify=y, random_state=42)` on its
# digits: the 1,437 training rows, then the 360 test rows (uint16; tests/datasets compare it with scikit-learn).
# Shipped so loading the digits needs no `import sklearn`, which costs about 2 s where nothing else has loaded it
# yet: the dashboard's first page shows this dataset and must not wait for it.
SPLIT_FILE = Path(__file__).with_name("digits_split.npy")
N_TRAIN = 1437


def sklearn_digits_csv() -> Path:
    """scikit-learn's own copy of the digits (`sklearn/datasets/data/digits.csv.gz`), found without importing it."""
    found = importlib.util.find_spec("sklearn")
    if found is None or not found.submodule_search_locations:
        raise DatasetUnavailable("The digits come with scikit-learn, which is not installed: pip install scikit-learn.")
    return Path(next(iter(found.submodule_search_locations))) / "datasets" / "data" / "digits.csv.gz"


def read_digits_csv(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 (n, 8, 8), labels int64) from the CSV `sklearn.datasets.load_digits` reads: 64 pixels, label."""
    try:
        rows = np.loadtxt(path, delimiter=",", dtype=np.float64)  # .gz is read as gzip
    except (OSError, ValueError) as error:
        raise DatasetUnavailable(f"Could not read scikit-learn's digits file {path}: {error}") from None
    return rows[:, :-1].reshape(-1, 8, 8).astype(np.uint8), rows[:, -1].astype(np.int64)


def load_digits(local_path: Path | None) -> Dataset:
    _refuse_local_path("digits", local_path)
    x, y = read_digits_csv(sklearn_digits_csv())  # the float values are whole counts 0..16
    order = np.load(SPLIT_FILE, allow_pickle=False).astype(np.int64)
    train_rows, test_rows = order[:N_TRAIN], order[N_TRAIN:]
    x_train, x_test, y_train, y_test = x[train_rows], x[test_rows], y[train_rows], y[test_rows]
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

"""The one check of what a dataset must be to be registered, listed, mapped and trained on.

Every way a dataset arrives ends here: `register_upload` before keeping files, `load_dataset` for every source
(a `--data-path` folder, an upload reopened from the cache), and the dataset listing, which checks an upload's
recorded counts without loading it. The bounds are `engine.limits.DataLimits`; the Data page's 2-D map takes its
smallest size from the same place.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.errors import InvalidDataFile
from engine.limits import DataLimits, data_limits


@dataclass(frozen=True)
class DataShape:
    """The counts a dataset is judged by: cheap to record with an upload, so the listing can judge it unloaded."""

    n_train: int
    n_test: int
    height: int
    width: int
    train_classes: int  # distinct labels present in the training split


def data_shape(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray) -> DataShape:
    """The counts of four arrays: images `(n, h, w)` or `(n, h, w, 1)`, labels `(n,)`."""
    height, width = (int(x_train.shape[1]), int(x_train.shape[2])) if x_train.ndim >= 3 else (0, 0)
    return DataShape(len(x_train), len(x_test), height, width, len(np.unique(np.asarray(y_train))))


def dataset_problems(shape: DataShape, limits: DataLimits | None = None) -> list[str]:
    """Every way `shape` falls outside the limits, one sentence each; empty when the dataset may be used."""
    limits = limits or data_limits()
    problems = []
    for split, count in (("training", shape.n_train), ("test", shape.n_test)):
        if count < limits.min_images_per_split:
            problems.append(
                f"the {split} split has {count:,} image(s); at least {limits.min_images_per_split} are needed"
            )
    low, high = limits.min_side, limits.max_side
    if not (low <= shape.height <= high and low <= shape.width <= high):
        problems.append(f"the images are {shape.height}x{shape.width} pixels; each side must be {low} to {high} pixels")
    if shape.n_train and shape.train_classes < limits.min_train_classes:
        problems.append(
            f"the training labels hold {shape.train_classes} class(es); at least {limits.min_train_classes} are "
            "needed for a classifier to learn anything"
        )
    return problems


def check_arrays(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray, where: str) -> None:
    """Raise `InvalidDataFile` naming `where` and every problem, unless the arrays may be registered and used."""
    problems = dataset_problems(data_shape(x_train, y_train, x_test, y_test))
    if problems:
        raise InvalidDataFile(f"{where}: {'; '.join(problems)}. This data cannot be used; fix the files and try again.")

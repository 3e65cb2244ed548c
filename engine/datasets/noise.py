"""Planted label noise: a copy of a dataset with a known share of its training labels flipped, so a label-issue
finder can be scored against the flips it should find.

Flips are symmetric: each chosen label becomes a uniformly drawn *different* class. The test part is left as it is
(it scores the models, not the finder). The noisy copy has its own name and, since its labels differ, its own
fingerprint, so its runs are stored apart from the clean data's. The name says how it was made
("noisy-<base>-<fraction>-<seed>"), so `load_dataset` rebuilds it from the name alone: a fold run's page, a job
driver or a Ray worker loads the very data the run was keyed with. It lives with the datasets for that reason; the
label-issue search (`engine.diagnostics`) imports it from here.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from engine.datasets.dataset import Dataset
from engine.errors import InvalidConfig
from engine.limits import train_limits

MAX_NOISE_FRACTION = 0.5  # beyond half the labels wrong, the "given" label is no longer the usual one
NOISY_PREFIX = "noisy-"


def validate_noise(fraction: object, seed: object) -> None:
    """Raise `InvalidConfig` unless `fraction` is a number in 0..0.5 and `seed` a whole number NumPy can seed."""
    if isinstance(fraction, bool) or not isinstance(fraction, int | float) or not math.isfinite(fraction):
        raise InvalidConfig(f"the noise fraction must be a number from 0 to {MAX_NOISE_FRACTION}, got {fraction!r}")
    if not 0 <= fraction <= MAX_NOISE_FRACTION:
        raise InvalidConfig(f"the noise fraction must lie in 0..{MAX_NOISE_FRACTION}, got {fraction:g}")
    most = train_limits().max_seed
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= most:
        raise InvalidConfig(f"the noise seed must be a whole number from 0 to {most}, got {seed!r}")


@dataclass(frozen=True)
class NoiseSpec:
    """Which training labels to flip: a share of them, drawn with a seed."""

    fraction: float = 0.05  # share of the training labels flipped (rounded to a whole count), 0..0.5
    seed: int = 0  # the same seed flips the same labels to the same classes

    def __post_init__(self) -> None:
        validate_noise(self.fraction, self.seed)

    def to_dict(self) -> dict:
        return {"fraction": float(self.fraction), "seed": int(self.seed)}


@dataclass(frozen=True)
class NoisyDataset:
    """The noisy copy, the training rows whose label was flipped (sorted) and the labels they had before."""

    dataset: Dataset
    flipped: np.ndarray  # (n_flipped,) int64 row indices into the training part
    original: np.ndarray  # (n_flipped,) the clean labels of those rows

    @property
    def n_flipped(self) -> int:
        return len(self.flipped)


def noisy_name(base: str, spec: NoiseSpec) -> str:
    """ "noisy-digits-0.05-0": the fraction written positionally (never "1e-05", whose "-" would split it), so the
    name reads back to the same float."""
    fraction = np.format_float_positional(float(spec.fraction), trim="-")
    return f"{NOISY_PREFIX}{base}-{fraction}-{spec.seed}"


def parse_noisy_name(name: object) -> tuple[str, NoiseSpec] | None:
    """(base name, noise) of a name `noisy_name` wrote; None for any other name. A name that starts like one but
    does not read back exactly (a fraction out of range, "0.050", "+1") is not one either."""
    if not isinstance(name, str) or not name.startswith(NOISY_PREFIX) or len(name) > 300:
        return None
    parts = name.removeprefix(NOISY_PREFIX).rsplit("-", 2)
    if len(parts) != 3 or not parts[0] or parts[0].startswith(NOISY_PREFIX):  # noise on noise: not a name we write
        return None
    if not parts[2].isdigit() or not parts[2].isascii():
        return None
    try:
        spec = NoiseSpec(float(parts[1]), int(parts[2]))
    except (ValueError, InvalidConfig):
        return None
    return (parts[0], spec) if noisy_name(parts[0], spec) == name else None


def plant_label_noise(dataset: Dataset, spec: NoiseSpec) -> NoisyDataset:
    """`dataset` with round(fraction x n_train) training labels flipped to another class; test part untouched."""
    labels = np.asarray(dataset.y_train)
    n, classes = len(labels), dataset.num_classes
    if classes < 2:
        raise InvalidConfig(f"{dataset.name} has one class: a label cannot be flipped to another")
    count = int(round(spec.fraction * n))
    rng = np.random.default_rng(spec.seed)
    flipped = np.sort(rng.choice(n, size=count, replace=False)).astype(np.int64)
    # An offset of 1..classes-1 modulo the class count reaches every other class with equal chance, never the same.
    offsets = rng.integers(1, classes, size=count)
    noisy = labels.astype(np.int64, copy=True)
    noisy[flipped] = (labels[flipped] + offsets) % classes
    noisy.flags.writeable = False  # like every loaded dataset's arrays: shared, read-only
    copy = dataclasses.replace(
        dataset,
        name=noisy_name(dataset.name, spec),
        y_train=noisy,
        transforms=dataset.transforms + (f"{count} training labels flipped ({spec.fraction:g}, seed {spec.seed})",),
    )
    return NoisyDataset(copy, flipped, labels[flipped].astype(np.int64))

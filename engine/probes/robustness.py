"""Robustness probes: the test set perturbed at growing severity, and the model's accuracy at each level.

Perturbations act on images in the dataset's own value range (0..16 for UCI digits, 0..255 for MNIST-like data)
and clip back into it, so a perturbed image is one the dataset could have held. Level 0 is the identity for every
perturbation, and its accuracy is computed from the run's stored test predictions, so it equals the stored test
accuracy exactly rather than up to a re-prediction's float noise.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, cast

import numpy as np

from engine.datasets import Dataset
from engine.errors import InvalidConfig, InvalidProbeRecord
from engine.evaluation.metrics import accuracy
from engine.limits import ProbeLimits
from engine.probes.checks import probe_numbers
from engine.probes.run_data import test_images
from engine.probes.stored import cached_probe
from engine.store import StoredRun

NOISE_SEED = 0  # the Gaussian noise is seeded, so one run's curve is reproducible


@dataclass(frozen=True)
class Perturbation:
    """One kind of damage and the severity scale of its level."""

    name: str
    unit: str  # what one level means
    default_levels: tuple[float, ...]  # six levels from 0, for a curve that is quick on digits
    low: float  # the range a level may take
    high: float
    whole: bool  # levels must be whole numbers (pixels, erosion steps)


PERTURBATIONS: dict[str, Perturbation] = {
    p.name: p
    for p in (
        Perturbation("rotation", "degrees, anticlockwise", (0, 10, 20, 30, 45, 60), -180, 180, False),
        Perturbation("shift", "pixels, right and down at once", (0, 1, 2, 3, 4, 5), -28, 28, True),
        Perturbation("noise", "noise standard deviation / value range", (0, 0.1, 0.2, 0.3, 0.4, 0.5), 0, 2, False),
        Perturbation("blur", "Gaussian blur sigma, in pixels", (0, 0.5, 1, 1.5, 2, 3), 0, 10, False),
        Perturbation("thickness", "3x3 dilations (>0) or erosions (<0)", (0, -2, -1, 1, 2, 3), -5, 5, True),
        Perturbation("contrast", "share of contrast removed (1 = flat)", (0, 0.2, 0.4, 0.6, 0.8, 0.9), 0, 1, False),
    )
}


@dataclass(frozen=True)
class RobustnessCurve:
    """Test accuracy of one run at each severity level of one perturbation."""

    run_id: str
    perturbation: str
    unit: str
    levels: tuple[float, ...]
    accuracy: tuple[float, ...]

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> RobustnessCurve:
        """A stored curve read back, every field checked (`InvalidProbeRecord`, `KeyError`, `TypeError`)."""
        levels = probe_numbers(data["levels"], "levels", shape=(None,))
        scores = probe_numbers(data["accuracy"], "accuracy", shape=(len(levels),), low=0, high=1)
        if data["perturbation"] not in PERTURBATIONS or not all(isinstance(data[k], str) for k in ("run_id", "unit")):
            raise InvalidProbeRecord("unknown perturbation, or run_id/unit not text")
        return cls(
            data["run_id"], data["perturbation"], data["unit"], tuple(map(float, levels)), tuple(map(float, scores))
        )


def validate_levels(name: str, levels: tuple[float, ...] | list[float] | None) -> tuple[float, ...]:
    """The levels to probe: the perturbation's defaults, or the given ones checked against its range."""
    if name not in PERTURBATIONS:
        raise InvalidConfig(f"Unknown perturbation {name[:40]!r}; choose one of {', '.join(PERTURBATIONS)}.")
    kind = PERTURBATIONS[name]
    if levels is None:
        return kind.default_levels
    levels = tuple(float(level) for level in levels)
    most = ProbeLimits().max_levels
    if not 1 <= len(levels) <= most:
        raise InvalidConfig(f"give 1 to {most} levels, got {len(levels)}")
    for level in levels:
        if not np.isfinite(level) or not kind.low <= level <= kind.high:
            raise InvalidConfig(f"{name} levels ({kind.unit}) must lie in {kind.low:g}..{kind.high:g}, got {level:g}")
        if kind.whole and level != int(level):
            raise InvalidConfig(f"{name} levels ({kind.unit}) must be whole numbers, got {level:g}")
    return levels


def _rotate(images: np.ndarray, degrees: float, value_max: float) -> np.ndarray:
    from scipy.ndimage import rotate

    return rotate(images, degrees, axes=(2, 1), reshape=False, order=1, mode="constant", cval=0.0)


def _shift(images: np.ndarray, pixels: float, value_max: float) -> np.ndarray:
    n = int(pixels)
    out = np.zeros_like(images)
    h, w = images.shape[1:3]
    if abs(n) >= h or abs(n) >= w:
        return out
    src = slice(max(0, -n), min(h, h - n)), slice(max(0, -n), min(w, w - n))
    dst = slice(max(0, n), min(h, h + n)), slice(max(0, n), min(w, w + n))
    out[:, dst[0], dst[1]] = images[:, src[0], src[1]]
    return out


def _noise(images: np.ndarray, std: float, value_max: float) -> np.ndarray:
    rng = np.random.default_rng(NOISE_SEED)
    return images + rng.normal(0.0, std * value_max, size=images.shape)


def _blur(images: np.ndarray, sigma: float, value_max: float) -> np.ndarray:
    from scipy.ndimage import gaussian_filter

    return gaussian_filter(images, sigma=(0, sigma, sigma, 0)[: images.ndim], mode="constant", cval=0.0)


def _thickness(images: np.ndarray, steps: float, value_max: float) -> np.ndarray:
    from scipy.ndimage import grey_dilation, grey_erosion

    grow = grey_dilation if steps > 0 else grey_erosion
    size = (1, 3, 3, 1)[: images.ndim]
    out = images
    for _ in range(abs(int(steps))):
        out = grow(out, size=size, mode="constant", cval=0.0)
    return out


def _contrast(images: np.ndarray, removed: float, value_max: float) -> np.ndarray:
    # Towards each image's own mean: the digit fades into its background, the mean brightness stays.
    means = images.mean(axis=tuple(range(1, images.ndim)), keepdims=True)
    return means + (1.0 - removed) * (images - means)


_APPLY: dict[str, Callable[[np.ndarray, float, float], np.ndarray]] = {
    "rotation": _rotate,
    "shift": _shift,
    "noise": _noise,
    "blur": _blur,
    "thickness": _thickness,
    "contrast": _contrast,
}


def perturb(images: np.ndarray, name: str, level: float, value_max: float) -> np.ndarray:
    """`images` (N, H, W) or (N, H, W, 1) in the raw value range 0..value_max, perturbed and clipped back to it.

    Level 0 returns the images unchanged (as float64).
    """
    (level,) = validate_levels(name, [level])
    images = np.asarray(images, dtype=np.float64)
    if images.ndim not in (3, 4):
        raise ValueError(f"perturb takes a stack of images (N, H, W[, 1]), got shape {images.shape}")
    if level == 0:
        return images.copy()
    return np.clip(_APPLY[name](images, level, value_max), 0.0, value_max)


def accuracy_at(
    model: Any, images01: np.ndarray, labels: np.ndarray, name: str, level: float, value_max: float
) -> float:
    """Test accuracy of `model` on 0..1 images perturbed at `level` (applied in the raw value range)."""
    raw = np.asarray(images01, dtype=np.float64) * value_max
    perturbed = (perturb(raw, name, level, value_max) / value_max).astype(np.float32)
    predicted = np.asarray(model.predict(perturbed, batch_size=1024, verbose=0)).argmax(axis=1)
    return accuracy(labels, predicted)


def robustness_curve(
    run: StoredRun,
    name: str,
    levels: tuple[float, ...] | list[float] | None = None,
    *,
    model: Any = None,
    dataset: Dataset | None = None,
) -> RobustnessCurve:
    """Accuracy of a stored run's model on its test set at each level; level 0 from the stored predictions.

    Kept per run in the store (`engine.probes.stored`). `model` and `dataset` may be handed in when already loaded
    (the dashboard's shared copies); the dataset's fingerprint is checked against the run's.
    """
    levels = validate_levels(name, levels)

    def compute() -> RobustnessCurve:
        labels = run.test_labels()
        stored = run.test_probabilities().argmax(axis=1)
        needs_model = any(level != 0 for level in levels)
        images01, value_max = test_images(run, dataset) if needs_model else (None, 0.0)
        loaded = (model if model is not None else run.load_model()) if needs_model else None
        scores = []
        for level in levels:
            if level == 0:
                scores.append(accuracy(labels, stored))
            else:
                # The cast: a level other than 0 made `needs_model` true, so the images were read.
                scores.append(accuracy_at(loaded, cast(np.ndarray, images01), labels, name, level, value_max))
        return RobustnessCurve(run.run_id, name, PERTURBATIONS[name].unit, levels, tuple(scores))

    params = {"perturbation": name, "levels": list(levels), "noise_seed": NOISE_SEED}
    return cached_probe(run, "robustness", params, compute, RobustnessCurve.to_dict, RobustnessCurve.from_dict)

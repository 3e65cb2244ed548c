"""Explanations of single predictions: Grad-CAM, saliency (vanilla and SmoothGrad), integrated gradients and
occlusion, for any stored run, and the deletion test that measures how faithful they are.

The model is never re-wired into a new functional graph (what gives Keras' Grad-CAM example its "Graph
disconnected" on Sequential models): the input is pushed through `model.layers` one by one under a
GradientTape, so any intermediate activation can be watched, whatever the spec (BatchNorm, dropout, merged
classes, 8x8 or 28x28). Gradients are taken of the output layer's pre-activation (the logit), which does not
saturate the way a softmax probability does. Images are 0..1 floats shaped (N, H, W, 1), as the model was trained.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from engine.errors import InvalidConfig, InvalidDataFile
from engine.limits import ProbeLimits
from engine.npy_header import check_npy_header
from engine.probes.checks import validate_probe_images
from engine.probes.run_data import test_images
from engine.store import StoredRun
from engine.test_time_views import fold_views

METHODS = ("gradcam", "saliency", "integrated-gradients", "occlusion")


@dataclass(frozen=True)
class ExplainSettings:
    """How one explanation is computed; defaults suit 8x8 and 28x28 digits."""

    method: str = "gradcam"
    layer: str | None = None  # Grad-CAM's conv layer; None = the last one
    smooth_samples: int = 0  # saliency: 0 = vanilla gradient, n > 0 = SmoothGrad over n noisy copies
    smooth_noise: float = 0.15  # SmoothGrad noise standard deviation, as a fraction of the 0..1 range
    ig_steps: int = 32  # integrated gradients: midpoint Riemann steps from the black-image baseline
    patch: int = 2  # occlusion: square patch side in pixels, slid with stride 1 and filled with 0 (background)
    seed: int = 0  # SmoothGrad's noise

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise InvalidConfig(f"Unknown explanation method {self.method[:40]!r}; choose one of {', '.join(METHODS)}.")
        if not 0 <= self.smooth_samples <= 200:
            raise InvalidConfig(f"SmoothGrad samples must be 0..200, got {self.smooth_samples}")
        if not 1 <= self.ig_steps <= 512:
            raise InvalidConfig(f"integrated-gradients steps must be 1..512, got {self.ig_steps}")
        if not 1 <= self.patch <= 28:
            raise InvalidConfig(f"the occlusion patch must be 1..28 pixels, got {self.patch}")


@dataclass(frozen=True)
class Explanation:
    """Heatmaps (N, H, W) for N images; higher = more evidence for the explained class."""

    method: str
    layer: str | None  # the conv layer Grad-CAM used
    targets: tuple[int, ...]  # the class explained for each image
    predicted: tuple[int, ...]
    probabilities: np.ndarray = field(repr=False)  # (N, classes)
    heatmaps: np.ndarray = field(repr=False)  # (N, H, W)

    def to_dict(self) -> dict:
        return {
            "method": self.method,
            "layer": self.layer,
            "targets": list(self.targets),
            "predicted": list(self.predicted),
            "probabilities": np.asarray(self.probabilities, dtype=float).tolist(),
            "heatmaps": np.asarray(self.heatmaps, dtype=float).tolist(),
        }


# --------------------------------------------------------------------------------------------------------------
# The forward pass, layer by layer


def conv_layer_names(model: Any) -> list[str]:
    return [layer.name for layer in model.layers if type(layer).__name__ == "Conv2D"]


def _forward(model: Any, x: Any, capture: str | None = None) -> tuple[Any, Any, Any]:
    """(logits, probabilities, captured activation) for a batch; `capture` names a layer whose output to return."""
    import keras

    captured = None
    *body, last = model.layers
    for layer in body:
        x = layer(x, training=False)
        if layer.name == capture:
            captured = x
    if type(last).__name__ == "Dense":
        logits = keras.ops.matmul(x, last.kernel) + last.bias
        probabilities = last.activation(logits)
    else:  # an output layer without weights of its own: explain its output directly
        logits = probabilities = last(x, training=False)
    return logits, probabilities, captured


def _probabilities(model: Any, images01: np.ndarray) -> np.ndarray:
    import tensorflow as tf

    _, probabilities, _ = _forward(model, tf.constant(images01, dtype=tf.float32))
    return np.asarray(probabilities, dtype=np.float64)


def _input_gradients(model: Any, images01: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """d logit[target] / d input, (N, H, W, 1)."""
    import tensorflow as tf

    x = tf.constant(images01, dtype=tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(x)
        logits, _, _ = _forward(model, x)
        picked = tf.gather(logits, tf.constant(targets, dtype=tf.int32), axis=1, batch_dims=1)
    return np.asarray(tape.gradient(picked, x), dtype=np.float64)


# --------------------------------------------------------------------------------------------------------------
# The methods


def gradcam(model: Any, images01: np.ndarray, targets: np.ndarray, layer: str | None = None) -> tuple[np.ndarray, str]:
    """Grad-CAM (Selvaraju et al.): ReLU of the conv maps weighted by their mean gradient, resized to the input."""
    import tensorflow as tf

    names = conv_layer_names(model)
    if not names:
        raise InvalidConfig("This model has no convolution layer, so Grad-CAM has nothing to weigh; use saliency.")
    layer = layer or names[-1]
    if layer not in names:
        raise InvalidConfig(f"Grad-CAM needs a conv layer: this model has {', '.join(names)}, not {layer[:40]!r}.")
    x = tf.constant(images01, dtype=tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(x)  # so every op from the input on is recorded, whatever the layers' variables
        logits, _, maps = _forward(model, x, capture=layer)
        picked = tf.gather(logits, tf.constant(targets, dtype=tf.int32), axis=1, batch_dims=1)
    grads = tape.gradient(picked, maps)
    weights = tf.reduce_mean(grads, axis=(1, 2), keepdims=True)
    cam = tf.nn.relu(tf.reduce_sum(weights * maps, axis=-1, keepdims=True))
    h, w = images01.shape[1:3]
    if tuple(cam.shape[1:3]) != (h, w):
        cam = tf.image.resize(cam, (h, w), method="bilinear")
    # A model with test-time mirror views computed its maps for each image and its mirror: both count.
    return fold_views(np.asarray(cam, dtype=np.float64), len(images01))[..., 0], layer


def saliency(
    model: Any, images01: np.ndarray, targets: np.ndarray, samples: int = 0, noise: float = 0.15, seed: int = 0
) -> np.ndarray:
    """|d logit / d pixel|; with samples > 0, SmoothGrad: the mean of it over noisy copies of each image."""
    if samples == 0:
        return np.abs(_input_gradients(model, images01, targets))[..., 0]
    rng = np.random.default_rng(seed)
    # All noisy copies in one batch, sample-major: one gradient pass instead of `samples`.
    noisy = (images01[None] + rng.normal(0.0, noise, size=(samples, *images01.shape))).astype(np.float32)
    grads = _input_gradients(model, noisy.reshape(-1, *images01.shape[1:]), np.tile(targets, samples))
    return np.abs(grads).reshape(samples, *images01.shape).mean(axis=0)[..., 0]


def integrated_gradients(model: Any, images01: np.ndarray, targets: np.ndarray, steps: int = 32) -> np.ndarray:
    """(x - baseline) x the mean gradient along the straight path from a black baseline (Sundararajan et al.).

    Signed: positive pixels push the explained class's logit up. The attributions sum to about
    logit(x) - logit(baseline) (completeness), closer as `steps` grows.
    """
    baseline = np.zeros_like(images01)
    alphas = ((np.arange(steps) + 0.5) / steps).reshape(-1, 1, 1, 1, 1)
    # Every step of every image in one batch, step-major: one gradient pass instead of `steps`.
    points = (baseline[None] + alphas * (images01 - baseline)[None]).astype(np.float32)
    grads = _input_gradients(model, points.reshape(-1, *images01.shape[1:]), np.tile(targets, steps))
    mean_grads = grads.reshape(steps, *images01.shape).mean(axis=0)
    return ((images01 - baseline) * mean_grads)[..., 0]


def occlusion(model: Any, images01: np.ndarray, targets: np.ndarray, patch: int = 2) -> np.ndarray:
    """Drop in the explained class's probability when a patch x patch square is blanked, averaged per pixel over
    every patch position covering it (stride 1)."""
    n, h, w = images01.shape[:3]
    if patch > min(h, w):
        raise InvalidConfig(f"the occlusion patch ({patch} pixels) must fit in the {h}x{w} image")
    heat = np.zeros((n, h, w))
    for i in range(n):
        image = images01[i]
        base = _probabilities(model, image[None])[0, targets[i]]
        positions = [(r, c) for r in range(h - patch + 1) for c in range(w - patch + 1)]
        batch = np.repeat(image[None], len(positions), axis=0)
        for k, (r, c) in enumerate(positions):
            batch[k, r : r + patch, c : c + patch] = 0.0
        drops = base - _probabilities(model, batch)[:, targets[i]]
        covered = np.zeros((h, w))
        for (r, c), drop in zip(positions, drops, strict=True):
            heat[i, r : r + patch, c : c + patch] += drop
            covered[r : r + patch, c : c + patch] += 1
        heat[i] /= covered
    return heat


def explain_images(
    model: Any,
    images01: np.ndarray,
    settings: ExplainSettings,
    target: int | None = None,
    *,
    targets: Sequence[int] | None = None,
) -> Explanation:
    """Explain the model's answer on 0..1 images (N, H, W, 1): for `target`, for `targets` (one class per image,
    such as each test image's true class), or else each image's predicted class."""
    images01 = np.asarray(images01, dtype=np.float32)
    if images01.ndim == 3:
        images01 = images01[..., None]
    probabilities = _probabilities(model, images01)
    predicted = probabilities.argmax(axis=1)
    num_classes = probabilities.shape[1]
    if target is not None and targets is not None:
        raise InvalidConfig("give one class to explain for all images, or one per image, not both")
    asked = [target] if targets is None else list(targets)
    if targets is not None and len(asked) != len(images01):
        raise InvalidConfig(f"{len(asked)} classes to explain for {len(images01)} images; give one per image")
    for wanted in asked:
        if wanted is not None and not (isinstance(wanted, int | np.integer) and 0 <= wanted < num_classes):
            raise InvalidConfig(f"the class to explain must be 0..{num_classes - 1} for this model, got {wanted!r}")
    classes: np.ndarray  # the class each image is explained for
    if targets is not None:
        classes = np.asarray(asked, dtype=np.int64)
    else:
        classes = predicted if target is None else np.full(len(images01), target)
    layer = None
    if settings.method == "gradcam":
        heatmaps, layer = gradcam(model, images01, classes, settings.layer)
    elif settings.method == "saliency":
        heatmaps = saliency(model, images01, classes, settings.smooth_samples, settings.smooth_noise, settings.seed)
    elif settings.method == "integrated-gradients":
        heatmaps = integrated_gradients(model, images01, classes, settings.ig_steps)
    else:
        heatmaps = occlusion(model, images01, classes, settings.patch)
    return Explanation(
        settings.method,
        layer,
        tuple(int(t) for t in classes),
        tuple(int(p) for p in predicted),
        probabilities,
        heatmaps,
    )


# --------------------------------------------------------------------------------------------------------------
# Stored runs and files


def load_image_file(path: str | Path, image_hw: tuple[int, int], value_max: float) -> np.ndarray:
    """A raw (H, W) or (N, H, W) .npy image file, size-checked, loaded without pickle, and validated."""
    path = Path(path)
    if not path.is_file():
        raise InvalidDataFile(f"no image file {str(path)[:200]!r}")
    most = ProbeLimits().max_explain_file_bytes
    if path.stat().st_size > most:  # checked before reading: the file is untrusted
        raise InvalidDataFile(f"{path.name[:80]!r} is {path.stat().st_size:,} bytes; an image file may hold {most:,}")
    return read_image_array(path.read_bytes(), path.name, image_hw, value_max)


def read_image_array(data: bytes, name: str, image_hw: tuple[int, int], value_max: float) -> np.ndarray:
    """The bytes of a raw (H, W) or (N, H, W) .npy image array (a file, or an upload on the Explain page):
    size-checked, loaded without pickle, and validated by `validate_probe_images`, as `--image` is."""
    import io

    most = ProbeLimits().max_explain_file_bytes
    if len(data) > most:
        raise InvalidDataFile(f"{name[:80]!r} is {len(data):,} bytes; an image file may hold {most:,}")
    # The header is checked against the bytes first: NumPy would allocate whatever size it declares.
    if not data.startswith(b"PK"):  # an .npz (a zip) is refused below with its own message
        check_npy_header(io.BytesIO(data), len(data), repr(name[:80]), InvalidDataFile, max_dims=3)
    try:
        array = np.load(io.BytesIO(data), allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise InvalidDataFile(f"{name[:80]!r} is not a plain numeric .npy array ({str(exc)[:200]})") from exc
    if not isinstance(array, np.ndarray):
        raise InvalidDataFile(f"{name[:80]!r} is an .npz archive; give one .npy array")
    return validate_probe_images(array, image_hw, value_max)


def explain_run(
    run: StoredRun,
    settings: ExplainSettings,
    *,
    index: int | None = None,
    image_file: str | Path | None = None,
    target: int | None = None,
) -> Explanation:
    """Explain a stored run's prediction on test image `index`, or on the raw images in `image_file`."""
    if (index is None) == (image_file is None):
        raise InvalidConfig("give exactly one of a test-set index or an image file")
    h, w = (int(d) for d in run.meta["dataset"]["image_shape"][:2])
    value_max = float(run.meta["dataset"]["value_max"])
    if image_file is not None:
        images01 = load_image_file(image_file, (h, w), value_max) / value_max
    else:
        x_test, _ = test_images(run)
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(x_test):
            raise InvalidConfig(f"the test-set index must be 0..{len(x_test) - 1}, got {index!r}")
        images01 = x_test[index : index + 1]
    return explain_images(run.load_model(), images01, settings, target)


# --------------------------------------------------------------------------------------------------------------
# Faithfulness


@dataclass(frozen=True)
class DeletionTest:
    """Mean drop of the true-class probability when the k top-ranked pixels, or k random ink pixels, are blanked."""

    method: str
    k: int
    n_images: int
    explained_drop: float
    random_drop: float

    @property
    def ratio(self) -> float:
        return self.explained_drop / self.random_drop if self.random_drop > 0 else float("inf")


def deletion_test(
    model: Any, images01: np.ndarray, labels: np.ndarray, heatmaps: np.ndarray, k: int, method: str = "", seed: int = 0
) -> DeletionTest:
    """Blank (set to 0) each image's k highest-ranked pixels, and separately k random pixels of its ink (pixels
    above 0; topped up with random background pixels when the digit has fewer), and compare the drops."""
    images01 = np.asarray(images01, dtype=np.float32)
    if images01.ndim == 3:
        images01 = images01[..., None]
    n, h, w = images01.shape[:3]
    rng = np.random.default_rng(seed)
    explained, random = images01.copy(), images01.copy()
    for i in range(n):
        flat = images01[i, ..., 0].ravel()
        top = np.argsort(-np.asarray(heatmaps[i]).ravel(), kind="stable")[:k]
        ink, background = np.flatnonzero(flat > 0), np.flatnonzero(flat <= 0)
        chosen = rng.choice(ink, size=min(k, len(ink)), replace=False)
        if len(chosen) < k:
            chosen = np.concatenate([chosen, rng.choice(background, size=k - len(chosen), replace=False)])
        explained[i, ..., 0].flat[top] = 0.0
        random[i, ..., 0].flat[chosen] = 0.0
    rows = np.arange(n)
    before = _probabilities(model, images01)[rows, labels]
    after_explained = _probabilities(model, explained)[rows, labels]
    after_random = _probabilities(model, random)[rows, labels]
    return DeletionTest(method, k, n, float((before - after_explained).mean()), float((before - after_random).mean()))

"""Look inside a trained CNN: predictions, the test images it gets wrong, the activations of every conv/pooling
layer, first-layer kernels, and a hand-drawn digit turned into exactly the kind of image the model was trained on.

Images handed to the model are 0..1 floats shaped (h, w, 1): raw dataset values divided by the dataset's
`value_max` (see `engine.datasets.normalised`). Keras is imported lazily, as everywhere in the engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.errors import DigitLabError

ACTIVATION_LAYER_KINDS = ("Conv2D", "MaxPooling2D", "AveragePooling2D")  # seed 002 shows conv and pooling outputs
INK_THRESHOLD = 0.1  # canvas intensity (0..1) above which a pixel counts as drawn


class EmptyDrawing(DigitLabError):
    """The canvas holds no strokes, so there is no digit to classify."""


# --------------------------------------------------------------------------------------------------------------
# Model queries


def _batch(image01: np.ndarray, input_shape: tuple[int, ...]) -> np.ndarray:
    image = np.asarray(image01, dtype=np.float32)
    if image.shape == tuple(input_shape)[:2]:
        image = image[..., None]
    if image.shape != tuple(input_shape):
        raise ValueError(f"the model expects images shaped {tuple(input_shape)}, got {image.shape}")
    return image[None]


def _input_shape(model: Any) -> tuple[int, ...]:
    return tuple(int(d) for d in model.inputs[0].shape[1:])


def predict(model: Any, image01: np.ndarray) -> np.ndarray:
    """Class probabilities (num_classes,) for one 0..1 image."""
    out = model(_batch(image01, _input_shape(model)), training=False)
    return np.asarray(out, dtype=np.float64)[0]


@dataclass(frozen=True)
class ActivationExtractor:
    """A Keras model that returns the output of every conv and pooling layer at once (build once per run)."""

    model: Any
    layers: tuple[tuple[str, str], ...]  # (layer name, Keras class name), in network order
    input_shape: tuple[int, ...]

    def __call__(self, image01: np.ndarray) -> list[tuple[str, str, np.ndarray]]:
        # A list matches the functional model's input structure (Keras warns on a bare tensor).
        outputs = self.model([_batch(image01, self.input_shape)], training=False)
        if not isinstance(outputs, (list, tuple)):
            outputs = [outputs]
        return [(name, kind, np.asarray(out)[0]) for (name, kind), out in zip(self.layers, outputs, strict=True)]


def activation_extractor(model: Any) -> ActivationExtractor:
    import keras

    chosen = [layer for layer in model.layers if type(layer).__name__ in ACTIVATION_LAYER_KINDS]
    if not chosen:
        raise DigitLabError("This model has no convolution or pooling layers, so it has no feature maps to show.")
    extractor = keras.Model(inputs=model.inputs, outputs=[layer.output for layer in chosen])
    return ActivationExtractor(
        extractor, tuple((layer.name, type(layer).__name__) for layer in chosen), _input_shape(model)
    )


def layer_activations(model: Any, image01: np.ndarray) -> list[tuple[str, str, np.ndarray]]:
    """[(layer name, kind, activations (h, w, channels))] for every conv and pooling layer, for one image.

    Pass a `ActivationExtractor` instead of the model to skip rebuilding the activation model.
    """
    extractor = model if isinstance(model, ActivationExtractor) else activation_extractor(model)
    return extractor(image01)


def mistake_indices(y_true: np.ndarray, probabilities: np.ndarray) -> np.ndarray:
    """Test-set positions of the images the model gets wrong (arg-max prediction != label), in test-set order.

    Test-set order, not most-confident-first like `engine.evaluation.misclassified`: Inspect's seeded
    "Random mistake" picks from this array, so its order must not change with the scores.
    """
    labels, scores = np.asarray(y_true), np.asarray(probabilities)
    if scores.ndim != 2 or labels.shape != scores.shape[:1]:
        raise ValueError(
            f"need one probability row per label, got labels shaped {labels.shape} and "
            f"probabilities shaped {scores.shape}"
        )
    return np.flatnonzero(scores.argmax(axis=1) != labels)


def display_normalise(activation_map: np.ndarray) -> np.ndarray:
    """Seed 002's display scaling of one map: subtract the mean, divide by the std (if > 0), *64 + 128, clip 0..255."""
    x = np.asarray(activation_map, dtype=np.float64)
    x = x - x.mean()
    std = x.std()
    if std > 0:
        x = x / std
    return np.clip(x * 64 + 128, 0, 255).astype(np.uint8)


def layer_display(activations: np.ndarray, per_map: bool = True) -> np.ndarray:
    """(channels, h, w) images of one layer's maps: seed 002's per-map scaling (0..255), or the raw activations."""
    maps = np.transpose(np.asarray(activations), (2, 0, 1))
    if not per_map:
        return maps.astype(np.float64)
    return np.stack([display_normalise(m) for m in maps]).astype(np.float64)


def first_layer_kernels(model: Any) -> np.ndarray:
    """(filters, k, k) weights of the first convolution (summed over input channels; the digits have one)."""
    for layer in model.layers:
        if type(layer).__name__ == "Conv2D":
            kernel = np.asarray(layer.get_weights()[0])  # (k, k, in_channels, filters)
            return np.transpose(kernel.sum(axis=2), (2, 0, 1))
    raise DigitLabError("This model has no convolution layer, so it has no kernels to show.")


# --------------------------------------------------------------------------------------------------------------
# Hand-drawn digits


def _intensity(rgba: np.ndarray) -> np.ndarray:
    """0..1 ink from a canvas image: brightness of the stroke, where the canvas is opaque (white on black)."""
    rgba = np.asarray(rgba, dtype=np.float64)
    if rgba.ndim == 2:
        return np.clip(rgba / (255.0 if rgba.max() > 1 else 1.0), 0, 1)
    scale = 255.0 if rgba.max() > 1 else 1.0
    gray = rgba[..., :3].mean(axis=-1) / scale
    if rgba.shape[-1] == 4:
        gray = gray * (rgba[..., 3] / scale)
    return np.clip(gray, 0, 1)


def _resize(image: np.ndarray, height: int, width: int) -> np.ndarray:
    from PIL import Image

    pil = Image.fromarray(image.astype(np.float32), mode="F")
    return np.asarray(pil.resize((max(1, width), max(1, height)), Image.Resampling.LANCZOS), dtype=np.float64)


def _crop_to_ink(ink: np.ndarray) -> np.ndarray:
    rows = np.flatnonzero((ink > INK_THRESHOLD).any(axis=1))
    cols = np.flatnonzero((ink > INK_THRESHOLD).any(axis=0))
    if len(rows) == 0:
        raise EmptyDrawing("The canvas is empty: draw a digit first.")
    return ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def _fit(crop: np.ndarray, box: int) -> np.ndarray:
    """Scale so the longer side is `box` pixels, keeping the aspect ratio (a '1' stays thin)."""
    h, w = crop.shape
    scale = box / max(h, w)
    return np.clip(_resize(crop, max(1, round(h * scale)), max(1, round(w * scale))), 0, 1)


def _mnist_like(ink: np.ndarray, height: int, width: int) -> np.ndarray:
    """MNIST's recipe: fit the digit in a 20x20 box (for 28x28), then centre its centre of mass in the image."""
    box = max(1, round(min(height, width) * 20 / 28))
    digit = _fit(_crop_to_ink(ink), box)
    out = np.zeros((height, width))
    total = digit.sum()
    ys, xs = np.indices(digit.shape)
    com_y = (ys * digit).sum() / total if total > 0 else digit.shape[0] / 2
    com_x = (xs * digit).sum() / total if total > 0 else digit.shape[1] / 2
    top = int(round((height - 1) / 2 - com_y))
    left = int(round((width - 1) / 2 - com_x))
    # Paste with clipping: a lopsided digit may be shifted partly past an edge, as in MNIST itself.
    y0, x0 = max(0, top), max(0, left)
    y1, x1 = min(height, top + digit.shape[0]), min(width, left + digit.shape[1])
    out[y0:y1, x0:x1] = digit[y0 - top : y1 - top, x0 - left : x1 - left]
    return out


def _uci_like(ink: np.ndarray, height: int, width: int, block: int = 4) -> np.ndarray:
    """UCI optdigits' recipe: a (4h x 4w) bitmap of the size-normalised digit, on-pixels counted per 4x4 block.

    Returns counts scaled to 0..1 (count / 16).
    """
    big_h, big_w = height * block, width * block
    digit = _fit(_crop_to_ink(ink), min(big_h, big_w))
    bitmap = np.zeros((big_h, big_w))
    top, left = (big_h - digit.shape[0]) // 2, (big_w - digit.shape[1]) // 2
    bitmap[top : top + digit.shape[0], left : left + digit.shape[1]] = digit > 0.5
    counts = bitmap.reshape(height, block, width, block).sum(axis=(1, 3))
    return counts / (block * block)


def prepare_drawing(rgba: np.ndarray, image_shape: tuple[int, ...], value_max: float) -> np.ndarray:
    """A canvas drawing (white strokes on black, RGBA or gray) as a raw-range image shaped `image_shape`.

    8x8 inputs follow the UCI optdigits recipe (integer counts 0..16, scaled to `value_max`); every other size
    follows MNIST's (20x20 box in 28x28, centred by centre of mass). Divide by `value_max` for the model.
    Raises `EmptyDrawing` when nothing was drawn.
    """
    height, width = int(image_shape[0]), int(image_shape[1])
    channels = int(image_shape[2]) if len(image_shape) > 2 else 1
    ink = _intensity(rgba)
    if (height, width) == (8, 8):
        image01 = _uci_like(ink, height, width)
        raw = np.round(image01 * 16) * (value_max / 16)
    else:
        raw = _mnist_like(ink, height, width) * value_max
        if float(value_max).is_integer():
            raw = np.round(raw)
    raw = raw.astype(np.float32)
    return np.repeat(raw[..., None], channels, axis=-1)

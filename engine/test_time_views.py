"""Test-time mirror views: Keras layers of Digit Lab's own that make a model predict each image from the image and
its left-right mirror together, and that a stored model therefore holds.

A model built with them (`TrainConfig.test_time_mirror`) trains exactly as one without: while training both layers
pass their input through. When predicting, `MirrorViews` (right after the input) stacks each batch of N images on
its N mirror images, every layer between works on the 2N rows image by image (dropout is off and batch
normalisation uses its moving statistics), and `MeanOfViews` (right before the output layer) averages each image's
two feature vectors. The output layer is linear up to its activation, so the model's logits are the mean of the
two views' logits. Because the views live inside the stored model, every page that predicts from it (Evaluate,
Inspect, Explain's attributions and attacks, calibration, robustness, the classroom's scoring, the exported
notebook) sees one and the same model; nothing has to remember to apply them.

This module sits in the engine's lowest layer: the store loads these layers (`StoredRun.load_model`) and the
architecture builder places them, and neither may import the other. Keras is imported only when the layers are
first asked for, so importing this module costs nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import numpy as np

MIRROR_LAYER = "test_time_mirror"  # the layer names in a built model
MEAN_LAYER = "test_time_mean"


@lru_cache(maxsize=1)
def view_layers() -> dict[str, type]:
    """{class name: class} of the two layers, registered with Keras for saving and loading (built once)."""
    import keras

    @keras.saving.register_keras_serializable(package="digitlab")
    class MirrorViews(keras.layers.Layer):
        """Predicting: a batch of N images becomes 2N, the images then their left-right mirrors. Training: as is."""

        def call(self, images: Any, training: Any = None) -> Any:
            if training:
                return images
            return keras.ops.concatenate([images, keras.ops.flip(images, axis=2)], axis=0)

        def compute_output_shape(self, input_shape: Any) -> Any:
            return input_shape

    @keras.saving.register_keras_serializable(package="digitlab")
    class MeanOfViews(keras.layers.Layer):
        """Predicting: 2N rows (N images, then the N mirrors) become the N means of each pair. Training: as is."""

        def call(self, features: Any, training: Any = None) -> Any:
            if training:
                return features
            pairs = keras.ops.reshape(features, (2, -1, *features.shape[1:]))
            return keras.ops.mean(pairs, axis=0)

        def compute_output_shape(self, input_shape: Any) -> Any:
            return input_shape

    return {"MirrorViews": MirrorViews, "MeanOfViews": MeanOfViews}


def has_mirror_views(meta: Mapping) -> bool:
    """Whether a stored run's model predicts with the mirror views, from its meta (untrusted: only a true bool
    counts)."""
    config = meta.get("config") if isinstance(meta, Mapping) else None
    return isinstance(config, Mapping) and config.get("test_time_mirror") is True


def prediction_views(test_time_mirror: bool) -> int:
    """How many views of each image a prediction runs the network on: 2 with the mirror views, else 1."""
    return 2 if test_time_mirror else 1


def mirror_views_layer() -> Any:
    return view_layers()["MirrorViews"](name=MIRROR_LAYER)


def mean_of_views_layer() -> Any:
    return view_layers()["MeanOfViews"](name=MEAN_LAYER)


def fold_views(maps: np.ndarray, images: int) -> np.ndarray:
    """Per-image maps (N, H, W, ...) from maps computed inside a mirror-view model (2N: the images, then their
    mirrors): each image's map plus its mirror's map flipped back, so both views' evidence lands on the pixels it
    came from. Maps with one row per image (a model without views) are returned as they are."""
    maps = np.asarray(maps)
    if len(maps) == images:
        return maps
    if len(maps) != 2 * images:
        raise ValueError(f"expected {images} or {2 * images} maps, got {len(maps)}")
    return maps[:images] + maps[images:, :, ::-1]

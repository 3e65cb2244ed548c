"""The random shifts, rotations and zooms a config can apply to training batches, as one Keras model; and what a
user should hear before flipping images whose mirror image is another thing (the flips themselves live in
`engine.training.pipeline`)."""

from __future__ import annotations

from typing import Any

from engine.training.config import TrainConfig


def augmenter(config: TrainConfig) -> Any:
    """A `keras.Sequential` of the config's augmentation layers, seeded with the run's seed."""
    import keras
    from keras import layers

    parts = []
    if config.augment_shift:
        parts.append(
            layers.RandomTranslation(config.augment_shift, config.augment_shift, fill_mode="constant", seed=config.seed)
        )
    if config.augment_rotation:
        parts.append(layers.RandomRotation(config.augment_rotation / 360.0, fill_mode="constant", seed=config.seed))
    if config.augment_zoom:
        parts.append(layers.RandomZoom(config.augment_zoom, fill_mode="constant", seed=config.seed))
    return keras.Sequential(parts, name="augmentation")


def flip_notice(config: TrainConfig, class_names: tuple[str, ...] | list[str]) -> str:
    """A warning when left-right flips are on for a dataset whose classes are digits ("" otherwise): most mirrored
    digits are no digit of their class, so the flips teach the model wrong labels. Not refused: seeing what that
    costs is a fair experiment."""
    if not config.augment_flip or not class_names or not all(str(name).isdigit() for name in class_names):
        return ""
    return (
        "Left-right flips are on, and this dataset's classes are digits: a mirrored 2, 3, 4, 5, 6, 7 or 9 is no "
        "digit of its class, so every flipped one teaches the model a wrong label. Flips suit clothing "
        "(Fashion-MNIST); turn them off in Training settings unless that is the experiment."
    )

"""The random shifts, rotations and zooms a config can apply to training batches, as one Keras model."""

from __future__ import annotations

from engine.training.config import TrainConfig


def augmenter(config: TrainConfig):
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

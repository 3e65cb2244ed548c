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
    """A warning when left-right flips or the test-time mirror are on for a dataset whose classes are digits (""
    otherwise): most mirrored digits are no digit of their class, so the flips teach the model wrong labels and
    the mirror views ask it about images that are no digit. Not refused: seeing what that costs is a fair
    experiment."""
    mirrors = [
        part
        for on, part in (
            (config.augment_flip, "Left-right flips are on"),
            (config.test_time_mirror, "the model predicts from each image and its mirror (mirror views)"),
        )
        if on
    ]
    if not mirrors or not class_names or not all(str(name).isdigit() for name in class_names):
        return ""
    what = " and ".join(mirrors)
    return (
        f"{what[0].upper()}{what[1:]}, and this dataset's classes are digits: a mirrored 2, 3, 4, 5, 6, 7 or 9 is "
        "no digit of its class, so a flipped training image teaches the model a wrong label and a mirrored view "
        "asks it about a shape that is no digit. Mirrors suit clothing (Fashion-MNIST); turn them off in Training "
        "settings unless that is the experiment."
    )


def mirror_views_notice(config: TrainConfig) -> str:
    """A warning when a model is to predict with the mirror views without ever training on a mirrored image (""
    otherwise). Its answers for the mirror are then guesses about shapes it never saw, and they count as much
    as the image's own: digitlab-sprint28-v2 fell from 0.91 to 0.80 on its Fashion-MNIST validation split
    (bench/README.md). Not refused: seeing that is a fair experiment."""
    if not config.test_time_mirror or config.augment_flip:
        return ""
    return (
        "The model predicts from each image and its mirror (mirror views) but never trains on a mirrored image: "
        "random left-right flips are off. Its answers for the mirrors then count as much as those for the "
        "images themselves; on Fashion-MNIST the sprint preset fell from 91 % to 80 % validation accuracy that "
        "way. Turn on random left-right flips as well, or the mirror views off."
    )

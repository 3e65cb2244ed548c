"""Planted label noise for the label-issue search: `NoiseSpec` and `plant_label_noise`.

They are defined in `engine.datasets.noise`, beside the registry that rebuilds a noisy dataset from its name (so the
fold runs of noisy data open on every page and in every worker); this module is where the diagnostics take them from.
"""

from engine.datasets.noise import (
    MAX_NOISE_FRACTION,
    NoiseSpec,
    NoisyDataset,
    noisy_name,
    parse_noisy_name,
    plant_label_noise,
    validate_noise,
)

__all__ = [
    "MAX_NOISE_FRACTION",
    "NoiseSpec",
    "NoisyDataset",
    "noisy_name",
    "parse_noisy_name",
    "plant_label_noise",
    "validate_noise",
]

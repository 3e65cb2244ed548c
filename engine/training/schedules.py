"""The learning rate a run's optimizer follows: constant, cosine decay (optionally after a linear warm-up), or
one-cycle. Built from Keras' own `CosineDecay`, so a saved model's optimizer reloads without engine code."""

from __future__ import annotations

from typing import Any

from engine.architectures.spec import ModelSpec
from engine.training.config import TrainConfig


def learning_rate(spec: ModelSpec, config: TrainConfig, steps_per_epoch: int) -> Any:
    """The spec's learning rate, or a Keras schedule over all of the run's steps when the config names one."""
    import keras

    total = max(1, steps_per_epoch * config.epochs)
    if config.lr_schedule == "one_cycle":
        # Warm up from lr/25 to lr over the first 30 % of steps, then cosine-anneal to ~0 (Smith's one-cycle).
        return _warm_cosine(spec.learning_rate, total, warmup=max(1, int(0.3 * total)))
    if config.lr_schedule == "cosine":
        warmup = warmup_steps(config, total)
        if warmup:
            # Large batches start from the full rate badly (BatchNorm statistics and Adam's moments are still
            # settling): warm up linearly from lr/25, as one-cycle does, then decay to 0 over the remaining steps.
            return _warm_cosine(spec.learning_rate, total, warmup)
        return keras.optimizers.schedules.CosineDecay(spec.learning_rate, decay_steps=total, alpha=0.0)
    return spec.learning_rate


def _warm_cosine(peak: float, total_steps: int, warmup: int) -> Any:
    """Linear warm-up from peak/25 to `peak` over `warmup` steps, then cosine decay to 0 over the remaining steps:
    the shape one-cycle and the warmed-up cosine schedule share."""
    import keras

    return keras.optimizers.schedules.CosineDecay(
        peak / 25,
        decay_steps=max(1, total_steps - warmup),
        alpha=0.0,
        warmup_target=peak,
        warmup_steps=warmup,
    )


def warmup_steps(config: TrainConfig, total_steps: int) -> int:
    """Steps of the cosine schedule's linear warm-up: `warmup_fraction` of all steps, rounded down; 0 = none."""
    return int(config.warmup_fraction * total_steps) if config.warmup_fraction else 0

"""The learning rate a run's optimizer follows: constant, cosine decay, or one-cycle."""

from __future__ import annotations

from engine.architectures.spec import ModelSpec
from engine.training.config import TrainConfig


def learning_rate(spec: ModelSpec, config: TrainConfig, steps_per_epoch: int):
    """The spec's learning rate, or a Keras schedule over all of the run's steps when the config names one."""
    import keras

    total = max(1, steps_per_epoch * config.epochs)
    if config.lr_schedule == "one_cycle":
        # Warm up from lr/25 to lr over the first 30 % of steps, then cosine-anneal to ~0 (Smith's one-cycle).
        warmup = max(1, int(0.3 * total))
        return keras.optimizers.schedules.CosineDecay(
            spec.learning_rate / 25,
            decay_steps=max(1, total - warmup),
            alpha=0.0,
            warmup_target=spec.learning_rate,
            warmup_steps=warmup,
        )
    if config.lr_schedule == "cosine":
        return keras.optimizers.schedules.CosineDecay(spec.learning_rate, decay_steps=total, alpha=0.0)
    return spec.learning_rate

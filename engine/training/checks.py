"""The training config's checks: `validate_config_values` (types, finite numbers, ranges and choices; no dataset
needed, so shared links use it alone) and `validate_config` (those, then the checks against a dataset's size and
class count). Each raises `InvalidConfig` naming the setting, its value and the allowed range; the bounds come from
`engine.limits`, as do the dashboard's widget ranges. Requests go through `engine.validation.validate_request`.
"""

from __future__ import annotations

import math

from engine.errors import InvalidConfig
from engine.limits import TrainLimits, train_limits
from engine.training.config import LR_SCHEDULES, TrainConfig, check_types


def validate_config_values(config: TrainConfig, limits: TrainLimits | None = None) -> None:
    """The checks that need no dataset: types, finite numbers, ranges and choices (shared links use these alone)."""
    limits = limits or train_limits()
    check_types(config)
    _whole("Epochs", config.epochs, 1, limits.max_epochs)
    _whole("Batch size", config.batch_size, 1, limits.max_batch_size)
    if not 0 <= config.validation_split < 1:  # also refuses NaN, whose comparisons are all False
        raise InvalidConfig(
            f"Validation split must be in [0, 1), got {config.validation_split}. 0.1 or 0.2 is typical."
        )
    _whole("The seed", config.seed, 0, limits.max_seed)
    # Patience beyond the epoch cap could never trigger; the cap also bounds the dashboard's widget.
    _whole("Early-stopping patience (0 = off)", config.early_stopping_patience, 0, limits.max_epochs)
    if config.early_stopping_patience and not (config.validation_split or config.cv_folds):
        raise InvalidConfig("Early stopping watches the validation loss: set a validation split above 0.")
    if config.lr_schedule not in LR_SCHEDULES:
        raise InvalidConfig(f"Unknown learning-rate schedule {config.lr_schedule!r}; choose {', '.join(LR_SCHEDULES)}.")
    if not 0 <= config.label_smoothing <= limits.max_label_smoothing:
        raise InvalidConfig(
            f"Label smoothing must be in [0, {limits.max_label_smoothing:g}], got {config.label_smoothing}. "
            "0.1 is typical; 0 = off."
        )
    if not 0 <= config.warmup_fraction <= limits.max_warmup_fraction:
        raise InvalidConfig(
            f"The warm-up fraction must be in [0, {limits.max_warmup_fraction:g}] of all steps, "
            f"got {config.warmup_fraction}."
        )
    if config.warmup_fraction and config.lr_schedule != "cosine":
        own = "warms up over its own first 30 %" if config.lr_schedule == "one_cycle" else "has none"
        raise InvalidConfig(
            f"A warm-up fraction ({config.warmup_fraction:g}) applies to the cosine schedule only; the "
            f"{config.lr_schedule} schedule {own}. Set it to 0 or choose cosine."
        )
    if config.limit_train < 0:
        raise InvalidConfig(f"The training-subset size must be 0 (all) or positive, got {config.limit_train}.")
    # Checked with augmentation off too: these values are part of the run key, whose JSON refuses NaN.
    if not (
        0 <= config.augment_shift < 1
        and 0 <= config.augment_zoom < 1
        and 0 <= config.augment_rotation <= limits.max_augment_rotation
    ):
        raise InvalidConfig(
            f"Augmentation: shift and zoom must be fractions in [0, 1), rotation 0 to {limits.max_augment_rotation:g} "
            f"degrees; got shift {config.augment_shift}, zoom {config.augment_zoom}, "
            f"rotation {config.augment_rotation}."
        )
    if config.cv_folds:
        if not 2 <= config.cv_folds <= limits.max_cv_folds:
            raise InvalidConfig(f"Cross-validation needs 2 to {limits.max_cv_folds} folds, got {config.cv_folds}.")
        if not 0 <= config.cv_fold < config.cv_folds:
            raise InvalidConfig(f"Fold {config.cv_fold} does not exist in a {config.cv_folds}-fold split.")
    elif config.cv_fold:
        raise InvalidConfig(f"Fold {config.cv_fold} is set without a fold count (cv_folds); set both or neither.")


def validate_config(config: TrainConfig, *, n_train: int, num_classes: int, limits: TrainLimits | None = None) -> None:
    """Raise `InvalidConfig` unless `config` can train on `n_train` images of `num_classes` classes."""
    limits = limits or train_limits()
    validate_config_values(config, limits)
    if config.limit_train and config.limit_train < 2 * num_classes:
        raise InvalidConfig(
            f"A training subset of {config.limit_train} is too small for {num_classes} classes; "
            f"use at least {2 * num_classes}."
        )
    used = min(n_train, config.limit_train) if config.limit_train else n_train
    if limits.max_train_examples and used > limits.max_train_examples:
        raise InvalidConfig(
            f"This server trains on at most {limits.max_train_examples:,} images; set a training "
            "subset of that size or less."
        )
    if not config.cv_folds and config.validation_split:
        held_out = math.floor(used * config.validation_split)
        if held_out < 1:
            raise InvalidConfig(
                f"A validation split of {config.validation_split} of {used} images holds out none; raise it or use 0."
            )
        if used - held_out < num_classes:
            raise InvalidConfig(
                f"A validation split of {config.validation_split} leaves {used - held_out} training "
                f"images for {num_classes} classes; lower it."
            )


def _whole(what: str, value: int, low: int, high: int) -> None:
    if not low <= value <= high:
        raise InvalidConfig(f"{what} must be between {low} and {high}, got {value}.")

"""`TrainConfig`: everything about one training run except the architecture and the data source."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from engine.errors import InvalidConfig

LR_SCHEDULES = ("constant", "one_cycle", "cosine")


@dataclass(frozen=True)
class TrainLimits:
    """Upper bounds on a config; hosted mode lowers them (see `engine.limits`)."""

    max_epochs: int = 500
    max_batch_size: int = 8192
    max_train_examples: int = 0  # 0 = no cap; hosted mode caps the training-set size


@dataclass(frozen=True)
class TrainConfig:
    """How to train. Part of the run key: change any field and the run is trained anew."""

    epochs: int = 10
    batch_size: int = 64
    validation_split: float = 0.2  # fraction of the training set held out, stratified and seeded; 0 = none
    seed: int = 0  # seeds Keras, NumPy, Python, the split, the shuffles and the folds
    early_stopping_patience: int = 0  # epochs without val_loss improvement before stopping; 0 = off
    lr_schedule: str = "constant"  # constant | one_cycle (warm up then anneal) | cosine (decay to 0)
    augmentation: bool = False  # random shifts, rotations and zoom while training (Keras preprocessing layers)
    augment_shift: float = 0.1  # fraction of the image size
    augment_rotation: float = 10.0  # degrees
    augment_zoom: float = 0.1  # fraction
    limit_train: int = 0  # use a stratified subset of this many training images; 0 = all
    label_mapping: str = ""  # merge classes before training: a preset name or "0,6|1,7|..."; "" = none
    cv_folds: int = 0  # set by cross-validation: validate on fold `cv_fold` of a stratified k-fold instead
    cv_fold: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TrainConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InvalidConfig(f"Unknown training setting(s): {', '.join(unknown)}.")
        config = cls(**data)
        for f in fields(cls):
            value = getattr(config, f.name)
            expected = {"int": int, "float": (int, float), "bool": bool, "str": str}[f.type]
            if (isinstance(value, bool) and f.type != "bool") or not isinstance(value, expected):
                raise InvalidConfig(f"Training setting {f.name} has the wrong type: {value!r}.")
        return config

    def replace(self, **changes: Any) -> "TrainConfig":
        return replace(self, **changes)

    def validate(self, n_train: int, num_classes: int, limits: TrainLimits | None = None) -> None:
        """Raise `InvalidConfig` naming the setting, its value and a sensible range (limits: `engine.limits`)."""
        if limits is None:
            from engine.limits import train_limits

            limits = train_limits()
        if not 1 <= self.epochs <= limits.max_epochs:
            raise InvalidConfig(f"Epochs must be between 1 and {limits.max_epochs}, got {self.epochs}.")
        if not 1 <= self.batch_size <= limits.max_batch_size:
            raise InvalidConfig(f"Batch size must be between 1 and {limits.max_batch_size}, got {self.batch_size}.")
        if math.isnan(self.validation_split) or not 0 <= self.validation_split < 1:
            raise InvalidConfig(f"Validation split must be in [0, 1), got {self.validation_split}. 0.1 or 0.2 is typical.")
        if self.early_stopping_patience < 0:
            raise InvalidConfig(f"Early-stopping patience must be 0 (off) or more, got {self.early_stopping_patience}.")
        if self.early_stopping_patience and not (self.validation_split or self.cv_folds):
            raise InvalidConfig("Early stopping watches the validation loss: set a validation split above 0.")
        if self.lr_schedule not in LR_SCHEDULES:
            raise InvalidConfig(f"Unknown learning-rate schedule {self.lr_schedule!r}; choose {', '.join(LR_SCHEDULES)}.")
        if self.limit_train < 0:
            raise InvalidConfig(f"The training-subset size must be 0 (all) or positive, got {self.limit_train}.")
        if self.limit_train and self.limit_train < 2 * num_classes:
            raise InvalidConfig(f"A training subset of {self.limit_train} is too small for {num_classes} classes; use at least {2 * num_classes}.")
        used = min(n_train, self.limit_train) if self.limit_train else n_train
        if limits.max_train_examples and used > limits.max_train_examples:
            raise InvalidConfig(f"This server trains on at most {limits.max_train_examples:,} images; set a training subset of that size or less.")
        if self.augmentation and not (0 <= self.augment_shift < 1 and 0 <= self.augment_rotation <= 180 and 0 <= self.augment_zoom < 1):
            raise InvalidConfig("Augmentation: shift and zoom must be fractions in [0, 1), rotation 0 to 180 degrees.")
        if self.cv_folds:
            if not 2 <= self.cv_folds <= 10:
                raise InvalidConfig(f"Cross-validation needs 2 to 10 folds, got {self.cv_folds}.")
            if not 0 <= self.cv_fold < self.cv_folds:
                raise InvalidConfig(f"Fold {self.cv_fold} does not exist in a {self.cv_folds}-fold split.")
        elif self.validation_split:
            held_out = math.floor(used * self.validation_split)
            if held_out < 1:
                raise InvalidConfig(f"A validation split of {self.validation_split} of {used} images holds out none; raise it or use 0.")
            if used - held_out < num_classes:
                raise InvalidConfig(f"A validation split of {self.validation_split} leaves {used - held_out} training images for {num_classes} classes; lower it.")

"""`TrainConfig`: everything about one training run except the architecture and the data source.

Its values are checked, with the spec's, by `engine.validation`; `check_types` here is the part that parsing
(`TrainConfig.from_dict`) needs too. The caps come from `engine.limits`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from engine.errors import InvalidConfig
from engine.limits import TrainLimits  # re-exported: its home before engine.limits held every cap

LR_SCHEDULES = ("constant", "one_cycle", "cosine")


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
    # Added after runs were stored (see KEY_OPTIONAL): at their defaults they leave a run's key unchanged.
    label_smoothing: float = 0.0  # one-hot targets become (1 - s) * onehot + s / classes; categorical loss only
    warmup_fraction: float = 0.0  # cosine only: share of all steps warming up linearly from lr / 25 to lr
    augment_flip: bool = False  # mirror each training image left-right with probability 1/2 (clothing, not digits)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def key_dict(self) -> dict[str, Any]:
        """The settings as the run key hashes them: a later-added field at its default is left out, so runs stored
        before it existed keep their ids."""
        return {k: v for k, v in asdict(self).items() if not (k in KEY_OPTIONAL and v == KEY_OPTIONAL[k])}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InvalidConfig(f"Unknown training setting(s): {', '.join(unknown)}.")
        # A whole number in a float setting (a link's `"validation_split": 0`) becomes a float (`FLOAT_FIELDS`).
        config = cls(**{k: float(v) if k in FLOAT_FIELDS and type(v) is int else v for k, v in data.items()})
        check_types(config)
        return config

    def replace(self, **changes: Any) -> TrainConfig:
        return replace(self, **changes)


# The float settings: a whole number given for one (a link's or a JSON file's `0`) becomes a float, so the run key,
# which hashes the config's JSON where 0 and 0.0 differ, is the same as for the widget's 0.0.
FLOAT_FIELDS = frozenset(f.name for f in fields(TrainConfig) if f.type == "float")

# Fields added after runs were stored, with the default that the older runs trained with.
KEY_OPTIONAL: dict[str, Any] = {"label_smoothing": 0.0, "warmup_fraction": 0.0, "augment_flip": False}

_TYPES: dict[str, type | tuple[type, ...]] = {"int": int, "float": (int, float), "bool": bool, "str": str}


def check_types(config: TrainConfig) -> None:
    """Raise `InvalidConfig` naming the first setting whose type is wrong (a bool is not a number here)."""
    for f in fields(config):
        value = getattr(config, f.name)
        if (isinstance(value, bool) and f.type != "bool") or not isinstance(value, _TYPES[f.type]):
            raise InvalidConfig(f"Training setting {f.name} has the wrong type: {value!r}.")


__all__ = ["FLOAT_FIELDS", "KEY_OPTIONAL", "LR_SCHEDULES", "TrainConfig", "TrainLimits", "check_types"]

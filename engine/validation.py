"""The request door: `validate_request` checks a model spec and a training config together, before any run key.

Every path that can start a run passes here: the command line, the dashboard's sidebar and shared links, sweep
plans and trials, jobs and Ray tasks (whose driver and worker both compute the key). `engine.runs.run_id_for` calls
it too, so no store key is ever made from an invalid request.

Each input kind's checks live beside what they check: the spec's in `engine.architectures.checks`, the config's in
`engine.training.checks`, stored meta's in `engine.store.meta_checks`, a sweep's in `engine.sweeps.checks`, a
probe's in `engine.probes.checks`, a drawing's in `engine.drawing`, the command line's files in
`engine.textfiles`. Each raises a `DigitLabError` naming the setting, its value and the allowed range; the bounds
come from `engine.limits`, as do the dashboard's widget ranges.
"""

from __future__ import annotations

from engine.architectures.checks import validate_spec
from engine.architectures.spec import ModelSpec
from engine.errors import InvalidConfig
from engine.limits import SpecLimits, TrainLimits
from engine.training.checks import validate_config
from engine.training.config import TrainConfig


def validate_request(
    spec: ModelSpec,
    config: TrainConfig,
    *,
    n_train: int,
    num_classes: int,
    spec_limits: SpecLimits | None = None,
    train_limits: TrainLimits | None = None,
) -> None:
    """Raise `InvalidSpec` or `InvalidConfig` unless (spec, config) can train on `n_train` images of `num_classes`.

    `n_train` is the dataset's training-set size and `num_classes` its class count after any class merging (the
    spec's `num_classes` once it is sized for the data). Limits default to those in force now.
    """
    validate_spec(spec, spec_limits)
    validate_config(config, n_train=n_train, num_classes=num_classes, limits=train_limits)
    if config.label_smoothing and spec.loss != "categorical_crossentropy":
        raise InvalidConfig(
            f"Label smoothing ({config.label_smoothing:g}) smooths one-hot targets: it needs the loss "
            f"categorical_crossentropy, and this model uses {spec.loss}. Change the loss or set smoothing to 0."
        )

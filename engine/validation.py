"""The request door: `validate_request` checks a model spec and a training config together, before any run key.

Every path that can start a run passes here once: the command line, the dashboard's sidebar and shared links,
sweep plans and trials, jobs and Ray tasks (whose driver and worker both compute the key). `engine.runs.run_id_for`
calls it too, so no store key is ever made from an invalid request; the layers below (the training data, the
store) trust a request that reached them and do not check it again.

Once per path: a path that checks early to show its message (the sidebar under its widgets, the command line
before it estimates memory) hands the very same spec and config objects on to `run_id_for`. The door remembers the
last requests it passed by identity (the objects are frozen), with the sizes and the limits in force, so that
second call is a lookup, not a second check; any other object, size or limit is checked in full.

Each input kind's checks live beside what they check: the spec's in `engine.architectures.checks`, the config's in
`engine.training.checks`, stored meta's in `engine.store.meta_checks`, a sweep's in `engine.sweeps.checks`, a
probe's in `engine.probes.checks`, a drawing's in `engine.drawing`, the command line's files in
`engine.textfiles`. Each raises a `DigitLabError` naming the setting, its value and the allowed range; the bounds
come from `engine.limits`, as do the dashboard's widget ranges.
"""

from __future__ import annotations

import threading
from collections import deque

from engine import limits as engine_limits
from engine.architectures.checks import validate_spec
from engine.architectures.spec import ModelSpec
from engine.errors import InvalidConfig
from engine.limits import SpecLimits, TrainLimits
from engine.training.checks import validate_config
from engine.training.config import TrainConfig

_PASSED: deque[tuple] = deque(maxlen=64)  # (spec, config, n_train, num_classes, spec limits, train limits)
_PASSED_LOCK = threading.Lock()


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
    limits = (spec_limits or engine_limits.spec_limits(), train_limits or engine_limits.train_limits())
    if _passed(spec, config, n_train, num_classes, limits):
        return
    validate_spec(spec, limits[0])
    validate_config(config, n_train=n_train, num_classes=num_classes, limits=limits[1])
    if config.label_smoothing and spec.loss != "categorical_crossentropy":
        raise InvalidConfig(
            f"Label smoothing ({config.label_smoothing:g}) smooths one-hot targets: it needs the loss "
            f"categorical_crossentropy, and this model uses {spec.loss}. Change the loss or set smoothing to 0."
        )
    with _PASSED_LOCK:
        _PASSED.append((spec, config, n_train, num_classes, *limits))


def _passed(spec: ModelSpec, config: TrainConfig, n_train: int, num_classes: int, limits: tuple) -> bool:
    """Whether these very objects passed already with the same sizes and limits. Identity, not equality: equal
    dataclasses can differ in type (True == 1), which the type checks refuse."""
    if type(n_train) is not int or type(num_classes) is not int:
        return False
    with _PASSED_LOCK:
        passed = tuple(_PASSED)
    return any(
        entry[0] is spec and entry[1] is config and entry[2:4] == (n_train, num_classes) and entry[4:] == limits
        for entry in passed
    )

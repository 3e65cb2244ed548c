"""A sweep's search space: which spec or config settings vary, over which range or choices (`SearchSpace`).

Plain frozen data that round-trips through JSON (a `--space` file, a link, the sweep's stored request). Parsing
here checks shapes and types only; `engine.sweeps.checks.validate_search_space` checks names, ranges and the caps in
`engine.limits` against the base spec and config, and every trial's request is validated again before its run key
exists. `apply_params` turns one trial's values into the (spec, config) it trains.

Names: a `TrainConfig` field whose metadata lets a sweep vary it (`SettingInfo.sweep`: `batch_size`, `lr_schedule`,
the augmentation strengths, ...), a `ModelSpec` field (`learning_rate`, `optimizer`, `batch_norm_momentum`), one
layer's field (`conv1.filters`, `dense1.dropout`), or a group: `filters` (the first conv block's filters; later
blocks keep their ratio to it), `dropout` (every dense layer's dropout), `units` (the first dense layer's units).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, fields, replace
from typing import Any

from engine.architectures.spec import ConvBlock, DenseLayer, ModelSpec
from engine.errors import InvalidConfig
from engine.training.config import TrainConfig, float_fields, settings


class InvalidSweep(InvalidConfig):
    """A search space or sweep request that cannot run (unknown setting, empty range, over a cap)."""


def config_param_names(config_type: type | None = None) -> tuple[str, ...]:
    """The settings of `config_type` (default TrainConfig) a sweep may vary (`SettingInfo.sweep`), in field order."""
    return tuple(name for name, info in settings(config_type).items() if info.sweep)


# TrainConfig fields a sweep may vary: the sidebar's recipe widgets and the augmentation strengths. Epochs, seed,
# subset, split, classes and folds are the sweep's own settings (or would change what the metric is measured on),
# so they stay fixed; each field's metadata says why.
CONFIG_PARAMS = config_param_names()
SPEC_PARAMS = ("learning_rate", "optimizer", "batch_norm_momentum")
GROUP_PARAMS = ("filters", "dropout", "units")
_LAYER = re.compile(r"^(conv|dense)([1-9])\.([a-z_]+)$")
_CONV_FIELDS = {f.name for f in fields(ConvBlock)}
_DENSE_FIELDS = {f.name for f in fields(DenseLayer)}
KINDS = ("int", "float", "choice")


@dataclass(frozen=True)
class Param:
    """One varied setting: a range (`int`/`float`, optionally log-scaled) or a list of `choices`."""

    name: str  # see the module docstring for the names
    kind: str  # int | float | choice
    low: float = 0.0  # ranges only, inclusive
    high: float = 0.0
    log: bool = False  # sample (and grid) on a log scale; needs low > 0
    choices: tuple = ()  # choice only: numbers, text or true/false
    grid_points: int = 3  # ranges only: how many evenly spaced values the grid sampler takes

    def grid_values(self) -> tuple:
        """The values the grid sampler tries, in order (ints deduplicated after rounding)."""
        if self.kind == "choice":
            return self.choices
        n = self.grid_points
        if n == 1:
            points = [self.low]
        elif self.log:
            points = [
                math.exp(math.log(self.low) + i * (math.log(self.high) - math.log(self.low)) / (n - 1))
                for i in range(n)
            ]
        else:
            points = [self.low + i * (self.high - self.low) / (n - 1) for i in range(n)]
        if self.kind == "int":
            return tuple(dict.fromkeys(int(round(p)) for p in points))
        return tuple(float(f"{p:.6g}") for p in points)  # short values: readable in tables and links

    def to_dict(self) -> dict[str, Any]:
        if self.kind == "choice":
            return {"name": self.name, "kind": "choice", "choices": list(self.choices)}
        out = {"name": self.name, "kind": self.kind, "low": self.low, "high": self.high, "log": self.log}
        return {**out, "grid_points": self.grid_points}


@dataclass(frozen=True)
class SearchSpace:
    params: tuple[Param, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.params)

    def grid(self) -> list[dict]:
        """Every combination of the parameters' grid values, in product order (the first varies slowest)."""
        combos: list[dict] = [{}]
        for param in self.params:
            combos = [{**c, param.name: v} for c in combos for v in param.grid_values()]
        return combos

    def grid_size(self) -> int:
        return math.prod(len(p.grid_values()) for p in self.params)

    def to_dict(self) -> dict[str, Any]:
        return {"params": [p.to_dict() for p in self.params]}

    @classmethod
    def from_dict(cls, data: Any) -> SearchSpace:
        """Strict parsing of untrusted JSON: unknown keys and wrong types are refused with a message."""
        if not isinstance(data, dict) or set(data) != {"params"} or not isinstance(data["params"], list):
            raise InvalidSweep('A search space must be a JSON object {"params": [...]} and nothing else.')
        return cls(tuple(_param(item, i) for i, item in enumerate(data["params"], 1)))


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidSweep(f"{where} must be a finite number, got {str(value)[:40]!r}.")
    return value


def _param(item: Any, index: int) -> Param:
    if not isinstance(item, dict):
        raise InvalidSweep(f"Search-space entry {index} must be an object, got {type(item).__name__}.")
    name = item.get("name")
    if not isinstance(name, str) or not name:
        raise InvalidSweep(f"Search-space entry {index} needs a name (text).")
    where = f"Search-space entry {index} ({name[:40]!r})"
    kind = item.get("kind")
    if kind not in KINDS:
        raise InvalidSweep(f"{where}: kind must be one of {', '.join(KINDS)}, got {str(kind)[:20]!r}.")
    allowed = {"name", "kind", "choices"} if kind == "choice" else {"name", "kind", "low", "high", "log", "grid_points"}
    unknown = sorted(set(item) - allowed)
    if unknown:
        raise InvalidSweep(f"{where}: unknown field(s) {', '.join(unknown)[:80]} for kind {kind}.")
    if kind == "choice":
        choices = item.get("choices")
        if not isinstance(choices, list) or not choices:
            raise InvalidSweep(f"{where}: choices must be a non-empty list.")
        for choice in choices:
            if not isinstance(choice, bool | int | float | str) or (
                isinstance(choice, float) and not math.isfinite(choice)
            ):
                raise InvalidSweep(f"{where}: a choice must be a finite number, text or true/false.")
        if len({(type(c), c) for c in choices}) != len(choices):
            raise InvalidSweep(f"{where}: a choice is listed twice.")
        return Param(name, kind, choices=tuple(choices))
    if "low" not in item or "high" not in item:
        raise InvalidSweep(f"{where}: a range needs low and high.")
    low, high = _number(item["low"], f"{where} low"), _number(item["high"], f"{where} high")
    log = item.get("log", False)
    points = item.get("grid_points", 3)
    if not isinstance(log, bool):
        raise InvalidSweep(f"{where}: log must be true or false.")
    if isinstance(points, bool) or not isinstance(points, int):
        raise InvalidSweep(f"{where}: grid_points must be a whole number.")
    if kind == "int":
        if any(isinstance(v, float) and not v.is_integer() for v in (low, high)):
            raise InvalidSweep(f"{where}: an int range needs whole-number bounds.")
        low, high = int(low), int(high)
    else:
        low, high = float(low), float(high)
    return Param(name, kind, low=low, high=high, log=log, grid_points=points)


def apply_params(spec: ModelSpec, config: TrainConfig, params: dict) -> tuple[ModelSpec, TrainConfig]:
    """The (spec, config) one trial trains: the base with each named setting set to its value.

    Raises `InvalidSweep` for a name that is not a sweepable setting; values are checked by the validator after.
    """
    config_changes: dict = {}
    # The config's own class, so a setting declared on it is sweepable without a list kept here.
    config_names, floats = config_param_names(type(config)), float_fields(type(config))
    for name, value in params.items():
        if name in config_names:
            # A whole number for a float setting (a JSON space's 0) becomes a float; a bool setting keeps its value.
            config_changes[name] = float(value) if name in floats and type(value) is int else value
        elif name in SPEC_PARAMS:
            change: dict[str, Any] = {name: float(value) if type(value) is int and name != "optimizer" else value}
            spec = replace(spec, **change)
        elif name == "filters":
            first = spec.conv_blocks[0].filters if spec.conv_blocks else 0
            if not first:
                raise InvalidSweep("'filters' needs a model with at least one conv block.")
            blocks = tuple(replace(b, filters=max(1, round(b.filters * value / first))) for b in spec.conv_blocks)
            spec = replace(spec, conv_blocks=blocks)
        elif name == "dropout":
            if not spec.dense_layers:
                raise InvalidSweep("'dropout' sets the dense layers' dropout; this model has none.")
            spec = replace(spec, dense_layers=tuple(replace(d, dropout=float(value)) for d in spec.dense_layers))
        elif name == "units":
            if not spec.dense_layers:
                raise InvalidSweep("'units' sets the first dense layer's units; this model has none.")
            spec = replace(spec, dense_layers=(replace(spec.dense_layers[0], units=value), *spec.dense_layers[1:]))
        else:
            spec = _apply_layer(spec, name, value)
    return spec, config.replace(**config_changes)


def _apply_layer(spec: ModelSpec, name: str, value: Any) -> ModelSpec:
    match = _LAYER.match(name)
    if not match:
        raise InvalidSweep(f"{name[:40]!r} is not a setting a sweep can vary; {describe_names()}")
    kind, number, field_name = match.group(1), int(match.group(2)), match.group(3)
    layers = spec.conv_blocks if kind == "conv" else spec.dense_layers
    known = _CONV_FIELDS if kind == "conv" else _DENSE_FIELDS
    if field_name not in known:
        raise InvalidSweep(f"{name!r}: a {kind} layer has no field {field_name!r}; it has {', '.join(sorted(known))}.")
    if number > len(layers):
        raise InvalidSweep(f"{name!r}: this model has {len(layers)} {kind} layer(s).")
    layer = layers[number - 1]
    if type(value) is int and isinstance(getattr(layer, field_name), float):
        value = float(value)
    changed = list(layers)
    changed[number - 1] = replace(layer, **{field_name: value})
    layers_change: dict[str, Any] = {"conv_blocks" if kind == "conv" else "dense_layers": tuple(changed)}
    return replace(spec, **layers_change)


def is_param_name(name: str) -> bool:
    match = _LAYER.match(name)
    if match:
        return match.group(3) in (_CONV_FIELDS if match.group(1) == "conv" else _DENSE_FIELDS)
    return name in CONFIG_PARAMS or name in SPEC_PARAMS or name in GROUP_PARAMS


def describe_names() -> str:
    return (
        f"use one of {', '.join(CONFIG_PARAMS + SPEC_PARAMS + GROUP_PARAMS)}, or a layer's field such as "
        "conv1.filters, conv2.dropout, dense1.units."
    )


def default_space(spec: ModelSpec, config: TrainConfig) -> SearchSpace:
    """A sensible space around a preset: learning rate /3..x3 (log), first-block filters /2..x2 (log), dense dropout
    0..0.5 and batch size halved, kept or doubled."""
    rate = spec.learning_rate
    params = [Param("learning_rate", "float", low=float(f"{rate / 3:.3g}"), high=float(f"{rate * 3:.3g}"), log=True)]
    if spec.conv_blocks:
        first = spec.conv_blocks[0].filters
        params.append(Param("filters", "int", low=max(1, first // 2), high=first * 2, log=True))
    if spec.dense_layers:
        params.append(Param("dropout", "float", low=0.0, high=0.5))
    batch = config.batch_size
    params.append(Param("batch_size", "choice", choices=tuple(dict.fromkeys((max(1, batch // 2), batch, batch * 2)))))
    return SearchSpace(tuple(params))

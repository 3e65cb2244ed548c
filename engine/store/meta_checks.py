"""The check of a stored run's meta.json (`validate_run_meta`): every field that listings, comparisons and pages
read without further checks, with its type. The store runs it on every run it hands out or lists."""

from __future__ import annotations

import math
from typing import Any

from engine.errors import InvalidRunMeta

# What every stored run's meta.json must hold, because listings, comparisons and pages read these fields
# without further checks: (dotted path, accepted types). A run missing one is flagged, never served.
_NUMBER = (int, float)
RUN_META_FIELDS: tuple[tuple[str, tuple[type, ...]], ...] = (
    ("run_id", (str,)),
    ("created", (str,)),
    ("preset", (str,)),
    ("dataset", (dict,)),
    ("dataset.name", (str,)),
    ("class_names", (list,)),
    ("spec", (dict,)),
    ("spec.conv_blocks", (list,)),
    ("spec.dense_layers", (list,)),
    ("spec.num_classes", (int,)),
    ("spec.learning_rate", _NUMBER),
    ("config", (dict,)),
    ("config.epochs", (int,)),
    ("config.batch_size", (int,)),
    ("config.seed", (int,)),
    ("parameters", (dict,)),
    ("parameters.total", (int,)),
    ("train_seconds", _NUMBER),
    ("epochs_run", (int,)),
    ("metrics", (dict,)),
    ("metrics.test_accuracy", _NUMBER),
    ("metrics.macro_f1", _NUMBER),
    ("metrics.test_loss", _NUMBER),
)
# The ranges a trainer's values fall in (scores are fractions, counts and times are not negative): a value outside
# was not written by Digit Lab, and a listing or a chart would otherwise show an accuracy of -100 % or 150 %.
RUN_META_RANGES: tuple[tuple[str, float, float], ...] = (
    ("metrics.test_accuracy", 0.0, 1.0),
    ("metrics.macro_f1", 0.0, 1.0),
    ("parameters.total", 0, math.inf),
    ("train_seconds", 0.0, math.inf),
    ("epochs_run", 0, math.inf),
)


def validate_run_meta(meta: object, run_id: str | None = None) -> None:
    """Raise `InvalidRunMeta` unless a stored run's meta holds every field readers rely on, with its type.

    Stored meta is untrusted (anyone with access to the cache folder can edit it, and older versions wrote less),
    so the store runs this on every run it hands out or lists; the message names the first bad field.
    """
    if not isinstance(meta, dict):
        raise InvalidRunMeta(f"meta.json is not a JSON object (found {type(meta).__name__})")
    for path, kinds in RUN_META_FIELDS:
        value: object = meta
        for part in path.split("."):
            value = value.get(part, _MISSING) if isinstance(value, dict) else _MISSING
        if value is _MISSING:
            raise InvalidRunMeta(f"meta.json lacks {path}")
        # bool is an int subclass; a true/false where a count or score belongs is damage, not a value.
        if isinstance(value, bool) or not isinstance(value, kinds):
            raise InvalidRunMeta(f"meta.json has {path} of type {type(value).__name__}")
        if isinstance(value, float) and not math.isfinite(value) and path != "metrics.test_loss":
            raise InvalidRunMeta(f"meta.json has {path} = {value}")
    for path, low, high in RUN_META_RANGES:
        number: Any = meta
        for part in path.split("."):
            number = number[part]  # present and a finite number: checked above
        if not low <= number <= high:
            raise InvalidRunMeta(f"meta.json has {path} = {number}, outside {low} .. {high}")
    if run_id is not None and meta["run_id"] != run_id:
        raise InvalidRunMeta(f"meta.json names run {str(meta['run_id'])[:40]!r}, not its folder {run_id}")
    for index, block in enumerate(meta["spec"]["conv_blocks"], start=1):
        if not isinstance(block, dict) or not all(_whole_number(block.get(k)) for k in ("filters", "kernel_size")):
            raise InvalidRunMeta(f"meta.json has a malformed conv block {index}")
    for index, layer in enumerate(meta["spec"]["dense_layers"], start=1):
        if not isinstance(layer, dict) or not _whole_number(layer.get("units")):
            raise InvalidRunMeta(f"meta.json has a malformed dense layer {index}")
    if not all(isinstance(name, str) for name in meta["class_names"]):
        raise InvalidRunMeta("meta.json has a class name that is not text")
    warnings = meta.get("warnings", [])
    if not isinstance(warnings, list) or not all(isinstance(text, str) for text in warnings):
        raise InvalidRunMeta("meta.json has warnings that are not a list of text")


_MISSING = object()


def _whole_number(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)

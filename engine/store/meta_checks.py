"""The checks of what a stored run holds as JSON: its meta.json (`validate_run_meta`: every field that listings,
comparisons and pages read without further checks, with its type; the store runs it on every run it hands out or
lists) and its history.json (`validate_run_history`: the shape curve readers rely on; run by `StoredRun.history`)."""

from __future__ import annotations

import math
from typing import Any

from engine.errors import InvalidRunMeta, StoreError

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


# The per-epoch scores curve readers plot (the trainer's `engine.training.callbacks.KEPT_METRICS`; the store sits
# below training, so it names them again rather than import them).
CURVE_METRICS = ("loss", "accuracy", "val_loss", "val_accuracy")
# An epoch count past any trainer limit: a history longer than this is damage, and every reader walks it.
MAX_HISTORY_EPOCHS = 10_000


def validate_run_history(history: object) -> None:
    """Raise `StoreError` unless a stored history has the shape its readers index without further checks.

    history.json is untrusted like meta.json; valid JSON of another shape (epochs that are numbers or lists, an
    epoch number that is text, a score that is a string) crashed the report and Evaluate's curves with a
    TypeError or KeyError. Accepted: an object; `epochs`, when present, a list of objects each with a whole
    `epoch` >= 1 and numbers (NaN and infinities too: a diverging run records them) for the curve scores it has;
    `initial`, when present, null or an object of numbers; `restored_epoch`, when present, null or one of the
    epochs. Other keys are left to their readers.
    """
    if not isinstance(history, dict):
        raise StoreError(f"history.json is not a JSON object (found {_json_kind(history)})")
    epochs = history.get("epochs", [])
    if not isinstance(epochs, list):
        raise StoreError(f"history.json has epochs that are {_json_kind(epochs)}, not a list of epoch records")
    if len(epochs) > MAX_HISTORY_EPOCHS:
        raise StoreError(f"history.json lists {len(epochs):,} epochs, over {MAX_HISTORY_EPOCHS:,}")
    for index, record in enumerate(epochs, start=1):
        if not isinstance(record, dict):
            raise StoreError(f"history.json has epoch record {index} that is {_json_kind(record)}, not an object")
        if not _whole_number(record.get("epoch")) or record["epoch"] < 1:
            raise StoreError(f"history.json has epoch record {index} without a whole epoch number >= 1")
        for metric in CURVE_METRICS:
            if metric in record and not _number(record[metric]):
                raise StoreError(f"history.json has epoch {index}'s {metric} of type {_json_kind(record[metric])}")
    restored = history.get("restored_epoch")
    if restored is not None and not (_whole_number(restored) and 1 <= restored <= len(epochs)):
        raise StoreError(f"history.json has a restored epoch that is not one of its {len(epochs)} epochs")
    initial = history.get("initial")
    if initial is not None:
        if not isinstance(initial, dict):
            raise StoreError(f"history.json has an initial score that is {_json_kind(initial)}, not an object")
        for name, value in initial.items():
            if not _number(value):
                raise StoreError(f"history.json has the initial {str(name)[:40]!r} of type {_json_kind(value)}")


_MISSING = object()


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _json_kind(value: object) -> str:
    """The JSON name of a parsed value's kind, for messages (never the value itself: it is untrusted)."""
    kinds = ((bool, "a boolean"), (dict, "an object"), (list, "a list"), (str, "text"), (int | float, "a number"))
    if value is None:
        return "null"
    return next((name for kind, name in kinds if isinstance(value, kind)), type(value).__name__)


def _whole_number(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)

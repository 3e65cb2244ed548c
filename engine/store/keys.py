"""Run ids: the content key of a training payload, and the check that a string is one.

A run id is the first 20 hex characters of the SHA-256 of the payload's canonical JSON, so the same
dataset + architecture + config always lands in the same cache folder, whoever computes it.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any

RUN_ID_LENGTH = 20
_RUN_ID = re.compile(r"[0-9a-f]{20}")


def _encode_extra(value: Any) -> Any:
    """`json.dumps` fallback for values JSON has no type for but that have one obvious plain form."""
    if isinstance(value, Mapping):
        return dict(value)
    # numpy scalars and arrays: `.item()` / `.tolist()` give plain Python numbers at full precision.
    if hasattr(value, "tolist") and callable(value.tolist):
        return value.tolist()
    if hasattr(value, "item") and callable(value.item):
        return value.item()
    # Sets and arbitrary objects have no canonical order or form; refusing beats a key that drifts.
    raise TypeError(f"run_key cannot encode a {type(value).__name__}: use dicts, lists, strings, numbers, bools, None")


def canonical_json(payload: Mapping) -> str:
    """Sorted keys, no whitespace, floats as `repr` (what `json` does for floats), NaN/inf refused.

    NaN is refused because NaN != NaN: a payload holding one would still hash stably, but it almost
    always means a config bug that should surface before hours of training are spent on it.
    """
    if not isinstance(payload, Mapping):
        raise TypeError(f"run_key needs a mapping, got {type(payload).__name__}")
    return json.dumps(
        dict(payload),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=True,
        allow_nan=False,
        default=_encode_extra,
    )


def run_key(payload: Mapping) -> str:
    """The run id for a payload: SHA-256 of its canonical JSON, first 20 hex characters (80 bits)."""
    return hashlib.sha256(canonical_json(payload).encode("utf-8")).hexdigest()[:RUN_ID_LENGTH]


def is_run_id(text: object) -> bool:
    """True only for exactly 20 lowercase hex characters: the only thing allowed to become a folder name."""
    # fullmatch, not match with "$": "$" also matches before a trailing newline.
    return isinstance(text, str) and _RUN_ID.fullmatch(text) is not None

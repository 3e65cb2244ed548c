"""The per-process memo of loaded datasets: each (name, local path) is loaded once, then shared.

One lock per key, so concurrent dashboard sessions asking for the same dataset load it once while sessions
asking for other datasets are not blocked. Failures are not memoised, so a retry after connecting or copying
files works.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from engine.datasets.dataset import Dataset

MemoKey = tuple[str, str | None]  # (dataset name, resolved local path or None)

_MEMO: dict[MemoKey, Dataset] = {}
_MEMO_LOCK = threading.Lock()
_KEY_LOCKS: dict[MemoKey, threading.Lock] = {}


def memo_key(name: str, local_path: Path | None) -> MemoKey:
    return (name, str(local_path.resolve()) if local_path is not None else None)


def is_memoised(key: MemoKey) -> bool:
    with _MEMO_LOCK:
        return key in _MEMO


def memoised_items() -> list[tuple[MemoKey, Dataset]]:
    """A snapshot of every memoised dataset with its key (executors find the local path a dataset came from)."""
    with _MEMO_LOCK:
        return list(_MEMO.items())


def load_once(key: MemoKey, load: Callable[[], Dataset]) -> Dataset:
    """The memoised dataset for `key`, calling `load()` only when no thread has loaded it yet."""
    with _MEMO_LOCK:
        hit = _MEMO.get(key)
        if hit is not None:
            return hit
        key_lock = _KEY_LOCKS.setdefault(key, threading.Lock())
    with key_lock:
        with _MEMO_LOCK:
            hit = _MEMO.get(key)
        if hit is not None:
            return hit
        dataset = load()
        with _MEMO_LOCK:
            _MEMO[key] = dataset
        return dataset


def clear_dataset_cache() -> None:
    """Forget every memoised dataset (tests; freeing memory)."""
    with _MEMO_LOCK:
        _MEMO.clear()

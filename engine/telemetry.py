"""In-process counters of expensive work (trainings, model loads, dataset loads, evaluations).

Benchmarks and tests read them to prove that a cached answer did no work: switching dashboard pages with a
cached run must leave `trainings` and `model_loads` unchanged.
"""

from __future__ import annotations

import threading
from collections import Counter

_lock = threading.Lock()
_counts: Counter[str] = Counter()


def count(event: str, amount: int = 1) -> None:
    with _lock:
        _counts[event] += amount


def counters() -> dict[str, int]:
    with _lock:
        return dict(_counts)

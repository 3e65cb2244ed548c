"""Counting the trainings running in this process, and releasing what TensorFlow keeps of them afterwards."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_session_lock = threading.Lock()
_active_trainings = 0
# Off in a process that trains once and exits (the CLI's `train`): the release's gc.collect walks every object
# TensorFlow made, 0.3-0.6 s on 2 cores, to free memory nobody will reuse. See `one_training_process`.
_release_when_idle = True


def one_training_process() -> None:
    """Declare that this process trains once and exits, so the release after the training is skipped."""
    global _release_when_idle
    _release_when_idle = False


@contextmanager
def training_session() -> Iterator[None]:
    """Count trainings in this process; when the last one ends, release what TensorFlow keeps of them.

    Each Keras `fit`/`evaluate` traces a step whose `all_reduce` registers a graph-mode custom gradient in
    TensorFlow's process-wide gradient registry, which is never unregistered and keeps the whole traced
    graph (about 9 MB for a small CNN) alive: 20 trainings grew a process by ~190 MB. The registry entries
    are only read while a gradient is being traced, so they are dropped once no training is running.
    `keras.backend.clear_session()` is not used: it resets Keras' state for every thread at once (name
    counters, seed generators, policies) under trainings running in other dashboard sessions, and measured,
    it did not cure this growth.
    """
    global _active_trainings
    with _session_lock:
        _active_trainings += 1
    try:
        yield
    finally:
        with _session_lock:
            _active_trainings -= 1
            if _active_trainings == 0 and _release_when_idle:
                release_traced_graphs()


def release_traced_graphs() -> None:
    """Drop the custom-gradient entries trainings left in TensorFlow's (private) gradient registry."""
    try:
        from tensorflow.python.framework import ops

        registry = ops._gradient_registry._registry  # private: guarded, a newer TensorFlow may differ
    except (ImportError, AttributeError):
        return
    for name in [name for name in registry if name.startswith("CustomGradient-")]:
        registry.pop(name, None)
    gc.collect()  # the released graphs sit in reference cycles with their functions

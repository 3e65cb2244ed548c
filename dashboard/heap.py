"""Keeping Python's garbage collector off the long-lived objects TensorFlow's import leaves in the server.

Once Keras is imported, Streamlit ends every script run with `keras.backend.clear_session()` and (its default
`runner.postScriptGC`) `gc.collect(2)`: two full collections, each walking every tracked object. TensorFlow's
import alone leaves some 380,000, alive as long as the process: 0.2 s per collection on a quiet 2-core machine and
0.5-1 s under load, so once any page had loaded a model every page switch, even to a page of text, waited seconds.
`gc.freeze()` moves the objects alive at that moment into a generation that collections skip; afterwards a full
collection walks only what was made since. Frozen objects are still freed by reference counting; only cyclic
garbage among them stays: right after a collection that is nothing, and the cost later is at most the few
objects of that moment (a model then in the cache) that end up in a reference cycle, once per freeze.
"""

from __future__ import annotations

import gc
import sys
import threading

REFREEZE_AFTER_MODULES = 300  # a later large import (t-SNE's scikit-learn, Optuna, Ray) is frozen too
_lock = threading.Lock()
_modules_at_freeze = 0


def freeze_long_lived(modules=sys.modules) -> bool:
    """Freeze the heap once TensorFlow or Keras is imported, and again after many more imports; True if it did.

    Cheap when there is nothing to do (two lookups): call it at the start of every script run."""
    global _modules_at_freeze
    if "keras" not in modules and "tensorflow" not in modules:
        return False
    if len(modules) - _modules_at_freeze < REFREEZE_AFTER_MODULES:
        return False
    with _lock:
        if len(modules) - _modules_at_freeze < REFREEZE_AFTER_MODULES:
            return False  # another session's run froze it meanwhile
        gc.collect()  # what is garbage now is freed, not frozen
        gc.freeze()
        _modules_at_freeze = len(modules)
    return True

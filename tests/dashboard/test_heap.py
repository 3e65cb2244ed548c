"""The server freezes the long-lived heap once TensorFlow is imported, so the collections Streamlit runs after every
script run (Keras' clear_session, postScriptGC) skip TensorFlow's objects; and it does nothing before that."""

import gc

import pytest

from dashboard import heap


@pytest.fixture
def fresh(monkeypatch):
    monkeypatch.setattr(heap, "_modules_at_freeze", 0)
    yield
    gc.unfreeze()  # the rest of the test session collects as usual


def test_nothing_is_frozen_before_tensorflow_is_imported(fresh):
    before = gc.get_freeze_count()
    assert heap.freeze_long_lived({"numpy": object(), "streamlit": object()}) is False
    assert gc.get_freeze_count() == before


def test_the_heap_is_frozen_once_keras_is_imported_then_only_after_many_more_imports(fresh):
    import sys

    import keras  # noqa: F401  (what a page's first model load imports)

    modules = dict(sys.modules)
    assert heap.freeze_long_lived(modules) is True
    frozen = gc.get_freeze_count()
    assert frozen > 100_000  # TensorFlow's and Keras' objects, independent of this test's own
    # A collection now walks only what was made since: far fewer objects than the frozen ones.
    assert len(gc.get_objects()) < frozen / 2
    modules.update({f"fake_module_{i}": None for i in range(heap.REFREEZE_AFTER_MODULES - 1)})
    assert heap.freeze_long_lived(modules) is False  # a few imports more: no new collection
    modules["one_more"] = None
    assert heap.freeze_long_lived(modules) is True

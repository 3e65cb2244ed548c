"""A disk that fills up under the training ledger or the cache: the ledger carries on in memory with a notice, and
a training whose run cannot be stored still returns its result. Before the shared guard (`engine.store.disk`), the
fallback that keeps a result outside the cache wrote the ledger again, unguarded: "unexpected OSError: No space
left on device", the result lost."""

from __future__ import annotations

import errno
import logging
import os

import pytest

from engine.architectures import ConvBlock, DenseLayer, ModelSpec
from engine.memory_estimate import MemoryEstimate
from engine.training.config import TrainConfig
from engine.training_queue import Ledger, TrainingQueue
from tests.store.full_disk import fill_disk

NEED = MemoryEstimate(runtime_mb=300, training_mb=200)


def test_a_ledger_whose_disk_fills_up_counts_in_memory_and_says_so(tmp_path, monkeypatch, caplog):
    folder = tmp_path / "queue"
    folder.mkdir()
    queue = TrainingQueue(folder, memory_budget_mb=1000)
    with queue.slot(need=NEED):  # a healthy disk: the entries are in the file
        assert queue.ledger.usage().memory_mb == 500
    fill_disk(monkeypatch, folder)
    with caplog.at_level(logging.WARNING, logger="digitlab.queue"), queue.slot(need=NEED):
        # Admitted and charged although nothing could be written: runtime + training, by hand 300 + 200.
        assert queue.ledger.usage() == type(queue.ledger.usage())(memory_mb=500.0, trainings=1)
    assert queue.ledger.usage().trainings == 0  # released in memory too
    assert queue.folder is None
    assert "cannot be written (No space left on device)" in queue.notice and "this process's" in queue.notice
    assert any("No space left" in record.getMessage() for record in caplog.records)


def test_a_lock_file_that_cannot_be_created_moves_the_ledger_to_memory(tmp_path, monkeypatch):
    folder = tmp_path / "queue"
    folder.mkdir()
    fill_disk(monkeypatch, folder)  # no lock file yet, and none can be created
    ledger = Ledger(folder)
    assert ledger.try_admit("one", NEED, memory_budget_mb=1000, max_trainings=0)
    assert ledger.folder is None and ledger.usage().trainings == 1 and "cannot be written" in ledger.notice


def test_other_write_errors_are_not_taken_for_a_full_disk(tmp_path, monkeypatch):
    folder = tmp_path / "queue"
    folder.mkdir()
    ledger = Ledger(folder)

    def broken(*args, **kwargs):
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr(os, "fsync", broken)  # the ledger's write (the store's atomic JSON writer) flushes to disk
    with pytest.raises(OSError, match="Input/output"):
        ledger.try_admit("one", NEED, memory_budget_mb=1000, max_trainings=0)


def test_with_the_cache_disk_full_a_training_still_returns_its_result(monkeypatch, isolated_cache):
    """The whole cache disk full, the ledger's start-up probe passing (an empty file needs no block, which is how
    the old probe let a full disk through): the result comes back unstored, with the store's reason."""
    import engine.training_queue as queue_module
    from engine.datasets import load_dataset
    from engine.runs import get_or_train, unstored_run
    from engine.store import RunStore

    digits = load_dataset("digits")
    spec = ModelSpec(conv_blocks=(ConvBlock(4, padding="same"),), dense_layers=(DenseLayer(8),), input_shape=(8, 8, 1))
    config = TrainConfig(epochs=1, limit_train=200, batch_size=64, seed=5)
    monkeypatch.setattr(queue_module, "_writable", lambda folder: "")
    fill_disk(monkeypatch, isolated_cache)
    result = get_or_train(digits, spec, config)
    assert result.stored is False and "is full" in result.store_problem
    assert 0 <= result.run.meta["metrics"]["test_accuracy"] <= 1
    assert result.run.test_probabilities().shape == (len(digits.x_test), 10)
    assert unstored_run(result.run.run_id) is result.run
    assert "No space left" in queue_module.training_queue().notice
    monkeypatch.undo()
    assert RunStore().get(result.run.run_id) is None

"""`measured_training_time`: the medians pages quote instead of promising a time, from hand-built run metadata."""

from __future__ import annotations

from types import SimpleNamespace

from engine.compare import measured_training_time


def _run(preset="digitlab-small8", dataset="digits", epochs=15, train=6.0, prepare=None, folds=0):
    meta = {
        "preset": preset,
        "dataset": {"name": dataset},
        "config": {"epochs": epochs, "cv_folds": folds},
        "train_seconds": train,
    }
    if prepare is not None:
        meta["prepare_seconds"] = prepare
    return SimpleNamespace(meta=meta)


def test_median_of_the_matching_plain_runs_only():
    runs = [
        _run(train=6.0, prepare=4.0),
        _run(train=8.0, prepare=2.0),
        _run(train=20.0),  # stored before prepare_seconds existed: counts for training time only
        _run(train=99.0, folds=5),  # a k-fold fold
        _run(train=99.0, epochs=2),  # another recipe
        _run(train=99.0, dataset="mnist"),
        _run(train=99.0, preset=""),
    ]
    measured = measured_training_time(runs, "digitlab-small8", "digits", 15)
    assert measured.runs == 3
    assert measured.train_seconds == 8.0  # median of 6, 8, 20
    assert measured.prepare_seconds == 3.0  # median of 4, 2


def test_nothing_stored_means_no_figure():
    assert measured_training_time([], "digitlab-small8", "digits", 15) is None
    assert measured_training_time([_run(epochs=3)], "digitlab-small8", "digits", 15) is None

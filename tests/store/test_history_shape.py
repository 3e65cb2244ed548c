"""A stored history.json is checked for the shape its readers index (`validate_run_history`, run by
`StoredRun.history`): valid JSON of another shape is the store's own error naming the run, never a TypeError or
KeyError in a chart or a report later."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from engine.errors import StoreError
from engine.store import RunStore, run_key
from engine.store.meta_checks import validate_run_history
from tests.store.planted import BAD_HISTORIES, plant_history
from tests.store.run_meta import run_meta

KEY = run_key({"history": "shape"})

# What the trainer writes (engine.training.fit), by hand: the shape every reader relies on.
TRAINED = {
    "initial": {"val_loss": 2.3, "val_accuracy": 0.1},
    "epochs": [
        {"epoch": 1, "loss": 1.2, "accuracy": 0.6, "val_loss": 0.9, "val_accuracy": 0.7, "seconds": 0.4},
        {"epoch": 2, "loss": math.inf, "accuracy": 0.8, "val_loss": math.nan, "val_accuracy": 0.8},
    ],
    "final_validation": {"val_loss": 0.8, "val_accuracy": 0.8},
    "stopped_early": False,
    "precision": "float32",
    "restored_epoch": 1,
}


@pytest.mark.parametrize("history", [TRAINED, {"initial": None, "epochs": []}, {"accuracy": [0.6, 0.8]}])
def test_the_trainers_shapes_pass(history):
    validate_run_history(history)


@pytest.mark.parametrize("what", sorted(BAD_HISTORIES))
def test_each_bad_shape_is_refused_by_the_check(what):
    with pytest.raises(StoreError, match="history.json"):
        validate_run_history(BAD_HISTORIES[what])


@pytest.mark.parametrize("what", ["epochs are numbers", "a score that is text", "the history is a list"])
def test_a_planted_history_is_a_store_error_naming_the_run_and_the_run_is_still_served(tmp_path: Path, what):
    store = RunStore(tmp_path / "runs")

    def build(folder: Path) -> dict:
        (folder / "history.json").write_text(json.dumps(TRAINED))
        return run_meta()

    run, _cached = store.create(KEY, build)
    assert run.history()["epochs"][0]["loss"] == 1.2
    plant_history(run.path, BAD_HISTORIES[what])
    served = store.get(KEY)  # the manifest matches: only the history's own reader can refuse it
    assert served is not None
    with pytest.raises(StoreError) as caught:
        served.history()
    assert KEY in str(caught.value) and "damaged" in str(caught.value)

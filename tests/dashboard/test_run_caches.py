"""The dashboard's per-run caches (`dashboard.services`) never answer for a deleted run, and a run trained again
under the same id is read again, not served from the cache of its deleted predecessor."""

import json
from pathlib import Path

import numpy as np

from dashboard import services
from engine.store import RunStore, run_key
from tests.store.run_meta import run_meta

RUN_ID = run_key({"dataset": "digits", "architecture": "cache-test", "epochs": 1})


def _builder(losses: list[float], created: str):
    def build(folder: Path) -> dict:
        (folder / "history.json").write_text(json.dumps({"epochs": [{"epoch": 1, "loss": loss} for loss in losses]}))
        np.save(folder / "test_probabilities.npy", np.eye(3, dtype=np.float32)[[0, 1, 2, 1]])
        np.save(folder / "test_labels.npy", np.array([0, 1, 2, 2], dtype=np.int64))
        return run_meta(created=created, class_names=["a", "b", "c"])

    return build


def test_a_deleted_run_is_not_served_and_a_retrained_one_is_read_again(tmp_path, monkeypatch):
    monkeypatch.setenv("DIGIT_LAB_CACHE", str(tmp_path))
    store = RunStore()
    store.create(RUN_ID, _builder([0.9], "2026-01-01T00:00:00"))
    assert services.history(RUN_ID)["epochs"][0]["loss"] == 0.9
    assert services.evaluation(RUN_ID).accuracy == 0.75  # 3 of the 4 hand-made predictions are right

    store.delete(RUN_ID)
    assert services.run(RUN_ID) is None
    assert services.history(RUN_ID) is None
    assert services.evaluation(RUN_ID) is None
    assert services.model(RUN_ID) is None

    # The same id again (a content hash: the same request trained anew), with another history and timestamp.
    store.create(RUN_ID, _builder([0.5], "2026-01-01T00:00:00"))
    assert services.history(RUN_ID)["epochs"][0]["loss"] == 0.5

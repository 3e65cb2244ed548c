"""Planting a file in a stored run as someone with write access to the cache would: the file replaced and the
manifest rebuilt to match, so the store still serves the run and only the file's own reader can refuse it."""

from __future__ import annotations

import json
from pathlib import Path

from engine.store.manifest import MANIFEST_NAME, build_manifest, manifest_bytes

# history.json contents of shapes the readers index without checks, each valid JSON.
BAD_HISTORIES = {
    "epochs are numbers": {"epochs": [1, 2, 3]},
    "epochs are lists": {"epochs": [[0.5, 0.9]]},
    "epochs is a number": {"epochs": 3},
    "an epoch number that is text": {"epochs": [{"epoch": "1", "loss": 0.5}]},
    "a score that is text": {"epochs": [{"epoch": 1, "loss": "low"}]},
    "initial is a list": {"initial": [0.1], "epochs": []},
    "the history is a list": [{"epoch": 1}],
    "a restored epoch beyond the epochs": {"epochs": [{"epoch": 1}], "restored_epoch": 2},
    "a restored epoch that is text": {"epochs": [{"epoch": 1}], "restored_epoch": "1"},
}


def plant_file(run_folder: Path, name: str, text: str) -> None:
    folder = Path(run_folder)
    (folder / name).write_text(text, encoding="utf-8")
    manifest = build_manifest(folder)
    (folder / MANIFEST_NAME).write_bytes(manifest_bytes(manifest))  # the store's own bytes, or it refuses the run


def plant_history(run_folder: Path, history: object) -> None:
    plant_file(run_folder, "history.json", json.dumps(history))


def copied_run(run, tmp_path: Path):
    """A copy of stored run `run` in `tmp_path` (same id and meta), to damage without touching the store's."""
    import shutil

    from engine.store import StoredRun

    folder = tmp_path / run.run_id
    shutil.copytree(run.path, folder)
    return StoredRun(run.run_id, folder, run.meta)

"""`StoredRun`: one verified run folder, and safe readers for the files the trainer put in it.

Nothing here unpickles or runs code from the cache: arrays load with `allow_pickle=False` and models with
Keras' `safe_mode=True`, so a planted file can at worst fail to load. Keras is imported only inside
`load_model`, because the dashboard's first page must render without importing TensorFlow.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from engine.errors import StoreError
from engine.store.meta_checks import validate_run_history
from engine.test_time_views import view_layers
from engine.textfiles import load_json_file, open_regular_file

MODEL_NAME = "model.keras"
HISTORY_NAME = "history.json"


@dataclass(frozen=True)
class StoredRun:
    """A run that passed verification when the store handed it out."""

    run_id: str
    path: Path
    meta: dict = field(hash=False)  # a dict cannot be hashed; equality still compares it

    def file(self, name: str) -> Path:
        """Path of one file of the run; `name` must be a plain relative name that stays inside the folder."""
        rel = PurePosixPath(name)
        if not name or "\\" in name or rel.is_absolute() or any(part in ("..", ".") for part in rel.parts):
            raise StoreError(f"{name!r} is not a file name inside run {self.run_id}")
        path = self.path.joinpath(*rel.parts)
        if path.is_symlink() or not path.is_file():
            raise StoreError(f"Run {self.run_id} has no file {name!r} (folder {self.path})")
        return path

    def files(self) -> list[str]:
        """Names of every file in the run folder, as relative POSIX paths."""
        names = []
        for dirpath, _dirnames, filenames in os.walk(self.path):
            names += [(Path(dirpath) / n).relative_to(self.path).as_posix() for n in filenames]
        return sorted(names)

    def digest(self) -> str:
        """SHA-256 of the run's manifest, which names every byte of the run: it tells one stored copy of a run id
        from another (a run deleted and trained again gets other weights, another history and a new digest)."""
        import hashlib

        with open_regular_file(self.file("manifest.json")) as handle:
            return hashlib.file_digest(handle, "sha256").hexdigest()

    def size_bytes(self) -> int:
        return sum(self.file(name).stat().st_size for name in self.files())

    def history(self) -> dict[str, Any]:
        """The training history the trainer wrote (`history.json`), e.g. per-epoch loss and accuracy.

        Checked for the shape its readers index (`validate_run_history`): a `StoreError` naming what is wrong, never
        a history that crashes a chart or a report later."""
        path = self.file(HISTORY_NAME)
        try:
            history = load_json_file(path)
        except ValueError as exc:  # UnicodeDecodeError is one too
            raise StoreError(f"{path} is not valid JSON ({exc}); delete run {self.run_id} and retrain it") from exc
        except OSError as exc:  # missing, or a FIFO, a link, a device or a huge file in its place
            raise StoreError(f"{path} cannot be read ({exc.strerror or exc})") from exc
        try:
            validate_run_history(history)
        except StoreError as exc:
            raise StoreError(
                f"The history of run {self.run_id} is damaged: {exc}. Delete the run and retrain it."
            ) from exc
        return history

    def array(self, name: str) -> np.ndarray:
        """Load `<name>.npy` from the run, refusing pickled (object) arrays."""
        if not name.endswith(".npy"):
            name += ".npy"
        path = self.file(name)
        try:
            return np.load(path, allow_pickle=False)
        except ValueError as exc:
            # numpy raises ValueError both for object arrays (which need pickle) and malformed headers.
            raise StoreError(
                f"Refusing to load {path}: it is not a plain numeric .npy array ({exc}). Digit Lab never unpickles "
                f"cached files; delete run {self.run_id} and retrain it."
            ) from exc

    def test_probabilities(self) -> np.ndarray:
        return self.array("test_probabilities")

    def test_labels(self) -> np.ndarray:
        return self.array("test_labels")

    def load_model(self) -> Any:
        """The trained Keras model, loaded with `safe_mode=True` (no Lambda layers or other pickled code)."""
        path = self.file(MODEL_NAME)
        import keras  # deliberately lazy: importing keras imports TensorFlow, which takes seconds

        try:
            # Digit Lab's own layers (the test-time views) by name: the only classes a stored model may name
            # beyond Keras' own.
            return keras.saving.load_model(str(path), safe_mode=True, compile=False, custom_objects=view_layers())
        except Exception as exc:  # keras raises ValueError, TypeError, OSError... depending on what is wrong
            text = str(exc).lower()
            if "safe_mode" in text or "unsafe" in text or "lambda" in text:
                raise StoreError(
                    f"Refusing to load the model of run {self.run_id}: {path} contains Python code (a Lambda layer "
                    f"or similar), which Digit Lab never runs from the cache. Delete the run and retrain it."
                ) from exc
            raise StoreError(
                f"Could not load the model of run {self.run_id} from {path}: {exc}. Delete the run and retrain it."
            ) from exc

"""A stored run's training dynamics read back as a data map (`engine.evaluation.cartography`).

A run records them when asked, or by default up to 10 000 training images (`engine.training.fit.records_dynamics`):
`train_dynamics.npy`, (epochs run, n_train) float16, each training image's probability of its own label after each
epoch, and `train_predictions.npy`, (epochs run, n_train) unsigned, its predicted class then. Example index i is
row i of the run's training rows as `engine.probes.run_data` rebuilds them (after label merging and the
validation split). Both files are listed in the manifest like every other and checked here against the run (its
epochs, training-set size and classes) before anything is computed from them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.datasets import Dataset
from engine.errors import NotRecorded, StoreError
from engine.evaluation.cartography import REGIONS, Cartography, cartography
from engine.limits import dynamics_map_points
from engine.probes.epochs import checked_class_rows, damaged_file
from engine.store import StoredRun

DYNAMICS = "train_dynamics.npy"
TRAIN_PREDICTIONS = "train_predictions.npy"
HARDEST_SHOWN = 24  # the hardest-to-learn images a page lists


@dataclass(frozen=True)
class TrainingDynamics:
    """One run's data map: per training example its confidence, variability, correctness and region."""

    run_id: str
    epochs: int
    labels: np.ndarray  # (n_train,) int64 gold labels of the training rows
    predicted_last: np.ndarray  # (n_train,) int64 predicted class after the last epoch
    map: Cartography
    hardest: np.ndarray  # (HARDEST_SHOWN,) indices of the least confident training images, hardest first
    hardest_images: np.ndarray  # those images, (n, H, W, channels) floats in 0..1
    source_rows: np.ndarray  # (n_train,) each training row's row in the dataset's own training part

    @property
    def hardest_rows(self) -> np.ndarray:
        """The hardest images' rows in the dataset's own training part (as the label-issue search numbers them)."""
        return self.source_rows[self.hardest]

    @property
    def n_train(self) -> int:
        return len(self.labels)

    def map_sample(self, most: int | None = None) -> np.ndarray:
        """Indices of the examples a map draws: all up to `most` (default: `dynamics_map_points`, fewer when
        hosted), else a seeded random sample of that many, ascending, with the hardest `HARDEST_SHOWN` always in."""
        most = dynamics_map_points() if most is None else int(most)
        if self.n_train <= most:
            return np.arange(self.n_train)
        hardest = self.hardest[:most]
        rest = np.setdiff1d(np.arange(self.n_train), hardest)
        drawn = np.random.default_rng(0).choice(rest, size=most - len(hardest), replace=False)
        return np.sort(np.concatenate([hardest, drawn]))

    def to_dict(self) -> dict:
        m = self.map
        return {
            "run_id": self.run_id,
            "epochs": self.epochs,
            "n_train": self.n_train,
            "regions": list(REGIONS),
            "counts": m.counts(),
            "examples": [
                {
                    "index": i,
                    "label": int(self.labels[i]),
                    "confidence": float(m.confidence[i]),
                    "variability": float(m.variability[i]),
                    "correctness": float(m.correctness[i]),
                    "region": str(m.region[i]),
                }
                for i in range(self.n_train)
            ],
        }


def training_dynamics(run: StoredRun, dataset: Dataset | None = None) -> TrainingDynamics:
    """The run's data map; `NotRecorded` when the run was trained without dynamics, `StoreError` when the files do
    not fit the run. `dataset`: the run's dataset when the caller has it loaded (checked by its fingerprint)."""
    files = set(run.files())
    if DYNAMICS not in files or TRAIN_PREDICTIONS not in files:
        raise NotRecorded(
            f"Run {run.run_id} was trained without recording its training dynamics (they are recorded by default "
            "up to 10,000 training images, on request above). They are not part of what a run is, so training it "
            "again needs the stored run deleted first: delete it and train with --record-dynamics (or the Train "
            "page's checkbox)."
        )
    gold = run.array(DYNAMICS)
    epochs = len(run.history().get("epochs", []))
    n_train = run.meta.get("dataset", {}).get("n_train")
    if gold.shape != (epochs, n_train):
        raise damaged_file(
            run, DYNAMICS, f"its shape is {gold.shape}, the run has {epochs} epochs and {n_train} training images"
        )
    if gold.dtype.kind != "f" or not np.isfinite(gold).all() or gold.size and (gold.min() < 0 or gold.max() > 1):
        raise damaged_file(run, DYNAMICS, "it holds values that are not probabilities")
    predicted = checked_class_rows(run, TRAIN_PREDICTIONS, run.array(TRAIN_PREDICTIONS), epochs, "training")
    if epochs == 0:
        raise NotRecorded(f"Run {run.run_id} finished no epoch, so it has no training dynamics.")
    from engine.probes.run_data import run_data  # deferred: it loads the dataset

    # The gold labels and images of the run's training rows, rebuilt from its dataset and config (no copy is stored).
    rebuilt = run_data(run, dataset).data
    labels = rebuilt.y_train.astype(np.int64)
    if len(labels) != n_train:
        raise StoreError(f"Run {run.run_id} recorded {n_train} training images, its rebuilt split has {len(labels)}.")
    found = cartography(gold, predicted == labels[None, :])
    hardest = found.hardest(HARDEST_SHOWN)
    return TrainingDynamics(
        run.run_id,
        epochs,
        labels,
        predicted[-1].astype(np.int64),
        found,
        hardest,
        rebuilt.x_train[hardest],
        rebuilt.train_source_rows,
    )

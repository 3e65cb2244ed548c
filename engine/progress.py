"""Progress, in one module: what one training reports while it runs (`ProgressEvent`, `ProgressCallback`) and
where each run of a batch stands (`BatchProgress`, `BatchCallback`) — the folds of a k-fold, the models of a preset
study, the trials of a sweep.

Every batch runs through an executor, which reports `TaskEvent`s; `engine.executors.batch_relay` turns them into
one `BatchProgress` type, so the dashboard's progress panel and the CLI's printer serve every kind of batch alike.
The relay lives with the executors because it reads their events: this module is in the foundation layer and
imports nothing above it, so the fit, pages, the CLI and executors can name progress without importing Keras.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class ProgressEvent:
    """What the progress callback sees.

    `stage` is "queued" (waiting for a training slot; `metrics["position"]`, 1 = next), "start" (before
    epoch 1, with the initial validation score), "batch" (partial progress in a long epoch) or "epoch".
    """

    stage: str
    epoch: int  # epochs finished so far (0 at "start")
    epochs: int
    elapsed: float  # seconds since training started
    metrics: dict = field(default_factory=dict)  # for "epoch": loss, accuracy, val_loss, val_accuracy, seconds
    batch: int = 0  # for "batch": batches finished in the current epoch
    batches: int = 0

    @property
    def fraction_done(self) -> float:
        """Share of the whole training finished, 0 to 1, counting a partial epoch's batches (for progress bars)."""
        partial = self.batch / self.batches if self.stage == "batch" and self.batches else 0.0
        return min(1.0, (self.epoch + partial) / max(1, self.epochs))


# The callback returns False to cancel training; anything else (None, True) lets it continue.
ProgressCallback = Callable[[ProgressEvent], "bool | None"]

# "queued": submitted, waiting for a worker (parallel executors only); "start": a worker (or this process) took
# the run; "training": `event` holds the epoch or batch ProgressEvent; "done": stored or answered from the store
# (`cached`); "failed": `error` says why, the other runs of the batch go on.
BATCH_STATUSES = ("queued", "start", "training", "done", "failed")


@dataclass(frozen=True)
class BatchProgress:
    """Where one run of a batch stands. Runs may start and finish in any order on a parallel executor."""

    index: int  # 1-based position of this run in the batch
    total: int  # runs in the batch
    status: str  # one of BATCH_STATUSES
    label: str = ""  # what this run is beyond its number ("seed003-m4" in a preset study); "" for a k-fold's folds
    run_id: str = ""  # the store key of this run
    cached: bool = False  # "done" only: answered from the store, nothing trained
    event: ProgressEvent | None = None  # "training" only: the inner training progress
    done: int = 0  # runs of the batch finished (stored, from the store or failed) so far
    error: str = ""  # "failed" only: why
    attempt: int = 1  # > 1 when a worker retries the run

    def describe(self, noun: str) -> str:
        """This run named for a person: "Fold 2 of 5", or "Model 4 of 10 (seed003-m4)" when it has a label."""
        head = f"{noun.capitalize()} {self.index} of {self.total}"
        return f"{head} ({self.label})" if self.label else head


BatchCallback = Callable[[BatchProgress], bool | None]  # False cancels a local training, as for one run

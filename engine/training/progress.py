"""What a training reports while it runs: the `ProgressEvent` value and the callback type that receives it.

Kept apart from the fit so pages, the CLI and executors can name progress without importing Keras.
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

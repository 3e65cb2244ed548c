"""The engine's own Keras callback: the epoch watcher that records history, catches divergence and relays progress.

This module imports Keras at its top; `engine.training.fit` imports it inside `train`, so importing
`engine.training` (or listing runs on a page) does not load TensorFlow.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from contextlib import suppress
from typing import Any

import keras
import numpy as np

from engine.progress import ProgressCallback, ProgressEvent
from engine.training.config import TrainConfig

KEPT_METRICS = ("loss", "accuracy", "val_loss", "val_accuracy")  # what an epoch's history entry records


class EpochWatcher(keras.callbacks.Callback):
    """Records each epoch, stops at the first non-finite loss, relays progress, and honours cancel."""

    BATCH_EVENT_SECONDS = 1.0  # how often a long epoch reports partial progress

    def __init__(self, config: TrainConfig, progress: ProgressCallback | None, steps_per_epoch: int):
        super().__init__()
        self.config = config
        self.progress = progress
        self.steps_per_epoch = steps_per_epoch
        self.epochs: list[dict] = []
        self.diverged = ""
        self.cancelled = False
        self.started = time.perf_counter()
        self._epoch_started = self.started
        self._last_batch_event = self.started
        # Scores the validation set after each epoch ({"val_loss": ..., "val_accuracy": ...}); its numbers are
        # added to the epoch's logs, so callbacks after this one (early stopping) read them as Keras' own.
        self.validate: Callable[[], dict[str, float]] | None = None

    def emit(self, event: ProgressEvent) -> None:
        if self.progress is not None and self.progress(event) is False:
            self.cancelled = True
            if self.model is not None:
                self.model.stop_training = True

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._epoch_started = time.perf_counter()

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        loss = float((logs or {}).get("loss", 0.0))
        if not math.isfinite(loss):
            self.diverged = "NaN" if math.isnan(loss) else "infinite"
            self.model.stop_training = True
            return
        now = time.perf_counter()
        if self.progress is not None and now - self._last_batch_event >= self.BATCH_EVENT_SECONDS:
            self._last_batch_event = now
            self.emit(
                ProgressEvent(
                    "batch",
                    len(self.epochs),
                    self.config.epochs,
                    now - self.started,
                    batch=batch + 1,
                    batches=self.steps_per_epoch,
                )
            )

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if self.diverged:
            return
        if self.validate is not None and logs is not None:
            logs.update(self.validate())
        now = time.perf_counter()
        metrics = {key: float(value) for key, value in (logs or {}).items() if key in KEPT_METRICS}
        if any(not math.isfinite(value) for value in metrics.values()):
            self.diverged = "NaN"
            self.model.stop_training = True
            return
        metrics["seconds"] = now - self._epoch_started
        with suppress(TypeError, ValueError):  # a rate Keras cannot report as one number is left out
            metrics["learning_rate"] = float(np.asarray(self.model.optimizer.learning_rate))
        self.epochs.append({"epoch": epoch + 1, **metrics})
        self.emit(ProgressEvent("epoch", epoch + 1, self.config.epochs, now - self.started, metrics))


class EpochRecorder(keras.callbacks.Callback):
    """After each epoch, the model's answers kept for later reading: the predicted class of every test image
    (`predictions`, uint8 up to 256 classes: confusion matrices over time) and, when asked, every training image's
    probability of its own label (`dynamics`, float16) and predicted class (`train_predictions`) for dataset
    cartography. It runs after the `EpochWatcher`, which
    has already timed the epoch, so the seconds it spends are recorded apart (`seconds`, one entry per epoch).

    `outputs` maps images to probabilities in inference mode (the run's `Scorer.outputs`, traced once).
    """

    def __init__(
        self,
        outputs: Callable[[np.ndarray], np.ndarray],
        watcher: EpochWatcher,
        x_test: np.ndarray,
        train: tuple[np.ndarray, np.ndarray] | None = None,
        settled_epoch: int | None = None,
    ) -> None:
        super().__init__()
        self.outputs = outputs
        self.watcher = watcher
        self.x_test = x_test
        self.train = train  # (images, labels), or None when the training dynamics are not recorded
        self.predictions: list[np.ndarray] = []
        self.dynamics: list[np.ndarray] = []
        self.train_predictions: list[np.ndarray] = []  # each epoch's predicted class of every training image
        self.seconds: list[float] = []
        # The epoch whose row `settle` will write from the final scores anyway (the last one, when nothing can
        # restore an earlier epoch's weights): scoring it here too would be thrown away. In a one-epoch run that
        # was a whole extra pass over the test set inside the training's clock.
        self.settled_epoch = settled_epoch

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        # Only epochs the watcher recorded: a diverged or cancelled epoch stores nothing, so row e - 1 is epoch e.
        if self.watcher.diverged or len(self.watcher.epochs) != len(self.predictions) + 1:
            return
        if epoch + 1 == self.settled_epoch:
            self.seconds.append(0.0)
            return
        started = time.perf_counter()
        probabilities = self.outputs(self.x_test)
        classes = _class_dtype(probabilities)
        self.predictions.append(probabilities.argmax(axis=1).astype(classes))
        if self.train is not None:
            images, labels = self.train
            probabilities = self.outputs(images)
            self.dynamics.append(probabilities[np.arange(len(labels)), labels].astype(np.float16))
            # Whether each image is predicted right takes the argmax, which its label's probability alone does not
            # tell (0.4 can be the largest of ten).
            self.train_predictions.append(probabilities.argmax(axis=1).astype(classes))
        self.seconds.append(time.perf_counter() - started)

    def settle(self, epoch: int, test_outputs: np.ndarray, train_outputs: np.ndarray) -> None:
        """Write the stored model's own float32 answers into the row of `epoch`, the epoch whose weights it holds.

        Rows were scored during training in the hidden layers' training precision; with bfloat16 a near-tie can
        fall the other way than in the float32 model that is stored, and the stored model's row must be exactly
        its final test probabilities' (and its training-set scores'). In float32 the two are the same numbers.
        """
        row = epoch - 1
        if not 0 <= row <= len(self.predictions) or (row == len(self.predictions) and epoch != self.settled_epoch):
            return
        classes = _class_dtype(test_outputs)
        _put(self.predictions, row, test_outputs.argmax(axis=1).astype(classes))
        if self.train is not None and row <= len(self.dynamics):
            labels = self.train[1]
            _put(self.dynamics, row, train_outputs[np.arange(len(labels)), labels].astype(np.float16))
            _put(self.train_predictions, row, train_outputs.argmax(axis=1).astype(classes))


def _class_dtype(probabilities: np.ndarray) -> type[np.unsignedinteger]:
    """The smallest unsigned type that holds a class number of these probabilities' classes."""
    return np.uint8 if probabilities.shape[1] <= 256 else np.uint16


def _put(rows: list[np.ndarray], row: int, values: np.ndarray) -> None:
    """Replace row `row`, or append it when it is the next one (the settled epoch was not scored during training)."""
    if row == len(rows):
        rows.append(values)
    else:
        rows[row] = values

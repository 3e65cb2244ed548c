"""Train one spec on one dataset with one config: real Keras `fit`, live progress, divergence and cancel.

`train` returns everything a run keeps (model, per-epoch history with the validation score before the first
epoch, test-set probabilities) and stores nothing; `engine.runs` decides what is cached.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Callable

import numpy as np

from engine.architectures.shapes import parameter_counts
from engine.architectures.spec import ModelSpec
from engine.datasets import Dataset
from engine.errors import InvalidSpec, TrainingCancelled, TrainingDiverged
from engine.training.config import TrainConfig
from engine.training.data import PreparedData, prepare_data


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


# The callback returns False to cancel training; anything else (None, True) lets it continue.
ProgressCallback = Callable[[ProgressEvent], "bool | None"]


@dataclass
class TrainingResult:
    model: object  # keras.Model
    history: dict  # {"initial": {...} or None, "epochs": [...], "stopped_early": bool}
    test_probabilities: np.ndarray  # (n_test, classes) float32
    test_labels: np.ndarray  # (n_test,) int
    class_names: tuple[str, ...]
    train_seconds: float
    parameters: dict
    data: dict  # sizes of the train/validation/test parts and the transforms applied


def train(dataset: Dataset, spec: ModelSpec, config: TrainConfig, progress: ProgressCallback | None = None) -> TrainingResult:
    """Fit `spec` on `dataset` following `config`. Raises `TrainingDiverged` or `TrainingCancelled`."""
    data = prepare_data(dataset, config)
    if tuple(spec.input_shape) != data.image_shape or spec.num_classes != data.num_classes:
        raise InvalidSpec(
            f"The model expects {spec.input_shape} images and {spec.num_classes} classes but the data has "
            f"{data.image_shape} and {data.num_classes}; size the spec with `spec.for_data`."
        )
    import keras

    keras.utils.set_random_seed(config.seed)
    steps_per_epoch = math.ceil(len(data.x_train) / config.batch_size)
    from engine.architectures.build import build_model
    model = build_model(spec, learning_rate=_learning_rate(spec, config, steps_per_epoch))
    watcher = _watcher_class()(config, progress, steps_per_epoch)
    started = time.perf_counter()
    watcher.started = started

    initial = None
    if data.has_validation:
        loss, accuracy = model.evaluate(data.x_val, _targets(spec, data.y_val), batch_size=512, verbose=0)
        initial = {"val_loss": float(loss), "val_accuracy": float(accuracy)}
    watcher.emit(ProgressEvent("start", 0, config.epochs, 0.0, dict(initial or {})))

    callbacks: list = [watcher]
    if config.early_stopping_patience:
        callbacks.append(keras.callbacks.EarlyStopping(monitor="val_loss", patience=config.early_stopping_patience,
                                                       restore_best_weights=True))
    model.fit(
        _pipeline(data, spec, config),
        epochs=config.epochs,
        validation_data=(data.x_val, _targets(spec, data.y_val)) if data.has_validation else None,
        callbacks=callbacks,
        shuffle=False,  # the pipeline already shuffles, with the run's seed
        verbose=0,
    )
    if watcher.diverged:
        raise TrainingDiverged(
            f"Training diverged: the loss became {watcher.diverged} in epoch {len(watcher.epochs) + 1}. "
            f"Lower the learning rate (now {spec.learning_rate:g}; try {spec.learning_rate / 10:g}) or use batch norm. "
            "Nothing was stored."
        )
    if watcher.cancelled:
        raise TrainingCancelled(f"Training was cancelled after {len(watcher.epochs)} of {config.epochs} epochs; nothing was stored.")
    train_seconds = time.perf_counter() - started
    final_validation = None
    if data.has_validation:
        # Scored after fit, so early stopping's restored best weights are what gets reported.
        loss, accuracy = model.evaluate(data.x_val, _targets(spec, data.y_val), batch_size=512, verbose=0)
        final_validation = {"val_loss": float(loss), "val_accuracy": float(accuracy)}
    probabilities = model.predict(data.x_test, batch_size=512, verbose=0).astype(np.float32)
    if not np.all(np.isfinite(probabilities)):
        raise TrainingDiverged("The trained model predicts NaN on the test set. Lower the learning rate; nothing was stored.")
    return TrainingResult(
        model=model,
        history={"initial": initial, "epochs": watcher.epochs, "final_validation": final_validation,
                 "stopped_early": len(watcher.epochs) < config.epochs},
        test_probabilities=probabilities,
        test_labels=data.y_test.astype(np.int64),
        class_names=data.class_names,
        train_seconds=train_seconds,
        parameters=parameter_counts(spec),
        data=data.summary(),
    )


def _targets(spec: ModelSpec, labels: np.ndarray) -> np.ndarray:
    if spec.loss == "sparse_categorical_crossentropy":
        return labels
    return np.eye(spec.num_classes, dtype=np.float32)[labels]


def _pipeline(data: PreparedData, spec: ModelSpec, config: TrainConfig):
    """One in-memory float32 `tf.data` pipeline: shuffled each epoch with the seed, batched, prefetched."""
    import tensorflow as tf

    images = tf.data.Dataset.from_tensor_slices((data.x_train, _targets(spec, data.y_train)))
    pipeline = images.shuffle(len(data.x_train), seed=config.seed, reshuffle_each_iteration=True).batch(config.batch_size)
    if config.augmentation:
        augment = _augmenter(config)
        pipeline = pipeline.map(lambda x, y: (augment(x, training=True), y), num_parallel_calls=tf.data.AUTOTUNE)
    return pipeline.prefetch(tf.data.AUTOTUNE)


def _augmenter(config: TrainConfig):
    import keras
    from keras import layers

    parts = []
    if config.augment_shift:
        parts.append(layers.RandomTranslation(config.augment_shift, config.augment_shift, fill_mode="constant", seed=config.seed))
    if config.augment_rotation:
        parts.append(layers.RandomRotation(config.augment_rotation / 360.0, fill_mode="constant", seed=config.seed))
    if config.augment_zoom:
        parts.append(layers.RandomZoom(config.augment_zoom, fill_mode="constant", seed=config.seed))
    return keras.Sequential(parts, name="augmentation")


def _learning_rate(spec: ModelSpec, config: TrainConfig, steps_per_epoch: int):
    import keras

    total = max(1, steps_per_epoch * config.epochs)
    if config.lr_schedule == "one_cycle":
        # Warm up from lr/25 to lr over the first 30 % of steps, then cosine-anneal to ~0 (Smith's one-cycle).
        warmup = max(1, int(0.3 * total))
        return keras.optimizers.schedules.CosineDecay(
            spec.learning_rate / 25, decay_steps=max(1, total - warmup), alpha=0.0,
            warmup_target=spec.learning_rate, warmup_steps=warmup,
        )
    if config.lr_schedule == "cosine":
        return keras.optimizers.schedules.CosineDecay(spec.learning_rate, decay_steps=total, alpha=0.0)
    return spec.learning_rate


class _Watcher:
    """Records each epoch, stops at the first non-finite loss, relays progress, and honours cancel.

    It becomes a `keras.callbacks.Callback` subclass on first use (`_watcher`), so importing this module does
    not import Keras.
    """

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

    def emit(self, event: ProgressEvent) -> None:
        if self.progress is not None and self.progress(event) is False:
            self.cancelled = True
            if self.model is not None:
                self.model.stop_training = True

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_started = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        loss = float((logs or {}).get("loss", 0.0))
        if not math.isfinite(loss):
            self.diverged = "NaN" if math.isnan(loss) else "infinite"
            self.model.stop_training = True
            return
        now = time.perf_counter()
        if self.progress is not None and now - self._last_batch_event >= self.BATCH_EVENT_SECONDS:
            self._last_batch_event = now
            self.emit(ProgressEvent("batch", len(self.epochs), self.config.epochs, now - self.started,
                                    batch=batch + 1, batches=self.steps_per_epoch))

    def on_epoch_end(self, epoch, logs=None):
        if self.diverged:
            return
        now = time.perf_counter()
        metrics = {key: float(value) for key, value in (logs or {}).items() if key in _KEPT}
        if any(not math.isfinite(value) for value in metrics.values()):
            self.diverged = "NaN"
            self.model.stop_training = True
            return
        metrics["seconds"] = now - self._epoch_started
        try:
            metrics["learning_rate"] = float(np.asarray(self.model.optimizer.learning_rate))
        except (TypeError, ValueError):
            pass
        self.epochs.append({"epoch": epoch + 1, **metrics})
        self.emit(ProgressEvent("epoch", epoch + 1, self.config.epochs, now - self.started, metrics))


_KEPT = ("loss", "accuracy", "val_loss", "val_accuracy")


@lru_cache(maxsize=1)
def _watcher_class() -> type:
    import keras

    return type("Watcher", (_Watcher, keras.callbacks.Callback), {})

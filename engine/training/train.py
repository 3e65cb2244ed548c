"""Train one spec on one dataset with one config: real Keras `fit`, live progress, divergence and cancel.

`train` returns everything a run keeps (model, per-epoch history with the validation score before the first
epoch, test-set probabilities) and stores nothing; `engine.runs` decides what is cached.

Speed and memory (measured in bench/, see bench/README.md): the training set is shuffled as indices and
gathered per batch (no second copy in a shuffle buffer); validation runs in batches of 512; on a CPU with
native bfloat16 (AVX512-BF16 / AMX) the hidden layers compute in bfloat16 while weights, the output layer,
the returned model and the test-set probabilities stay float32 (`DIGIT_LAB_PRECISION` overrides); and the
graphs each training leaves in TensorFlow's global gradient registry are released when no training is running.
"""

from __future__ import annotations

import gc
import math
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from engine.architectures.shapes import parameter_counts
from engine.architectures.spec import ModelSpec
from engine.datasets import Dataset
from engine.errors import (
    InvalidConfig,
    InvalidSpec,
    TrainingCancelled,
    TrainingDiverged,
)
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

    @property
    def fraction_done(self) -> float:
        """Share of the whole training finished, 0 to 1, counting a partial epoch's batches (for progress bars)."""
        partial = self.batch / self.batches if self.stage == "batch" and self.batches else 0.0
        return min(1.0, (self.epoch + partial) / max(1, self.epochs))


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


def train(dataset: Dataset, spec: ModelSpec, config: TrainConfig, progress: ProgressCallback | None = None,
          *, callbacks: Sequence = ()) -> TrainingResult:
    """Fit `spec` on `dataset` following `config`. Raises `TrainingDiverged` or `TrainingCancelled`.

    `callbacks` are extra Keras callbacks run after the engine's own (bench/ scores the test set with one).
    """
    data = prepare_data(dataset, config)
    if tuple(spec.input_shape) != data.image_shape or spec.num_classes != data.num_classes:
        raise InvalidSpec(
            f"The model expects {spec.input_shape} images and {spec.num_classes} classes but the data has "
            f"{data.image_shape} and {data.num_classes}; size the spec with `spec.for_data`."
        )
    with _training_session():
        return _fit(data, spec, config, progress, list(callbacks))


def _fit(data: PreparedData, spec: ModelSpec, config: TrainConfig, progress: ProgressCallback | None,
         extra_callbacks: list) -> TrainingResult:
    import keras

    keras.utils.set_random_seed(config.seed)
    steps_per_epoch = math.ceil(len(data.x_train) / config.batch_size)
    from engine.architectures.build import build_model
    model = build_model(spec, learning_rate=_learning_rate(spec, config, steps_per_epoch),
                        steps_per_execution=STEPS_PER_EXECUTION)
    precision = compute_precision(spec)
    _set_hidden_policy(model, precision)
    watcher = _watcher_class()(config, progress, steps_per_epoch)
    started = time.perf_counter()
    watcher.started = started

    initial = None
    if data.has_validation:
        loss, accuracy = model.evaluate(data.x_val, _targets(spec, data.y_val), batch_size=VALIDATION_BATCH, verbose=0)
        initial = {"val_loss": float(loss), "val_accuracy": float(accuracy)}
    watcher.emit(ProgressEvent("start", 0, config.epochs, 0.0, dict(initial or {})))

    callbacks: list = [watcher]
    if config.early_stopping_patience:
        callbacks.append(keras.callbacks.EarlyStopping(monitor="val_loss", patience=config.early_stopping_patience,
                                                       restore_best_weights=True))
    callbacks += extra_callbacks
    model.fit(
        _pipeline(data, spec, config),
        epochs=config.epochs,
        validation_data=(data.x_val, _targets(spec, data.y_val)) if data.has_validation else None,
        validation_batch_size=VALIDATION_BATCH,
        callbacks=callbacks,
        shuffle=False,  # the pipeline already shuffles, with the run's seed
        verbose=0,
    )
    # The stored model, its test-set probabilities and the final validation score are float32 whatever the
    # training precision, so a reloaded model predicts exactly what the run stored.
    _set_hidden_policy(model, "float32")
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
        loss, accuracy = model.evaluate(data.x_val, _targets(spec, data.y_val), batch_size=VALIDATION_BATCH, verbose=0)
        final_validation = {"val_loss": float(loss), "val_accuracy": float(accuracy)}
    probabilities = model.predict(data.x_test, batch_size=VALIDATION_BATCH, verbose=0).astype(np.float32)
    if not np.all(np.isfinite(probabilities)):
        raise TrainingDiverged("The trained model predicts NaN on the test set. Lower the learning rate; nothing was stored.")
    return TrainingResult(
        model=model,
        history={"initial": initial, "epochs": watcher.epochs, "final_validation": final_validation,
                 "stopped_early": len(watcher.epochs) < config.epochs, "precision": precision},
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
    """One in-memory float32 `tf.data` pipeline: shuffled each epoch with the seed, batched, prefetched.

    Only row indices pass through the shuffle; each batch is one `gather` from the arrays. Shuffling the
    images themselves would hold a second copy of the training set in the shuffle buffer (170 MB for
    Fashion-MNIST) and refill it at the start of every epoch. tf.data's default static optimisations are off:
    they serialise the pipeline graph, captured arrays included, which cost another copy (~190 MB measured).
    Autotuning is off too, with a fixed prefetch: tearing down the previous epoch's iterator waited on a
    thread of tf.data's autotuning, so on 2 cores about every second epoch began with 4-5 s of both cores idle
    (seen with py-spy in `~RootDataset::Iterator`; bench/README.md).
    """
    import tensorflow as tf

    images = tf.convert_to_tensor(data.x_train)
    targets = tf.convert_to_tensor(_targets(spec, data.y_train))
    options = tf.data.Options()
    options.experimental_optimization.apply_default_optimizations = False
    options.autotune.enabled = False
    rows = tf.data.Dataset.range(len(data.x_train))
    pipeline = (rows.shuffle(len(data.x_train), seed=config.seed, reshuffle_each_iteration=True)
                .batch(config.batch_size)
                .map(lambda index: (tf.gather(images, index), tf.gather(targets, index)))
                .with_options(options))
    if config.augmentation:
        augment = _augmenter(config)
        pipeline = pipeline.map(lambda x, y: (augment(x, training=True), y), num_parallel_calls=tf.data.AUTOTUNE)
    return pipeline.prefetch(PREFETCH_BATCHES)


# Batches per call into TensorFlow. The same updates in the same order (a run's numbers do not change), but
# the step loop runs inside the graph: 15-17 % less CPU and 22 % less wall time per epoch for seed001-cnn3
# at batch 64 on 2 cores, for about 60-150 MiB more memory held by a trained model (bench/README.md). The
# engine's callbacks then see every 32nd batch, which is still several progress updates a second.
STEPS_PER_EXECUTION = 32
PREFETCH_BATCHES = 4  # a fixed buffer: one gather per batch needs no tuning
VALIDATION_BATCH = 512  # forward passes only: large batches cost less per image (Keras' default would be 32)
PRECISIONS = ("auto", "float32", "mixed_bfloat16")
BFLOAT16_MIN_MACS = 1_000_000  # per image, forward; below it (8x8 models) bfloat16 saved no time (bench/README.md)


def compute_precision(spec: ModelSpec | None = None) -> str:
    """The precision hidden layers train in: `DIGIT_LAB_PRECISION` (auto | float32 | mixed_bfloat16).

    auto picks mixed_bfloat16 only where oneDNN has native bfloat16 kernels (CPU flags avx512_bf16 or
    amx_bf16, oneDNN not switched off, no GPU) and the model is big enough for its convolutions to dominate:
    there it cut the seed001 CNN's step time by about a third at equal accuracy (bench/time_to_accuracy.py).
    Elsewhere bfloat16 is emulated and slower, or only adds casts to a tiny model, so float32 stays.
    """
    choice = os.environ.get("DIGIT_LAB_PRECISION", "auto").strip().lower() or "auto"
    if choice not in PRECISIONS:
        raise InvalidConfig(f"DIGIT_LAB_PRECISION must be one of {', '.join(PRECISIONS)}, got {choice!r}.")
    if choice != "auto":
        return choice
    if spec is not None and forward_macs(spec) < BFLOAT16_MIN_MACS:
        return "float32"
    return "mixed_bfloat16" if _native_bfloat16() else "float32"


def forward_macs(spec: ModelSpec) -> int:
    """Multiply-accumulates of one image's forward pass through the conv and dense layers."""
    from engine.architectures.shapes import layer_table

    total = 0
    for row in layer_table(spec):
        if row.kind == "Conv2D":
            height, width, filters = row.output_shape
            total += height * width * (row.trainable - filters)  # weights without biases, once per output pixel
        elif row.kind == "Dense":
            total += row.trainable - row.output_shape[-1]
    return total


@lru_cache(maxsize=1)
def _native_bfloat16() -> bool:
    if os.environ.get("TF_ENABLE_ONEDNN_OPTS", "").strip() == "0":
        return False
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as cpuinfo:
            flags = next((line for line in cpuinfo if line.startswith("flags")), "").split()
    except OSError:
        return False
    if not {"avx512_bf16", "amx_bf16"} & set(flags):
        return False
    return not _gpu_possible()


def _gpu_possible() -> bool:
    """Whether TensorFlow could train on a GPU here, decided without importing it.

    `run_id_for` asks for the precision, and pages that only look runs up must not wait for TensorFlow; the
    answer must also not change once TensorFlow is loaded, because it is part of the run key.
    """
    from importlib import metadata
    from pathlib import Path

    try:
        metadata.version("tensorflow-cpu")
        return False  # the CPU-only wheel has no GPU support
    except metadata.PackageNotFoundError:
        pass
    return any(Path(device).exists() for device in ("/dev/nvidia0", "/dev/kfd", "/dev/dxg"))


def _set_hidden_policy(model, policy: str) -> None:
    """Every layer but the softmax output computes in `policy`; variables stay float32 either way.

    Per-layer policies touch no global Keras state, so trainings in other threads are unaffected. Traced
    functions are dropped, so the next evaluate or predict runs in the new precision.
    """
    if all(layer.dtype_policy.name == policy for layer in model.layers[:-1]):
        return
    for layer in model.layers[:-1]:
        layer.dtype_policy = policy
    model.train_function = model.test_function = model.predict_function = None


_session_lock = threading.Lock()
_active_trainings = 0


@contextmanager
def _training_session() -> Iterator[None]:
    """Count trainings in this process; when the last one ends, release what TensorFlow keeps of them.

    Each Keras `fit`/`evaluate` traces a step whose `all_reduce` registers a graph-mode custom gradient in
    TensorFlow's process-wide gradient registry, which is never unregistered and keeps the whole traced
    graph (about 9 MB for a small CNN) alive: 20 trainings grew a process by ~190 MB. The registry entries
    are only read while a gradient is being traced, so they are dropped once no training is running.
    `keras.backend.clear_session()` is not used: it resets Keras' state for every thread at once (name
    counters, seed generators, policies) under trainings running in other dashboard sessions, and measured,
    it did not cure this growth.
    """
    global _active_trainings
    with _session_lock:
        _active_trainings += 1
    try:
        yield
    finally:
        with _session_lock:
            _active_trainings -= 1
            if _active_trainings == 0:
                _release_traced_graphs()


def _release_traced_graphs() -> None:
    try:
        from tensorflow.python.framework import ops

        registry = ops._gradient_registry._registry  # private: guarded, a newer TensorFlow may differ
    except (ImportError, AttributeError):
        return
    for name in [name for name in registry if name.startswith("CustomGradient-")]:
        registry.pop(name, None)
    gc.collect()  # the released graphs sit in reference cycles with their functions


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

"""Train one spec on one dataset with one config: real Keras `fit`, live progress, divergence and cancel.

`train` returns everything a run keeps (model, per-epoch history with the validation score before the first
epoch, test-set probabilities) and stores nothing; `engine.runs` decides what is cached. This module holds the
orchestration only; its parts live beside it: the input pipeline (`pipeline`), the precision the hidden
layers compute in (`precision`), the epoch watcher (`callbacks`), learning-rate schedules (`schedules`),
augmentation (`augmentation`) and the release of TensorFlow's leftovers between trainings (`tf_session`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.architectures.build import build_model
from engine.architectures.shapes import parameter_counts
from engine.architectures.spec import ModelSpec
from engine.datasets import Dataset
from engine.datasets.label_checks import label_warnings
from engine.errors import InvalidSpec, TrainingCancelled, TrainingDiverged
from engine.progress import ProgressCallback, ProgressEvent
from engine.training.config import TrainConfig
from engine.training.data import PreparedData, prepare_data
from engine.training.pipeline import Scorer, targets, training_pipeline
from engine.training.precision import choose_precision, set_hidden_policy
from engine.training.schedules import learning_rate
from engine.training.tf_session import training_session

# Batches per call into TensorFlow. The same updates in the same order (a run's numbers do not change), but
# the step loop runs inside the graph: 15-17 % less CPU and 22 % less wall time per epoch for seed001-cnn3
# at batch 64 on 2 cores, for about 60-150 MiB more memory held by a trained model (bench/README.md). The
# engine's callbacks then see every 32nd batch, which is still several progress updates a second.
STEPS_PER_EXECUTION = 32


@dataclass
class TrainingResult:
    model: Any  # keras.Model (Keras ships no type information)
    history: dict  # {"initial": {...} or None, "epochs": [...], "stopped_early": bool}
    test_probabilities: np.ndarray  # (n_test, classes) float32
    test_labels: np.ndarray  # (n_test,) int
    class_names: tuple[str, ...]
    train_seconds: float
    parameters: dict
    data: dict  # sizes of the train/validation/test parts and the transforms applied
    prepare_seconds: float = 0.0  # before the first step: data preparation, TensorFlow import, model build
    label_warnings: tuple[str, ...] = ()  # classes the training or test labels never show (`label_checks`)
    # (epochs run, n_test) uint8: each epoch's predicted class of every test image (confusion over time)
    epoch_predictions: np.ndarray | None = None
    # (epochs run, n_train) float16: each epoch's probability of every training image's own label, or None when
    # not recorded (dataset cartography; `record_dynamics`)
    train_dynamics: np.ndarray | None = None
    train_predictions: np.ndarray | None = None  # (epochs run, n_train) uint8 beside `train_dynamics`, or None


# Training dynamics are recorded by default up to this many training images: beyond it, scoring the training set
# after every epoch costs more than it is usually worth, and the array (2 bytes per image and epoch) grows large.
DYNAMICS_DEFAULT_MAX_TRAIN = 10_000


def records_dynamics(record_dynamics: bool | None, n_train: int) -> bool:
    """Whether a training records its training dynamics: as asked, or by default up to
    `DYNAMICS_DEFAULT_MAX_TRAIN` training images (`n_train`: the training rows before the validation split)."""
    return n_train <= DYNAMICS_DEFAULT_MAX_TRAIN if record_dynamics is None else bool(record_dynamics)


def train(
    dataset: Dataset,
    spec: ModelSpec,
    config: TrainConfig,
    progress: ProgressCallback | None = None,
    *,
    callbacks: Sequence = (),
    record_dynamics: bool | None = None,
) -> TrainingResult:
    """Fit `spec` on `dataset` following `config`. Raises `TrainingDiverged` or `TrainingCancelled`.

    `callbacks` are extra Keras callbacks run after the engine's own (bench/ scores the test set with one).
    `record_dynamics`: keep every training image's probability of its label after each epoch (None: when the
    training set has at most `DYNAMICS_DEFAULT_MAX_TRAIN` images). Not part of what a run is: the weights and
    scores are the same either way.
    """
    called = time.perf_counter()
    data = prepare_data(dataset, config)
    if tuple(spec.input_shape) != data.image_shape or spec.num_classes != data.num_classes:
        raise InvalidSpec(
            f"The model expects {spec.input_shape} images and {spec.num_classes} classes but the data has "
            f"{data.image_shape} and {data.num_classes}; size the spec with `spec.for_data`."
        )
    with training_session():
        # The rule reads the training rows before the validation split, the number a page or a command line knows.
        dynamics = records_dynamics(record_dynamics, len(data.x_train) + len(data.x_val))
        return _fit(data, spec, config, progress, list(callbacks), called, dynamics)


def build_training_state(model: Any, spec: ModelSpec) -> None:
    """Create the optimizer's slots and the compiled loss and metric trackers before `fit`, on two blank images.

    Without a distribution strategy, Keras creates them inside the first trace of its train step, and a
    `tf.function` whose first trace creates variables is traced a second time: 1-1.2 s more per run on 2 cores,
    about a quarter of the default digits run beyond the TensorFlow import (bench/README.md). Built here, the
    step is traced once and the run's numbers are unchanged (tested). The trackers' blank-image state is reset.
    """
    images = np.zeros((2, *spec.input_shape), np.float32)
    labels = targets(spec, np.zeros(2, np.int64))
    outputs = model(images, training=False)
    model.optimizer.build(model.trainable_variables)
    model.compute_loss(x=images, y=labels, y_pred=outputs, training=False)
    model.compute_metrics(images, labels, outputs, sample_weight=None)
    model.reset_metrics()


def _fit(
    data: PreparedData,
    spec: ModelSpec,
    config: TrainConfig,
    progress: ProgressCallback | None,
    extra_callbacks: list,
    called: float,
    record_dynamics: bool = False,
) -> TrainingResult:
    import keras

    # Imported here, not at the top: the watcher subclasses a Keras class, and importing this module must
    # not load TensorFlow.
    from engine.training.callbacks import EpochRecorder, EpochWatcher

    keras.utils.set_random_seed(config.seed)
    steps_per_epoch = math.ceil(len(data.x_train) / config.batch_size)
    model = build_model(
        spec,
        learning_rate=learning_rate(spec, config, steps_per_epoch),
        steps_per_execution=STEPS_PER_EXECUTION,
        label_smoothing=config.label_smoothing,
        test_time_mirror=config.test_time_mirror,
    )
    precision = choose_precision(spec)
    set_hidden_policy(model, precision)
    build_training_state(model, spec)
    watcher = EpochWatcher(config, progress, steps_per_epoch)
    started = time.perf_counter()
    watcher.started = started

    score = Scorer(model, spec)
    initial = score(data.x_val, data.y_val).metrics("val_") if data.has_validation else None
    watcher.emit(ProgressEvent("start", 0, config.epochs, 0.0, dict(initial or {})))
    if data.has_validation:
        watcher.validate = lambda: score(data.x_val, data.y_val).metrics("val_")

    recorder = EpochRecorder(
        score.outputs,
        watcher,
        data.x_test,
        (data.x_train, data.y_train) if record_dynamics else None,
        # Early stopping can restore an earlier epoch, and then the last epoch's answers are nowhere else.
        settled_epoch=None if config.early_stopping_patience else config.epochs,
    )
    callbacks: list = [watcher, recorder]
    stopper = None
    if config.early_stopping_patience:
        stopper = keras.callbacks.EarlyStopping(
            monitor="val_loss", patience=config.early_stopping_patience, restore_best_weights=True
        )
        callbacks.append(stopper)
    callbacks += extra_callbacks
    model.fit(
        training_pipeline(data, spec, config),
        epochs=config.epochs,
        callbacks=callbacks,  # the watcher scores the validation set (`Scorer`), not Keras' validation_data
        shuffle=False,  # the pipeline already shuffles, with the run's seed
        verbose=0,
    )
    # The stored model, its test-set probabilities and the final validation score are float32 whatever the
    # training precision, so a reloaded model predicts exactly what the run stored.
    set_hidden_policy(model, "float32")
    if watcher.diverged:
        raise TrainingDiverged(
            f"Training diverged: the loss became {watcher.diverged} in epoch {len(watcher.epochs) + 1}. "
            f"Lower the learning rate (now {spec.learning_rate:g}; try {spec.learning_rate / 10:g}) or use batch "
            "norm. Nothing was stored."
        )
    if watcher.cancelled:
        raise TrainingCancelled(
            f"Training was cancelled after {len(watcher.epochs)} of {config.epochs} epochs; nothing was stored."
        )
    train_seconds = time.perf_counter() - started
    # Early stopping sets the best epoch's weights back at the end of training (Keras does so whether or not it
    # stopped early), so the stored model and test probabilities are that epoch's, not the last one's.
    restored_epoch = stopper.best_epoch + 1 if stopper is not None and stopper.best_weights is not None else None
    if precision != "float32":
        score = Scorer(model, spec)  # traced anew: the hidden layers switched to float32
    # Scored after fit, so early stopping's restored best weights are what gets reported.
    final_validation = score(data.x_val, data.y_val).metrics("val_") if data.has_validation else None
    # The training set scored like validation and test (inference mode: dropout off, batch norm's moving
    # statistics). Keras' epoch `accuracy` is a running average over the epoch's batches with dropout active,
    # which sits below the validation score and misleads when read beside it.
    on_train = score(data.x_train, data.y_train)
    final_train = {"train_loss_inference": on_train.loss, "train_accuracy_inference": on_train.accuracy}
    probabilities = score(data.x_test, data.y_test).outputs
    if not np.all(np.isfinite(probabilities)):
        raise TrainingDiverged(
            "The trained model predicts NaN on the test set. Lower the learning rate; nothing was stored."
        )
    recorder.settle(restored_epoch or len(watcher.epochs), probabilities, on_train.outputs)
    return TrainingResult(
        model=model,
        history={
            "initial": initial,
            "epochs": watcher.epochs,
            "final_validation": final_validation,
            "final_train": final_train,
            "stopped_early": len(watcher.epochs) < config.epochs,
            "precision": precision,
            # The epoch whose weights the stored model holds when early stopping restored an earlier one's; the
            # last epoch's row of the per-epoch predictions is then not the stored model's.
            "restored_epoch": restored_epoch if restored_epoch != len(watcher.epochs) else None,
            # Seconds per epoch spent predicting the test set (and the training set for the dynamics) after it,
            # beside the epoch's own `seconds`: what recording them costs.
            "prediction_seconds": [round(seconds, 4) for seconds in recorder.seconds],
        },
        test_probabilities=probabilities,
        test_labels=data.y_test.astype(np.int64),
        class_names=data.class_names,
        train_seconds=train_seconds,
        parameters=parameter_counts(spec),
        data=data.summary(),
        prepare_seconds=started - called,
        # From the arrays trained on (training + validation rows are the transformed training set).
        label_warnings=label_warnings(
            np.concatenate([data.y_train, data.y_val]), data.y_test, data.class_names, spec.num_classes
        ),
        epoch_predictions=np.stack(recorder.predictions) if recorder.predictions else None,
        train_dynamics=np.stack(recorder.dynamics) if recorder.dynamics else None,
        train_predictions=np.stack(recorder.train_predictions) if recorder.train_predictions else None,
    )

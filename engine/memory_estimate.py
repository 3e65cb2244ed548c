"""How much memory one training adds to its process, estimated from sizes alone (no TensorFlow import).

The training queue (`engine.training_queue`) admits a training only while the estimates of the trainings
running on this machine plus its own fit the memory budget (`engine.limits.memory_budget_mb`). The formula and
its coefficients come from `python -m bench.memory_model`, which trains in fresh processes and reads their
peak resident memory (VmHWM); `bench/README.md` has the measured points and the fit's worst error.

    added peak MB = RUNTIME_MB                                  (once per process: TensorFlow, Keras, the graph)
                  + DATA_FACTOR       x data MB                 (training + test images as float32)
                  + PARAMETER_FACTOR  x parameter MB            (float32 weights)
                  + ACTIVATION_FACTOR x activation MB           (float32 layer outputs of one training batch)
                  + EVAL_FACTOR       x evaluation MB           (the same for one batch of 512 when scoring)

then multiplied by 1 + SAFETY_MARGIN. The data MB count the training images actually used (after the subset,
the validation part included) and the test set; the dataset as loaded is the server's and not counted here.
MB are 10^6 bytes throughout, as in `DIGIT_LAB_MEMORY_MB`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from engine.architectures.shapes import layer_table
from engine.architectures.spec import ModelSpec
from engine.test_time_views import prediction_views
from engine.training.config import TrainConfig
from engine.training.pipeline import VALIDATION_BATCH as EVAL_BATCH  # scoring's batch size

MB = 1e6
FLOAT_BYTES = 4  # the estimate assumes float32 throughout; bfloat16 machines use less

# Fitted by bench/memory_model.py on 15 trainings (bench/README.md, "Memory of one training"), rounded up.
RUNTIME_MB = 680.0  # TensorFlow's runtime, kernels and the first graph: paid once by a process that trains
DATA_FACTOR = 2.9  # the float32 arrays, the tensor copy the pipeline gathers from, validation and test copies
# The fit gives parameters no weight (2.8 MB of weights at 693,578 parameters vanish in the noise); 5 counts the
# weights, their gradients, Adam's two moments and the saved copy, which matters near the 20M-parameter cap.
PARAMETER_FACTOR = 5.0
ACTIVATION_FACTOR = 0.4  # one training batch's layer outputs: kept for the backward pass, mostly reused
EVAL_FACTOR = 2.1  # one scoring batch of 512 (validation, test predictions): outputs and kernel scratch memory
SAFETY_MARGIN = 0.2  # twice the fit's worst under-estimate (10 %, Fashion-MNIST on 2,000 images)


@dataclass(frozen=True)
class TrainingSize:
    """What the estimate reads from a training request: counts and shapes only."""

    train_images: int  # training images used (after the subset), validation part included
    test_images: int
    pixels: int  # height x width x channels of one image
    parameters: int
    activations_per_image: int  # floats output by the input and every layer for one image
    batch_size: int
    # Images a scoring batch carries per image scored: 2 with the test-time mirror, which scores each image and its
    # mirror in one batch (`engine.test_time_views`).
    eval_views: int = 1

    @property
    def data_mb(self) -> float:
        return (self.train_images + self.test_images) * self.pixels * FLOAT_BYTES / MB

    @property
    def parameter_mb(self) -> float:
        return self.parameters * FLOAT_BYTES / MB

    @property
    def activation_mb(self) -> float:
        return self.batch_size * self.activations_per_image * FLOAT_BYTES / MB

    @property
    def eval_activation_mb(self) -> float:
        images = min(EVAL_BATCH, max(self.test_images, 1)) * self.eval_views
        return images * self.activations_per_image * FLOAT_BYTES / MB


@dataclass(frozen=True)
class MemoryEstimate:
    """One training's estimated memory, split into the per-process runtime and the training's own share."""

    runtime_mb: float  # charged once per process (kept while the process lives: TensorFlow stays loaded)
    training_mb: float  # charged while this training runs

    @property
    def total_mb(self) -> float:
        return self.runtime_mb + self.training_mb


def training_size(spec: ModelSpec, config: TrainConfig, n_train: int, n_test: int) -> TrainingSize:
    """The sizes of a (validated) request; `n_train`/`n_test` are the dataset's split sizes before any subset."""
    rows = layer_table(spec)
    used = min(config.limit_train, n_train) if config.limit_train else n_train
    return TrainingSize(
        train_images=used,
        test_images=n_test,
        pixels=math.prod(spec.input_shape),
        parameters=sum(row.parameters for row in rows),
        activations_per_image=math.prod(spec.input_shape) + sum(math.prod(row.output_shape) for row in rows),
        batch_size=min(config.batch_size, used) if used else config.batch_size,
        eval_views=prediction_views(config.test_time_mirror),
    )


def fitted_mb(size: TrainingSize) -> tuple[float, float]:
    """(runtime MB, training MB) of the fitted formula, without the safety margin (bench/ compares these)."""
    training = (
        DATA_FACTOR * size.data_mb
        + PARAMETER_FACTOR * size.parameter_mb
        + ACTIVATION_FACTOR * size.activation_mb
        + EVAL_FACTOR * size.eval_activation_mb
    )
    return RUNTIME_MB, training


def estimate(size: TrainingSize) -> MemoryEstimate:
    """The fitted figures with the safety margin: what the training queue charges."""
    runtime, training = fitted_mb(size)
    return MemoryEstimate(round(runtime * (1 + SAFETY_MARGIN), 1), round(training * (1 + SAFETY_MARGIN), 1))


def estimate_training(spec: ModelSpec, config: TrainConfig, n_train: int, n_test: int) -> MemoryEstimate:
    return estimate(training_size(spec, config, n_train, n_test))

"""The input side of a fit: the in-memory `tf.data` training pipeline, the targets a loss expects, batch sizes.

Speed and memory (measured in bench/, see bench/README.md): the training set is shuffled as indices and
gathered per batch (no second copy in a shuffle buffer), and validation runs in batches of 512. Scoring (the
validation set before and after every epoch, the training and test sets at the end) goes through `Scorer`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.architectures.spec import ModelSpec
from engine.training.augmentation import augmenter
from engine.training.config import TrainConfig
from engine.training.data import PreparedData

PREFETCH_BATCHES = 4  # a fixed buffer: one gather per batch needs no tuning
VALIDATION_BATCH = 512  # forward passes only: large batches cost less per image (Keras' default would be 32)


def targets(spec: ModelSpec, labels: np.ndarray) -> np.ndarray:
    """Labels as the spec's loss expects them: class indices, or one-hot rows for categorical cross-entropy."""
    if spec.loss == "sparse_categorical_crossentropy":
        return labels
    return np.eye(spec.num_classes, dtype=np.float32)[labels]


def training_pipeline(data: PreparedData, spec: ModelSpec, config: TrainConfig) -> Any:
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
    labels = tf.convert_to_tensor(targets(spec, data.y_train))
    options = tf.data.Options()
    options.experimental_optimization.apply_default_optimizations = False
    options.autotune.enabled = False
    rows = tf.data.Dataset.range(len(data.x_train)).shuffle(
        len(data.x_train), seed=config.seed, reshuffle_each_iteration=True
    )
    if config.augment_flip:
        pipeline = (
            tf.data.Dataset.zip(rows, flip_coins(config.seed))
            .batch(config.batch_size)
            .map(lambda index, coin: (mirror_where(tf.gather(images, index), coin), tf.gather(labels, index)))
        )
    else:
        pipeline = rows.batch(config.batch_size).map(lambda index: (tf.gather(images, index), tf.gather(labels, index)))
    pipeline = pipeline.with_options(options)
    if config.augmentation:
        augment = augmenter(config)
        pipeline = pipeline.map(lambda x, y: (augment(x, training=True), y), num_parallel_calls=tf.data.AUTOTUNE)
    return pipeline.prefetch(PREFETCH_BATCHES)


def flip_coins(seed: int) -> Any:
    """One fair coin per training image and epoch, as a `tf.data` stream: the same coins for the same seed.

    Drawn in the pipeline's own order from a seeded stream that re-draws each epoch, not by a stateful random op
    inside a parallel map (whose draws follow thread timing), so a flipped run is repeatable from its seed.
    """
    import tensorflow as tf

    return tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).map(lambda draw: draw % 2 == 1)


def mirror_where(images: Any, coins: Any) -> Any:
    """Each image of a (batch, height, width, channels) tensor mirrored left-right where its coin is True."""
    import tensorflow as tf

    return tf.where(coins[:, None, None, None], tf.reverse(images, axis=[2]), images)


@dataclass(frozen=True)
class Scores:
    """A model's inference-mode results on one set: mean loss (as Keras reports it), accuracy and outputs."""

    loss: float
    accuracy: float
    outputs: np.ndarray  # (n, classes) float32: the output layer's probabilities

    def metrics(self, prefix: str = "") -> dict[str, float]:
        return {f"{prefix}loss": self.loss, f"{prefix}accuracy": self.accuracy}


class Scorer:
    """Scores a model on in-memory arrays through one traced forward function, reused for every set and epoch.

    Why not `model.evaluate`/`predict` and fit's `validation_data`: each of those traces its own function, and
    retraces for a new call site or batch shape, 0.3-0.5 s apiece on 2 cores; fit's validation also rebuilds a
    data adapter every epoch (0.1-0.2 s). On the 8x8 digits that was more than half of a run beyond the
    TensorFlow import (bench/README.md). This forward function has no fixed batch size, so it is traced once
    (about 0.2 s). The loss is the compiled loss (plus any regularisation) over all rows, as Keras reports it.
    A model whose layers change precision needs a new `Scorer`: the trace holds the old casts.
    """

    def __init__(self, model: Any, spec: ModelSpec) -> None:
        import tensorflow as tf

        self.model = model
        self.spec = spec

        def forward(images: Any) -> Any:
            return model(images, training=False)

        signature = [tf.TensorSpec((None, *spec.input_shape), tf.float32)]
        self._forward = tf.function(forward, input_signature=signature, autograph=False)

    def outputs(self, images: np.ndarray) -> np.ndarray:
        """The output layer's probabilities for `images`, (n, classes) float32, in batches of `VALIDATION_BATCH`."""
        batches = [
            self._forward(images[start : start + VALIDATION_BATCH]).numpy()
            for start in range(0, len(images), VALIDATION_BATCH)
        ]
        return np.concatenate(batches).astype(np.float32, copy=False)

    def __call__(self, images: np.ndarray, labels: np.ndarray) -> Scores:
        outputs = self.outputs(images)
        loss = self.model.compute_loss(y=targets(self.spec, labels), y_pred=outputs, training=False)
        return Scores(float(loss), float(np.mean(outputs.argmax(axis=1) == labels)), outputs)

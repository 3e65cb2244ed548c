"""Turn a validated `ModelSpec` into a compiled `keras.Model` (with its loss and optimizer by name).

Layer names match `shapes.layer_table`, so the table, Inspect's activation viewer and the exported code
(`engine.reports.recipe`) all speak of the same `block1_conv`, `block1_pool`, ... Keras is imported inside the
functions: the dashboard's first page must not wait for TensorFlow.
"""

from __future__ import annotations

from typing import Any

from engine.architectures.shapes import layer_table
from engine.architectures.spec import ConvBlock, ModelSpec
from engine.limits import SpecLimits
from engine.test_time_views import mean_of_views_layer, mirror_views_layer


def build_model(
    spec: ModelSpec,
    learning_rate: Any = None,
    limits: SpecLimits | None = None,
    compile: bool = True,
    steps_per_execution: int = 1,
    label_smoothing: float = 0.0,
    test_time_mirror: bool = False,
) -> Any:
    """A compiled model for `spec`; `learning_rate` may be a Keras schedule that overrides the spec's rate.

    `steps_per_execution` > 1 runs that many batches per call into TensorFlow (the same updates, in order).
    `label_smoothing` > 0 trains against smoothed one-hot targets (categorical cross-entropy only).
    `test_time_mirror` predicts each image from its mean logits over the image and its mirror
    (`engine.test_time_views`; training is unchanged).
    """
    import keras
    from keras import layers

    layer_table(spec, limits)  # the friendly error comes before Keras' own
    stack: list = [keras.Input(shape=spec.input_shape, name="image")]
    if test_time_mirror:
        stack.append(mirror_views_layer())
    for index, block in enumerate(spec.conv_blocks, 1):
        stack += _block_layers(layers, index, block, spec.batch_norm_momentum)
    stack.append(layers.Flatten(name="flatten"))
    for index, dense in enumerate(spec.dense_layers, 1):
        stack.append(layers.Dense(dense.units, activation=dense.activation, name=f"dense{index}"))
        if dense.dropout > 0:
            stack.append(layers.Dropout(dense.dropout, name=f"dense{index}_dropout"))
    if test_time_mirror:
        # Before the output layer, so its logits are the mean of the two views' (the layer is linear in them).
        stack.append(mean_of_views_layer())
    stack.append(layers.Dense(spec.num_classes, activation=spec.output_activation, name="output"))
    # All layers at once: `Sequential.add` rebuilds the model's graph after every layer (about 0.1 s a model).
    model = keras.Sequential(stack, name="digitlab_cnn")
    if compile:
        model.compile(
            optimizer=make_optimizer(spec.optimizer, spec.learning_rate if learning_rate is None else learning_rate),
            loss=make_loss(spec.loss, label_smoothing),
            metrics=["accuracy"],
            steps_per_execution=steps_per_execution,
        )
    return model


def make_loss(name: str, label_smoothing: float = 0.0) -> Any:
    """The loss by name, or Keras' categorical cross-entropy object when targets are smoothed."""
    if not label_smoothing:
        return name
    import keras

    return keras.losses.CategoricalCrossentropy(label_smoothing=label_smoothing)


def make_optimizer(name: str, learning_rate: Any) -> Any:
    import keras

    kinds = {"adam": keras.optimizers.Adam, "sgd": keras.optimizers.SGD, "rmsprop": keras.optimizers.RMSprop}
    return kinds[name](learning_rate=learning_rate)


def _block_layers(layers: Any, index: int, block: ConvBlock, batch_norm_momentum: float) -> list:
    built = [
        layers.Conv2D(
            block.filters,
            block.kernel_size,
            strides=block.stride,
            padding=block.padding,
            activation=block.activation,
            name=f"block{index}_conv",
        )
    ]
    if block.batch_norm == "after_conv":
        built.append(layers.BatchNormalization(momentum=batch_norm_momentum, name=f"block{index}_bn"))
    if block.pool != "none":
        pool = layers.MaxPooling2D if block.pool == "max" else layers.AveragePooling2D
        built.append(pool(block.pool_size, strides=block.effective_pool_stride, name=f"block{index}_pool"))
    if block.batch_norm == "after_pool":
        built.append(layers.BatchNormalization(momentum=batch_norm_momentum, name=f"block{index}_bn"))
    if block.dropout > 0:
        built.append(layers.Dropout(block.dropout, name=f"block{index}_dropout"))
    return built

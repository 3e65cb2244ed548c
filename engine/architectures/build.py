"""Turn a validated `ModelSpec` into a compiled `keras.Model`, or into Keras code a user can copy.

Layer names match `shapes.layer_table`, so the table, the feature-map viewer and the exported code all speak
of the same `block1_conv`, `block1_pool`, ... Keras is imported inside the functions: the dashboard's first
page must not wait for TensorFlow.
"""

from __future__ import annotations

from typing import Any

from engine.architectures.shapes import layer_table
from engine.architectures.spec import ConvBlock, ModelSpec
from engine.limits import SpecLimits


def build_model(
    spec: ModelSpec,
    learning_rate: Any = None,
    limits: SpecLimits | None = None,
    compile: bool = True,
    steps_per_execution: int = 1,
):
    """A compiled model for `spec`; `learning_rate` may be a Keras schedule that overrides the spec's rate.

    `steps_per_execution` > 1 runs that many batches per call into TensorFlow (the same updates, in order).
    """
    import keras
    from keras import layers

    layer_table(spec, limits)  # the friendly error comes before Keras' own
    model = keras.Sequential(name="digitlab_cnn")
    model.add(keras.Input(shape=spec.input_shape, name="image"))
    for index, block in enumerate(spec.conv_blocks, 1):
        for layer in _block_layers(layers, index, block, spec.batch_norm_momentum):
            model.add(layer)
    model.add(layers.Flatten(name="flatten"))
    for index, dense in enumerate(spec.dense_layers, 1):
        model.add(layers.Dense(dense.units, activation=dense.activation, name=f"dense{index}"))
        if dense.dropout > 0:
            model.add(layers.Dropout(dense.dropout, name=f"dense{index}_dropout"))
    model.add(layers.Dense(spec.num_classes, activation=spec.output_activation, name="output"))
    if compile:
        model.compile(
            optimizer=make_optimizer(spec.optimizer, spec.learning_rate if learning_rate is None else learning_rate),
            loss=spec.loss,
            metrics=["accuracy"],
            steps_per_execution=steps_per_execution,
        )
    return model


def make_optimizer(name: str, learning_rate: Any):
    import keras

    kinds = {"adam": keras.optimizers.Adam, "sgd": keras.optimizers.SGD, "rmsprop": keras.optimizers.RMSprop}
    return kinds[name](learning_rate=learning_rate)


def _block_layers(layers, index: int, block: ConvBlock, batch_norm_momentum: float) -> list:
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


def to_keras_code(spec: ModelSpec) -> str:
    """Self-contained Python that builds and compiles the same model with plain Keras (for copy and paste)."""
    layer_table(spec)
    lines = [
        "import keras",
        "from keras import layers",
        "",
        'model = keras.Sequential(name="digitlab_cnn")',
        f"model.add(keras.Input(shape={tuple(spec.input_shape)!r}))",
    ]
    # Keras' default momentum is left out of the code, as a user would write it.
    momentum = (
        "" if spec.batch_norm_momentum == ModelSpec.batch_norm_momentum else f"momentum={spec.batch_norm_momentum!r}, "
    )
    for index, block in enumerate(spec.conv_blocks, 1):
        lines.append(
            f"model.add(layers.Conv2D({block.filters}, {block.kernel_size}, strides={block.stride}, "
            f'padding="{block.padding}", activation="{block.activation}", name="block{index}_conv"))'
        )
        if block.batch_norm == "after_conv":
            lines.append(f'model.add(layers.BatchNormalization({momentum}name="block{index}_bn"))')
        if block.pool != "none":
            pool = "MaxPooling2D" if block.pool == "max" else "AveragePooling2D"
            lines.append(
                f"model.add(layers.{pool}({block.pool_size}, strides={block.effective_pool_stride}, "
                f'name="block{index}_pool"))'
            )
        if block.batch_norm == "after_pool":
            lines.append(f'model.add(layers.BatchNormalization({momentum}name="block{index}_bn"))')
        if block.dropout > 0:
            lines.append(f'model.add(layers.Dropout({block.dropout}, name="block{index}_dropout"))')
    lines.append('model.add(layers.Flatten(name="flatten"))')
    for index, dense in enumerate(spec.dense_layers, 1):
        lines.append(f'model.add(layers.Dense({dense.units}, activation="{dense.activation}", name="dense{index}"))')
        if dense.dropout > 0:
            lines.append(f'model.add(layers.Dropout({dense.dropout}, name="dense{index}_dropout"))')
    optimizer = {"adam": "Adam", "sgd": "SGD", "rmsprop": "RMSprop"}[spec.optimizer]
    lines += [
        f'model.add(layers.Dense({spec.num_classes}, activation="{spec.output_activation}", name="output"))',
        "model.compile(",
        f"    optimizer=keras.optimizers.{optimizer}(learning_rate={spec.learning_rate!r}),",
        f'    loss="{spec.loss}",',
        '    metrics=["accuracy"],',
        ")",
        "model.summary()",
    ]
    return "\n".join(lines) + "\n"

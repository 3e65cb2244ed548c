"""Check a spec and lay out its layers without TensorFlow: output shapes and parameter counts.

The dashboard redraws the layer table on every widget change, so this is plain arithmetic following Keras'
shape rules; `tests/architectures` checks it against the built `keras.Model` for every preset. Laying out the
layers needs sane values (a stride of 0 divides by zero), so the spec's value checks live here, before the
walk; `engine.architectures.checks.validate_spec` is the name every request path uses.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from engine.architectures.spec import (
    ACTIVATIONS,
    BATCH_NORM_PLACES,
    LOSSES,
    OPTIMIZERS,
    OUTPUT_ACTIVATIONS,
    PADDINGS,
    POOLS,
    ConvBlock,
    ModelSpec,
    check_types,
)
from engine.errors import InvalidSpec
from engine.limits import SpecLimits, spec_limits


@dataclass(frozen=True)
class LayerRow:
    """One line of the layer table, named as the built Keras layer is."""

    name: str
    kind: str  # Keras class name
    output_shape: tuple[int, ...]  # without the batch axis
    trainable: int
    non_trainable: int

    @property
    def parameters(self) -> int:
        return self.trainable + self.non_trainable


def layer_table(spec: ModelSpec, limits: SpecLimits | None = None) -> list[LayerRow]:
    """Validate `spec` and return its layers; raises `InvalidSpec` naming the block and numbers at fault.

    `limits` defaults to those in force, read now (`engine.limits`: tighter in hosted mode).
    """
    if limits is None:
        limits = spec_limits()
    check_values(spec, limits)
    height, width, channels = spec.input_shape
    rows: list[LayerRow] = []
    for index, block in enumerate(spec.conv_blocks, 1):
        where = f"Conv block {index}"
        height, width = _conv_output(where, block, height, width)
        rows.append(
            LayerRow(
                f"block{index}_conv",
                "Conv2D",
                (height, width, block.filters),
                block.kernel_size**2 * channels * block.filters + block.filters,
                0,
            )
        )
        channels = block.filters
        if block.batch_norm == "after_conv":
            rows.append(_batch_norm_row(index, (height, width, channels)))
        if block.pool != "none":
            height, width = _pool_output(where, block, height, width)
            kind = "MaxPooling2D" if block.pool == "max" else "AveragePooling2D"
            rows.append(LayerRow(f"block{index}_pool", kind, (height, width, channels), 0, 0))
        if block.batch_norm == "after_pool":
            rows.append(_batch_norm_row(index, (height, width, channels)))
        if block.dropout > 0:
            rows.append(LayerRow(f"block{index}_dropout", "Dropout", (height, width, channels), 0, 0))
    features = height * width * channels
    rows.append(LayerRow("flatten", "Flatten", (features,), 0, 0))
    for index, layer in enumerate(spec.dense_layers, 1):
        rows.append(LayerRow(f"dense{index}", "Dense", (layer.units,), features * layer.units + layer.units, 0))
        features = layer.units
        if layer.dropout > 0:
            rows.append(LayerRow(f"dense{index}_dropout", "Dropout", (features,), 0, 0))
    rows.append(LayerRow("output", "Dense", (spec.num_classes,), features * spec.num_classes + spec.num_classes, 0))
    total = sum(row.parameters for row in rows)
    if total > limits.max_parameters:
        raise InvalidSpec(
            f"The model has {total:,} parameters, above the limit of {limits.max_parameters:,}. "
            "Use fewer filters or dense units, or pool earlier so Flatten has fewer features."
        )
    return rows


def parameter_counts(spec: ModelSpec, limits: SpecLimits | None = None) -> dict[str, int]:
    rows = layer_table(spec, limits)
    trainable = sum(row.trainable for row in rows)
    non_trainable = sum(row.non_trainable for row in rows)
    return {"trainable": trainable, "non_trainable": non_trainable, "total": trainable + non_trainable}


def validate(spec: ModelSpec, limits: SpecLimits | None = None) -> None:
    """Raise `InvalidSpec` when the spec cannot be built; return quietly when it can (`engine.architectures.checks`)."""
    layer_table(spec, limits)


def _batch_norm_row(index: int, shape: tuple[int, int, int]) -> LayerRow:
    # gamma and beta learn; the moving mean and variance are statistics, hence non-trainable.
    return LayerRow(f"block{index}_bn", "BatchNormalization", shape, 2 * shape[-1], 2 * shape[-1])


def _conv_output(where: str, block: ConvBlock, height: int, width: int) -> tuple[int, int]:
    k, s = block.kernel_size, block.stride
    if block.padding == "same":
        return math.ceil(height / s), math.ceil(width / s)
    if k > height or k > width:
        raise InvalidSpec(
            f"{where}: a {k}x{k} kernel with 'valid' padding does not fit its {height}x{width} input. "
            f"Use a kernel of at most {min(height, width)}, 'same' padding, or pool less before this block."
        )
    return (height - k) // s + 1, (width - k) // s + 1


def _pool_output(where: str, block: ConvBlock, height: int, width: int) -> tuple[int, int]:
    p, s = block.pool_size, block.effective_pool_stride
    if p > height or p > width:
        raise InvalidSpec(
            f"{where}: {p}x{p} pooling on a {height}x{width} feature map leaves nothing (the spatial size "
            f"would collapse below 1). Remove this pooling, use a smaller pool, or use fewer blocks for "
            f"{height}x{width} maps."
        )
    return (height - p) // s + 1, (width - p) // s + 1


def check_values(spec: ModelSpec, limits: SpecLimits | None = None) -> None:
    """Raise `InvalidSpec` for a wrongly typed field, an unknown choice or a number out of range.

    Everything but the layer walk: what a shared link must pass before its values reach the widgets.
    """
    if limits is None:
        limits = spec_limits()
    check_types(spec)
    height, width, channels = spec.input_shape
    if min(height, width, channels) < 1:
        raise InvalidSpec(f"The input shape {spec.input_shape} must be positive in every dimension.")
    if spec.num_classes < 2:
        raise InvalidSpec(f"A classifier needs at least 2 classes, got {spec.num_classes}.")
    if not 1 <= len(spec.conv_blocks) <= limits.max_conv_blocks:
        raise InvalidSpec(f"Use between 1 and {limits.max_conv_blocks} conv blocks, got {len(spec.conv_blocks)}.")
    if len(spec.dense_layers) > limits.max_dense_layers:
        raise InvalidSpec(f"Use at most {limits.max_dense_layers} dense layers, got {len(spec.dense_layers)}.")
    _one_of("output activation", spec.output_activation, OUTPUT_ACTIVATIONS)
    _one_of("optimizer", spec.optimizer, OPTIMIZERS)
    _one_of("loss", spec.loss, LOSSES)
    if not 0 < spec.learning_rate <= limits.max_learning_rate:  # also refuses NaN, whose comparisons are all False
        raise InvalidSpec(
            f"The learning rate must be in (0, {limits.max_learning_rate:g}], got {spec.learning_rate}. "
            "Typical: 0.001 for Adam."
        )
    if not 0 <= spec.batch_norm_momentum < 1:
        raise InvalidSpec(
            f"The batch norm momentum must be in [0, 1), got {spec.batch_norm_momentum}. "
            "Keras' default is 0.99; 0.9 follows fast-changing weights more closely."
        )
    for index, block in enumerate(spec.conv_blocks, 1):
        where = f"Conv block {index}"
        _range(where, "filters", block.filters, 1, limits.max_filters)
        _range(where, "kernel size", block.kernel_size, 1, limits.max_kernel)
        _range(where, "stride", block.stride, 1, limits.max_stride)
        _one_of(f"{where} padding", block.padding, PADDINGS)
        _one_of(f"{where} activation", block.activation, ACTIVATIONS)
        _one_of(f"{where} pooling", block.pool, POOLS)
        _one_of(f"{where} batch norm placement", block.batch_norm, BATCH_NORM_PLACES)
        # Checked with pooling off too: the values travel in links and the run key, and a widget shows them.
        _range(where, "pool size", block.pool_size, 1, limits.max_pool_size)
        _range(where, "pool stride", block.pool_stride, 0, limits.max_pool_size)
        _dropout(where, block.dropout)
    for index, layer in enumerate(spec.dense_layers, 1):
        where = f"Dense layer {index}"
        _range(where, "units", layer.units, 1, limits.max_units)
        _one_of(f"{where} activation", layer.activation, ACTIVATIONS)
        _dropout(where, layer.dropout)


def _one_of(what: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise InvalidSpec(f"Unknown {what} {value!r}. Choose one of: {', '.join(allowed)}.")


def _range(where: str, what: str, value: int, low: int, high: int) -> None:
    if not low <= value <= high:
        raise InvalidSpec(f"{where}: {what} must be between {low} and {high}, got {value}.")


def _dropout(where: str, rate: float) -> None:
    if not 0 <= rate < 1:  # also refuses NaN
        raise InvalidSpec(f"{where}: dropout must be in [0, 1), got {rate}. 0.25 to 0.5 is typical.")

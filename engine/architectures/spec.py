"""The declarative CNN spec: frozen dataclasses that round-trip through JSON and URL tokens.

A spec says what to build, never how: `check_types` names a wrongly typed field, `shapes.py` checks values
and counts parameters without TensorFlow (`checks.py` names both for the request door, `engine.validation`), and
`build.py` turns it into a compiled `keras.Model`. Input shape and class count come from the dataset
(`ModelSpec.for_data`), so one preset adapts to 8x8 and 28x28 images.
"""

from __future__ import annotations

import base64
import json
import zlib
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, TypeVar, cast

from engine.errors import InvalidSpec
from engine.textfiles import load_json

ACTIVATIONS = ("relu", "sigmoid", "tanh", "elu", "selu", "gelu", "swish", "leaky_relu", "softplus", "linear")
OUTPUT_ACTIVATIONS = ("softmax", "sigmoid")
OPTIMIZERS = ("adam", "sgd", "rmsprop")
LOSSES = ("categorical_crossentropy", "sparse_categorical_crossentropy")
PADDINGS = ("valid", "same")
POOLS = ("max", "avg", "none")
BATCH_NORM_PLACES = ("none", "after_conv", "after_pool")


@dataclass(frozen=True)
class ConvBlock:
    """Conv2D -> activation -> [BatchNorm] -> [pool] -> [BatchNorm] -> [Dropout], the seeds' building block."""

    filters: int = 32
    kernel_size: int = 3  # square kernels, in pixels
    stride: int = 1
    padding: str = "valid"  # Keras' default; 'same' keeps the size at stride 1
    activation: str = "relu"
    pool: str = "max"  # max | avg | none
    pool_size: int = 2
    pool_stride: int = 0  # 0 = equal to pool_size, as Keras does
    batch_norm: str = "none"  # none | after_conv | after_pool (seed 000 normalises after pooling)
    dropout: float = 0.0  # fraction of activations dropped after the block while training

    @property
    def effective_pool_stride(self) -> int:
        return self.pool_stride or self.pool_size


@dataclass(frozen=True)
class DenseLayer:
    """One fully connected hidden layer with optional dropout after it."""

    units: int = 64
    activation: str = "relu"
    dropout: float = 0.0


@dataclass(frozen=True)
class ModelSpec:
    """A whole CNN: conv blocks, Flatten, dense layers, an output layer, and how to compile it."""

    conv_blocks: tuple[ConvBlock, ...] = (ConvBlock(),)
    dense_layers: tuple[DenseLayer, ...] = (DenseLayer(),)
    output_activation: str = "softmax"
    optimizer: str = "adam"
    learning_rate: float = 1e-3
    # How fast BatchNorm's moving mean and variance follow the batches (Keras' default, 0.99, averages over
    # ~100 steps). At high learning rates the weights move faster than that and a model scored in the first
    # epochs is normalised with stale statistics; 0.9 follows them (bench/README.md).
    batch_norm_momentum: float = 0.99
    loss: str = "categorical_crossentropy"  # labels are one-hot encoded for it, as in seeds 001 and 002
    input_shape: tuple[int, int, int] = (28, 28, 1)  # (height, width, channels), set from the dataset
    num_classes: int = 10  # set from the dataset (4 for seed 004's merged classes)

    def for_data(self, image_shape: tuple[int, int, int], num_classes: int) -> ModelSpec:
        """The same architecture sized for a dataset's images and classes."""
        # int() of each of three numbers (NumPy integers from a dataset's array shape) keeps three.
        input_shape = cast("tuple[int, int, int]", tuple(int(d) for d in image_shape))
        return replace(self, input_shape=input_shape, num_classes=int(num_classes))

    def with_learning_rate(self, learning_rate: float) -> ModelSpec:
        return replace(self, learning_rate=float(learning_rate))

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["input_shape"] = list(self.input_shape)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelSpec:
        """Strict: unknown keys and wrong types are errors, because specs arrive from links and files."""
        if not isinstance(data, dict):
            raise InvalidSpec(f"A model spec must be a JSON object, got {type(data).__name__}.")
        _reject_unknown(data, cls, "model spec")
        values = dict(data)
        try:
            blocks, dense = data.get("conv_blocks", ()), data.get("dense_layers", ())
            values["conv_blocks"] = tuple(_item(ConvBlock, b, f"conv block {i}") for i, b in enumerate(blocks, 1))
            values["dense_layers"] = tuple(_item(DenseLayer, d, f"dense layer {i}") for i, d in enumerate(dense, 1))
            if "input_shape" in values:
                values["input_shape"] = tuple(values["input_shape"])
        except (TypeError, ValueError) as error:
            raise InvalidSpec(f"Malformed model spec: {error}") from None
        spec = _floats_as_floats(cls(**values))
        check_types(spec)
        return spec

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ModelSpec:
        try:
            data = load_json(text)
        except json.JSONDecodeError as error:
            raise InvalidSpec(f"The model spec is not valid JSON: {error.msg} at position {error.pos}.") from None
        return cls.from_dict(data)

    def to_token(self) -> str:
        """A short URL-safe text (zlib + base64url of the JSON) for shareable links."""
        packed = zlib.compress(json.dumps(self.to_dict(), separators=(",", ":")).encode(), 9)
        return base64.urlsafe_b64encode(packed).decode().rstrip("=")

    @classmethod
    def from_token(cls, token: str) -> ModelSpec:
        try:
            packed = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            # A link is untrusted: cap the inflated size so a crafted token cannot exhaust memory.
            inflater = zlib.decompressobj()
            text = inflater.decompress(packed, 64_000)
            if inflater.unconsumed_tail:
                raise ValueError("spec larger than 64 kB")
        except (ValueError, zlib.error) as error:
            raise InvalidSpec(f"The model spec in the link is damaged ({error}); pick a preset instead.") from None
        return cls.from_json(text.decode("utf-8", "replace"))


def _reject_unknown(data: dict, kind: type, what: str) -> None:
    known = {f.name for f in fields(kind)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise InvalidSpec(
            f"Unknown field(s) in {what}: {', '.join(unknown)}. Known fields: {', '.join(sorted(known))}."
        )


_Item = TypeVar("_Item", ConvBlock, DenseLayer, ModelSpec)  # the spec dataclasses read from JSON


def _item(kind: type[_Item], data: Any, what: str) -> _Item:
    if not isinstance(data, dict):
        raise InvalidSpec(f"{what} must be an object, got {type(data).__name__}.")
    _reject_unknown(data, kind, what)
    return _floats_as_floats(kind(**data))


def _floats_as_floats(item: _Item) -> _Item:
    """`item` with whole numbers in float fields turned into floats: a spec file may say `"learning_rate": 1`.

    The run key hashes the spec's JSON, where 1 and 1.0 differ; without this the same model would get two keys.
    """
    changes: dict[str, Any] = {
        f.name: float(getattr(item, f.name))
        for f in fields(item)
        if f.type == "float" and type(getattr(item, f.name)) is int
    }
    return replace(item, **changes) if changes else item


def check_types(spec: ModelSpec) -> None:
    """Raise `InvalidSpec` naming the first field whose type is wrong (a bool is not a number here).

    JSON and Python callers can put any type anywhere; a wrong one is named here instead of failing deep inside
    Keras. Ranges and choices are checked by `engine.architectures.checks` (through `shapes.layer_table`).
    """
    if not isinstance(spec.conv_blocks, tuple) or not all(isinstance(b, ConvBlock) for b in spec.conv_blocks):
        raise InvalidSpec(f"conv_blocks must be a tuple of ConvBlock, got {spec.conv_blocks!r}.")
    if not isinstance(spec.dense_layers, tuple) or not all(isinstance(d, DenseLayer) for d in spec.dense_layers):
        raise InvalidSpec(f"dense_layers must be a tuple of DenseLayer, got {spec.dense_layers!r}.")
    checks: list[tuple[str, Any, type | tuple[type, ...]]] = []
    # `from __future__ import annotations` makes every field's `type` its annotation's text.
    for i, block in enumerate(spec.conv_blocks, 1):
        for f in fields(ConvBlock):
            checks.append((f"conv block {i} {f.name}", getattr(block, f.name), _TYPES[cast(str, f.type)]))
    for i, layer in enumerate(spec.dense_layers, 1):
        for f in fields(DenseLayer):
            checks.append((f"dense layer {i} {f.name}", getattr(layer, f.name), _TYPES[cast(str, f.type)]))
    for f in fields(ModelSpec):
        if f.type in _TYPES:
            checks.append((f.name, getattr(spec, f.name), _TYPES[f.type]))
    for where, value, expected in checks:
        if isinstance(value, bool) or not isinstance(value, expected):
            names = expected.__name__ if isinstance(expected, type) else "number"
            raise InvalidSpec(f"{where} must be a {names}, got {value!r}.")
    shape = spec.input_shape
    if (
        not isinstance(shape, tuple)
        or len(shape) != 3
        or any(isinstance(d, bool) or not isinstance(d, int) for d in shape)
    ):
        raise InvalidSpec(f"input_shape must be three whole numbers (height, width, channels), got {shape!r}.")


_TYPES: dict[str, type | tuple[type, ...]] = {"int": int, "str": str, "float": (int, float)}

DEFAULT_SPEC = ModelSpec()
__all__ = [
    "ACTIVATIONS",
    "BATCH_NORM_PLACES",
    "ConvBlock",
    "DEFAULT_SPEC",
    "DenseLayer",
    "LOSSES",
    "ModelSpec",
    "OPTIMIZERS",
    "OUTPUT_ACTIVATIONS",
    "PADDINGS",
    "POOLS",
    "check_types",
]

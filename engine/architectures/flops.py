"""How much arithmetic a model costs: floating-point operations per image, forward and for one training step,
counted from the layer shapes (no TensorFlow), and the FLOPs of a whole training run.

Conventions (those of most published counts, so figures compare):

- A multiply-add is 2 FLOPs. Conv2D does `2 * k * k * C_in` per output element, Dense `2 * inputs` per unit.
- Training an image costs its forward pass plus a backward pass that computes, for every Conv2D and Dense layer,
  the gradient with respect to its weights (as many multiply-adds as the forward) and with respect to its input
  (as many again), except for the first layer, whose input gradient nobody needs (TensorFlow does not compute it).
  So matrix layers cost about 3x their forward pass when training.
- Element-wise work (bias, activation, pooling, batch normalisation, dropout, softmax and loss) is counted with a
  small per-element constant (`ELEMENTWISE_FLOPS`) forward and the same backward; it is a few percent of a CNN's
  total and is kept apart (`matrix` vs `elementwise`) so a roofline can use the part that runs at matmul speed.
- The optimizer updates every trainable parameter once per step, not per image (`OPTIMIZER_FLOPS`).

Checked by hand for seed 001's CNN in tests/architectures/test_flops.py.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from engine.architectures.shapes import layer_table
from engine.architectures.spec import ModelSpec
from engine.errors import DigitLabError
from engine.limits import SpecLimits
from engine.test_time_views import has_mirror_views, prediction_views

# FLOPs per element for the element-wise layers, forward (the backward pass is counted as the same again). Rough by
# nature (an exp is not one FLOP); they change totals by a few percent, never the order of magnitude.
ELEMENTWISE_FLOPS = {
    "bias": 1,  # one add per output element of Conv2D and Dense
    "activation": 1,  # relu and friends; sigmoid/tanh cost more, ignored for simplicity
    "BatchNormalization": 4,  # subtract the mean, divide by the deviation, scale, shift (statistics ~ as much)
    "Dropout": 1,  # one multiply by the mask
    "softmax": 3,  # exp, sum, divide per class (and the loss, about as much)
}
# FLOPs per trainable parameter per optimizer step: Adam updates two moments and the weight (about 12 operations),
# RMSprop one moment and the weight (about 7), plain SGD one multiply-add (2).
OPTIMIZER_FLOPS = {"adam": 12, "rmsprop": 7, "sgd": 2}


@dataclass(frozen=True)
class LayerFlops:
    """One layer's FLOPs per image: forward, and forward + backward when training."""

    name: str
    kind: str
    matrix_forward: int  # multiply-adds x 2 (Conv2D, Dense); 0 for element-wise layers
    elementwise_forward: int
    matrix_training: int  # forward + weight gradient + input gradient (none for the first layer)
    elementwise_training: int

    @property
    def forward(self) -> int:
        return self.matrix_forward + self.elementwise_forward

    @property
    def training(self) -> int:
        return self.matrix_training + self.elementwise_training


@dataclass(frozen=True)
class FlopCount:
    """A model's FLOPs per image (forward; one training pass) and its optimizer's FLOPs per step."""

    layers: tuple[LayerFlops, ...]
    trainable_parameters: int
    optimizer_per_step: int

    @property
    def forward_per_image(self) -> int:
        return sum(layer.forward for layer in self.layers)

    @property
    def training_per_image(self) -> int:
        return sum(layer.training for layer in self.layers)

    @property
    def matrix_training_per_image(self) -> int:
        return sum(layer.matrix_training for layer in self.layers)

    def to_dict(self) -> dict[str, object]:
        return {
            "forward_per_image": self.forward_per_image,
            "training_per_image": self.training_per_image,
            "matrix_training_per_image": self.matrix_training_per_image,
            "optimizer_per_step": self.optimizer_per_step,
            "layers": [
                {"name": layer.name, "kind": layer.kind, "forward": layer.forward, "training": layer.training}
                for layer in self.layers
            ],
        }


def _elements(shape: tuple[int, ...]) -> int:
    return math.prod(shape)


def flop_count(spec: ModelSpec, limits: SpecLimits | None = None) -> FlopCount:
    """The FLOPs of `spec` per image, from its layer table (validated as every request path validates it)."""
    rows = layer_table(spec, limits)
    blocks = {f"block{index}_conv": block for index, block in enumerate(spec.conv_blocks, 1)}
    previous: tuple[int, ...] = tuple(spec.input_shape)
    layers: list[LayerFlops] = []
    first_matrix_layer = True
    for row in rows:
        out = _elements(row.output_shape)
        matrix = elementwise = 0
        if row.kind == "Conv2D":
            block = blocks[row.name]
            matrix = 2 * block.kernel_size**2 * previous[-1] * out
            elementwise = (ELEMENTWISE_FLOPS["bias"] + ELEMENTWISE_FLOPS["activation"]) * out
        elif row.kind == "Dense":
            matrix = 2 * _elements(previous) * out
            finish = ELEMENTWISE_FLOPS["softmax"] if row.name == "output" else ELEMENTWISE_FLOPS["activation"]
            elementwise = (ELEMENTWISE_FLOPS["bias"] + finish) * out
        elif row.kind in ("MaxPooling2D", "AveragePooling2D"):
            block = blocks[row.name.replace("_pool", "_conv")]
            elementwise = block.pool_size**2 * out  # one comparison or add per window element
        elif row.kind in ELEMENTWISE_FLOPS:
            elementwise = ELEMENTWISE_FLOPS[row.kind] * out
        # Flatten moves no numbers.
        if matrix:
            input_gradient = 0 if first_matrix_layer else matrix
            matrix_training = matrix + matrix + input_gradient  # forward, weight gradient, input gradient
            first_matrix_layer = False
        else:
            matrix_training = 0
        layers.append(LayerFlops(row.name, row.kind, matrix, elementwise, matrix_training, 2 * elementwise))
        previous = row.output_shape
    trainable = sum(row.trainable for row in rows)
    return FlopCount(tuple(layers), trainable, OPTIMIZER_FLOPS.get(spec.optimizer, OPTIMIZER_FLOPS["adam"]) * trainable)


def training_flops(
    count: FlopCount, train_images: int, validation_images: int, epochs: int, batch_size: int, views: int = 1
) -> int:
    """FLOPs of a whole training run: every epoch trains each training image once (forward and backward), steps
    the optimizer once per batch and, when there is a validation split, runs it forward once per view (2 with the
    test-time mirror, `engine.test_time_views`; training itself sees each image once either way)."""
    steps = math.ceil(train_images / batch_size) if train_images else 0
    per_epoch = (
        train_images * count.training_per_image
        + steps * count.optimizer_per_step
        + validation_images * views * count.forward_per_image
    )
    return epochs * per_epoch


def run_training_flops(meta: dict) -> int | None:
    """The FLOPs a stored run's training did, from its meta (spec, recipe, epochs run and the image counts the
    training used); None for a run whose meta lacks any of them (stored before the counts were kept).

    Counted: every epoch run (early stopping included) over the training images, the optimizer's steps and the
    validation pass. Not counted: scoring the test set, data preparation and augmentation's image warps."""
    try:
        spec = ModelSpec.from_dict(meta["spec"])
        data, config = meta["dataset"], meta["config"]
        n_train, n_validation = data["n_train"], data["n_validation"]
        epochs, batch_size = meta["epochs_run"], config["batch_size"]
        views = prediction_views(has_mirror_views(meta))
    except (KeyError, TypeError, ValueError, DigitLabError):
        return None
    numbers = (n_train, n_validation, epochs, batch_size)
    if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in numbers) or batch_size < 1:
        return None
    try:
        # The default limits, not those in force: counting a stored run asks nothing of this server (hosted mode's
        # parameter cap may be tighter than where the run was trained).
        count = flop_count(spec, SpecLimits())
    except DigitLabError:
        return None
    return training_flops(count, n_train, n_validation, epochs, batch_size, views)


def describe_flops(flops: int) -> str:
    """A FLOP count as a student reads it: "3.2 GFLOP", "850 MFLOP", "1.4 TFLOP"."""
    for unit, size in (("PFLOP", 1e15), ("TFLOP", 1e12), ("GFLOP", 1e9), ("MFLOP", 1e6), ("kFLOP", 1e3)):
        if flops >= size:
            return f"{flops / size:.3g} {unit}"
    return f"{flops} FLOP"

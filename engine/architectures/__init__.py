"""Declarative CNN specs, their checks and layer tables, the Keras builder, and the seed presets. (The Keras code a
user can copy is generated in `engine.reports.recipe`.)"""

from engine.architectures.build import build_model
from engine.architectures.presets import (
    DEFAULT_PRESET,
    PRESETS,
    Override,
    Preset,
    get_preset,
    model_label,
    recipe_overrides,
    run_model_label,
)
from engine.architectures.shapes import LayerRow, layer_table, parameter_counts, validate
from engine.architectures.spec import (
    ACTIVATIONS,
    BATCH_NORM_PLACES,
    LOSSES,
    OPTIMIZERS,
    OUTPUT_ACTIVATIONS,
    PADDINGS,
    POOLS,
    ConvBlock,
    DenseLayer,
    ModelSpec,
)
from engine.limits import SpecLimits

__all__ = [
    "ACTIVATIONS",
    "BATCH_NORM_PLACES",
    "ConvBlock",
    "DEFAULT_PRESET",
    "DenseLayer",
    "LOSSES",
    "LayerRow",
    "ModelSpec",
    "Override",
    "OPTIMIZERS",
    "OUTPUT_ACTIVATIONS",
    "PADDINGS",
    "POOLS",
    "PRESETS",
    "Preset",
    "SpecLimits",
    "build_model",
    "get_preset",
    "layer_table",
    "model_label",
    "parameter_counts",
    "recipe_overrides",
    "run_model_label",
    "validate",
]

"""Preset parameter counts against the source reports' tables, and against the Keras models themselves."""

import pytest

from engine.architectures import PRESETS, build_model, layer_table, parameter_counts
from engine.errors import InvalidSpec

# Totals printed in the seed documents (model.summary() tables and hand calculations).
REPORTED = {
    "seed001-cnn3": 93_322,
    "seed002-uci8x8": 102_794,
    "seed003-m1": 347_146,
    "seed003-m2": 346_986,
    "seed003-m3": 173_930,
    "seed003-m4": 693_578,
    "seed003-m5": 31_258,
    "seed003-m6": 56_714,
    "seed003-m7": 56_714,
    "seed003-m8": 56_714,
    "seed003-m9": 56_714,
    "seed003-m10": 56_714,
    "seed004-10class": 4_470,
    "seed004-4class": 4_368,
}


@pytest.mark.parametrize("name,total", sorted(REPORTED.items()))
def test_preset_parameter_count_equals_the_report(name, total):
    counts = parameter_counts(PRESETS[name].spec)
    assert counts["total"] == total
    assert counts["non_trainable"] == 0


def test_every_required_preset_exists():
    required = {
        "seed000-bn3",
        "seed001-cnn3",
        "seed002-uci8x8",
        "seed004-10class",
        "seed004-4class",
        "seed004-10class-bn",
        *(f"seed003-m{i}" for i in range(1, 11)),
    }
    assert required <= set(PRESETS)


def test_seed003_recipes_follow_the_report_table():
    assert PRESETS["seed003-m7"].config.batch_size == 256
    assert PRESETS["seed003-m8"].config.epochs == 5
    assert PRESETS["seed003-m10"].spec.learning_rate == pytest.approx(0.01)
    assert PRESETS["seed003-m9"].spec.conv_blocks[0].activation == "sigmoid"
    assert PRESETS["seed003-m1"].config.batch_size == 128


def test_seed004_recipe_and_merged_classes():
    preset = PRESETS["seed004-4class"]
    assert preset.config.batch_size == 20 and preset.config.validation_split == pytest.approx(0.1)
    assert preset.label_mapping == "seed004-4class" and preset.spec.num_classes == 4
    rows = layer_table(PRESETS["seed004-10class"].spec)
    # The report's arithmetic: 28 -> 14 -> 7 -> (stride 2, same) 4 -> average pool 2.
    assert [r.output_shape for r in rows if r.kind.endswith("Pooling2D")] == [(14, 14, 16), (7, 7, 8), (2, 2, 4)]


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_shape_arithmetic_matches_the_built_keras_model(name):
    spec = PRESETS[name].spec
    model = build_model(spec)
    rows = layer_table(spec)
    assert [layer.name for layer in model.layers] == [row.name for row in rows]
    for layer, row in zip(model.layers, rows, strict=True):
        assert tuple(layer.output.shape[1:]) == row.output_shape, layer.name
        assert layer.count_params() == row.parameters, layer.name
    counts = parameter_counts(spec)
    assert model.count_params() == counts["total"]
    assert sum(int(w.numpy().size) for w in model.trainable_weights) == counts["trainable"]


@pytest.mark.parametrize("name", sorted(n for n, p in PRESETS.items() if p.spec.input_shape == (28, 28, 1)))
def test_28x28_presets_build_for_8x8_or_say_why_not(name):
    preset = PRESETS[name]
    try:
        spec = preset.spec_for((8, 8, 1), preset.spec.num_classes)
    except InvalidSpec as error:
        message = str(error)
        assert name in message and "does not fit 8x8" in message and "Conv block" in message
        return
    assert build_model(spec).count_params() == parameter_counts(spec)["total"]

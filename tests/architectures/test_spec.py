"""The spec's JSON and link round-trips, and the validator's messages."""

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.architectures import PRESETS, ConvBlock, DenseLayer, ModelSpec, layer_table
from engine.errors import InvalidSpec
from engine.reports.recipe import to_keras_code


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_presets_round_trip_through_json_and_tokens(name):
    spec = PRESETS[name].spec
    assert ModelSpec.from_json(spec.to_json()) == spec
    assert ModelSpec.from_token(spec.to_token()) == spec
    assert len(spec.to_token()) < 400  # short enough for a URL


def test_unknown_fields_and_wrong_types_are_named():
    data = PRESETS["seed001-cnn3"].spec.to_dict()
    data["conv_blocks"][0]["colour"] = "red"
    with pytest.raises(InvalidSpec, match="colour"):
        ModelSpec.from_dict(data)
    data = PRESETS["seed001-cnn3"].spec.to_dict()
    data["conv_blocks"][1]["filters"] = "64"
    with pytest.raises(InvalidSpec, match="conv block 2 filters"):
        ModelSpec.from_dict(data)


def test_damaged_tokens_and_json_are_rejected_with_a_message():
    with pytest.raises(InvalidSpec, match="damaged"):
        ModelSpec.from_token("not-a-token!!")
    with pytest.raises(InvalidSpec, match="not valid JSON"):
        ModelSpec.from_json("{oops")


@pytest.mark.parametrize(
    "spec,fragment",
    [
        (ModelSpec(conv_blocks=(ConvBlock(),) * 4, input_shape=(8, 8, 1)), "collapse below 1"),
        (ModelSpec(conv_blocks=(ConvBlock(kernel_size=9),), input_shape=(8, 8, 1)), "9x9 kernel"),
        (ModelSpec(conv_blocks=(ConvBlock(filters=0),)), "filters must be between 1"),
        (ModelSpec(conv_blocks=(ConvBlock(dropout=1.0),)), "dropout must be in [0, 1)"),
        (ModelSpec(conv_blocks=(ConvBlock(dropout=-0.1),)), "dropout must be in [0, 1)"),
        (ModelSpec(dense_layers=(DenseLayer(activation="relux"),)), "Unknown Dense layer 1 activation 'relux'"),
        (ModelSpec(optimizer="adagrad"), "Unknown optimizer"),
        (ModelSpec(batch_norm_momentum=1.0), "batch norm momentum must be in [0, 1)"),
        (ModelSpec(batch_norm_momentum=-0.5), "batch norm momentum must be in [0, 1)"),
        (ModelSpec(conv_blocks=()), "between 1 and"),
        (
            ModelSpec(conv_blocks=(ConvBlock(filters=1024, pool="none"),), dense_layers=(DenseLayer(8192),)),
            "parameters, above the limit",
        ),
    ],
)
def test_invalid_specs_are_named(spec, fragment):
    with pytest.raises(InvalidSpec) as error:
        layer_table(spec)
    assert fragment in str(error.value)


def test_four_pools_on_8x8_names_the_block_and_sizes():
    spec = ModelSpec(conv_blocks=(ConvBlock(padding="same"),) * 4, input_shape=(8, 8, 1))
    with pytest.raises(InvalidSpec, match=r"Conv block 4: 2x2 pooling on a 1x1 feature map"):
        layer_table(spec)


def test_exported_keras_code_builds_the_same_model():
    spec = PRESETS["seed004-10class-bn"].spec
    namespace: dict = {}
    exec(to_keras_code(spec).replace("model.summary()", ""), namespace)
    model = namespace["model"]
    assert [layer.name for layer in model.layers] == [row.name for row in layer_table(spec)]
    assert model.count_params() == sum(row.parameters for row in layer_table(spec))


@pytest.mark.parametrize("momentum", [0.99, 0.9])
def test_batch_norm_momentum_reaches_keras_and_the_exported_code(momentum):
    from engine.architectures import build_model

    spec = replace(PRESETS["digitlab-fast28"].spec, batch_norm_momentum=momentum)
    built = [layer.momentum for layer in build_model(spec, compile=False).layers if "bn" in layer.name]
    namespace: dict = {}
    exec(to_keras_code(spec).replace("model.summary()", ""), namespace)
    exported = [layer.momentum for layer in namespace["model"].layers if "bn" in layer.name]
    assert built == exported == [momentum, momentum]
    assert ModelSpec.from_token(spec.to_token()) == spec


blocks = st.builds(
    ConvBlock,
    filters=st.integers(1, 8),
    kernel_size=st.integers(1, 9),
    stride=st.integers(1, 3),
    padding=st.sampled_from(["valid", "same"]),
    pool=st.sampled_from(["max", "avg", "none"]),
    pool_size=st.integers(1, 4),
    pool_stride=st.integers(0, 3),
    batch_norm=st.sampled_from(["none", "after_conv", "after_pool"]),
    dropout=st.sampled_from([0.0, 0.3]),
)
specs = st.builds(
    ModelSpec,
    conv_blocks=st.lists(blocks, min_size=1, max_size=4).map(tuple),
    dense_layers=st.lists(st.builds(DenseLayer, units=st.integers(1, 16)), max_size=2).map(tuple),
    input_shape=st.sampled_from([(8, 8, 1), (12, 10, 1), (28, 28, 1)]),
    num_classes=st.integers(2, 10),
)


@settings(max_examples=40, deadline=None)
@given(specs)
def test_validator_and_keras_agree(spec):
    """Anything the validator accepts builds with the predicted shapes; anything it rejects Keras cannot build."""
    from engine.architectures import build_model

    try:
        rows = layer_table(spec)
    except InvalidSpec:
        assert _keras_rejects(spec)
        return
    model = build_model(spec, compile=False)
    assert tuple(model.layers[-1].output.shape[1:]) == (spec.num_classes,)
    assert [tuple(layer.output.shape[1:]) for layer in model.layers] == [row.output_shape for row in rows]
    assert model.count_params() == sum(row.parameters for row in rows)


def _keras_rejects(spec) -> bool:
    """Build with Keras alone, skipping our validator: it either raises or yields an empty feature map."""
    import keras
    from keras import layers

    from engine.architectures.build import _block_layers

    try:
        model = keras.Sequential([keras.Input(shape=spec.input_shape)])
        for index, block in enumerate(spec.conv_blocks, 1):
            for layer in _block_layers(layers, index, block):
                model.add(layer)
    except Exception:  # noqa: BLE001 - any Keras refusal counts
        return True
    return any(dim is not None and dim < 1 for layer in model.layers for dim in layer.output.shape[1:])

"""The sidebar's widget ranges are the engine's limits, and a link carrying what the validator refuses is a notice."""

from engine.architectures import ConvBlock, ModelSpec
from engine.limits import SpecLimits, TrainLimits
from tests.dashboard.conftest import open_app


def test_widget_ranges_come_from_the_engine_limits():
    app = open_app()
    assert not app.exception
    spec, train = SpecLimits(), TrainLimits()
    expected = {
        "n_conv": (1, spec.max_conv_blocks),
        "n_dense": (0, spec.max_dense_layers),
        "conv1_filters": (1, spec.max_filters),
        "conv1_kernel_size": (1, spec.max_kernel),
        "conv1_stride": (1, spec.max_stride),
        "conv1_pool_size": (1, spec.max_pool_size),
        "dense1_units": (1, spec.max_units),
        "cfg_epochs": (1, train.max_epochs),
        "cfg_batch_size": (1, train.max_batch_size),
        "cfg_seed": (0, train.max_seed),
    }
    for key, bounds in expected.items():
        widget = app.number_input(key=key)
        assert (widget.min, widget.max) == bounds, key


def test_a_link_with_values_the_validator_refuses_gives_notices_not_a_crash():
    from dashboard.links import encode

    too_wide = ModelSpec(conv_blocks=(ConvBlock(filters=5000),), input_shape=(8, 8, 1))
    app = open_app(
        query={
            "dataset": "digits",
            "spec": too_wide.to_token(),
            "cfg": encode({"seed": 2**32, "validation_split": 1.5}),
        }
    )
    assert not app.exception
    notices = " ".join(w.value for w in app.warning)
    assert "filters must be between 1 and 1024, got 5000" in notices
    assert "Validation split must be in [0, 1), got 1.5" in notices  # the first refused setting is named
    assert app.session_state["conv1_filters"] != 5000 and app.session_state["cfg_seed"] != 2**32

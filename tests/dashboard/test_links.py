"""Shareable links: a link restores dataset, model, settings and run; anything broken in it is a notice."""

from engine.architectures import PRESETS, ConvBlock, ModelSpec
from tests.dashboard.conftest import open_app


def warnings(app) -> str:
    return " ".join(w.value for w in app.warning)


def test_a_plain_visit_publishes_a_link_for_the_default_view():
    app = open_app()
    assert not app.exception
    assert app.query_params["dataset"] == ["digits"] or app.query_params["dataset"] == "digits"
    assert "preset" in app.query_params


def test_a_link_restores_preset_and_changed_settings():
    from dashboard.links import encode

    app = open_app(query={"dataset": "digits", "preset": "seed002-uci8x8", "cfg": encode({"epochs": 7, "seed": 3})})
    assert not app.exception
    assert app.session_state["preset"] == "seed002-uci8x8"
    assert app.session_state["cfg_epochs"] == 7 and app.session_state["cfg_seed"] == 3
    assert app.session_state["n_conv"] == 3 and app.session_state["dense2_units"] == 512


def test_a_custom_spec_travels_as_a_token():
    spec = ModelSpec(conv_blocks=(ConvBlock(12, 5, padding="same"),), dense_layers=(), input_shape=(8, 8, 1))
    app = open_app(query={"dataset": "digits", "spec": spec.to_token()})
    assert not app.exception
    assert app.session_state["conv1_filters"] == 12 and app.session_state["conv1_kernel_size"] == 5
    assert app.session_state["n_dense"] == 0
    assert "spec" in app.query_params  # still custom, so the spec stays in the link


def test_batch_norm_momentum_is_offered_only_with_batch_norm_and_travels_in_the_link():
    plain = ModelSpec(conv_blocks=(ConvBlock(12, padding="same"),), dense_layers=(), input_shape=(8, 8, 1))
    app = open_app(query={"dataset": "digits", "spec": plain.to_token()})
    assert not [w for w in app.sidebar.number_input if w.label == "Batch norm momentum"]
    normed = ModelSpec(
        conv_blocks=(ConvBlock(12, padding="same", batch_norm="after_pool"),),
        dense_layers=(),
        batch_norm_momentum=0.9,
        input_shape=(8, 8, 1),
    )
    app = open_app(query={"dataset": "digits", "spec": normed.to_token()})
    [momentum] = [w for w in app.sidebar.number_input if w.label == "Batch norm momentum"]
    assert momentum.value == 0.9
    momentum.set_value(0.8).run()
    token = app.query_params["spec"]
    assert ModelSpec.from_token(token if isinstance(token, str) else token[0]).batch_norm_momentum == 0.8


def test_broken_links_give_notices_and_the_default_view():
    app = open_app(
        query={
            "dataset": "nope",
            "preset": "nope",
            "spec": "%%%",
            "run": "../../etc/passwd",
            "folds": "abc",
            "colour": "red",
            "cfg": "@@",
        }
    )
    assert not app.exception
    text = warnings(app)
    for fragment in (
        "unknown link parameter",
        "unknown dataset 'nope'",
        "could not be read",
        "is not a run id",
        "Fold count",
    ):
        assert fragment in text, fragment
    assert app.session_state["dataset"] == "digits"


def test_a_spec_that_fails_validation_shows_the_engine_message():
    bad = ModelSpec(conv_blocks=(ConvBlock(8),) * 4, input_shape=(8, 8, 1))  # four pools on 8x8
    app = open_app(query={"dataset": "digits", "spec": bad.to_token()})
    assert not app.exception
    assert any("collapse below 1" in e.value for e in app.error)


def test_preset_for_28x28_on_8x8_says_why_not():
    app = open_app(query={"dataset": "digits", "preset": "seed001-cnn3"})
    assert not app.exception
    assert any("does not fit 8x8" in e.value for e in app.error)
    assert PRESETS["seed001-cnn3"].spec.input_shape == (28, 28, 1)

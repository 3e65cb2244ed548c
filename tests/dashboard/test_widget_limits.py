"""The sidebar's widget ranges are exactly the validator's: a link may carry only what a widget can show, and the
reverse. The oracle is the validator itself, probed just inside and just outside each widget's range."""

import math

import pytest

from engine.architectures import ConvBlock, DenseLayer, ModelSpec
from engine.architectures.checks import validate_spec_values
from engine.errors import InvalidConfig, InvalidSpec
from engine.limits import SpecLimits, TrainLimits
from engine.training.checks import validate_config_values
from engine.training.config import TrainConfig
from tests.dashboard.conftest import open_app

CONFIG_KEYS = {
    "cfg_epochs": "epochs",
    "cfg_batch_size": "batch_size",
    "cfg_validation_split": "validation_split",
    "cfg_seed": "seed",
    "cfg_early_stopping": "early_stopping_patience",
    "cfg_limit_train": "limit_train",
}


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


def _config_accepts(field: str, value) -> bool:
    probe = TrainConfig().replace(**{field: value})
    try:
        validate_config_values(probe)
    except InvalidConfig:
        return False
    return True


@pytest.mark.parametrize("hosted", [False, True])
def test_each_training_widget_holds_exactly_what_the_validator_accepts(monkeypatch, hosted):
    if hosted:
        monkeypatch.setenv("DIGIT_LAB_HOSTED", "1")
    else:
        monkeypatch.delenv("DIGIT_LAB_HOSTED", raising=False)
    app = open_app()
    assert not app.exception
    for key, field in CONFIG_KEYS.items():
        widget = app.number_input(key=key)
        kind = type(widget.value)  # AppTest reports bounds as floats; the widget holds ints for whole settings
        low, high = kind(widget.min), None if widget.max is None else kind(widget.max)
        assert _config_accepts(field, low), (key, low)
        below = math.nextafter(low, -math.inf) if isinstance(low, float) else low - 1
        assert not _config_accepts(field, below), (key, below)
        if high is None or high >= 2**31:  # no maximum (limit_train), or the seed's 2**32-1 checked below
            continue
        assert _config_accepts(field, high), (key, high)
        above = math.nextafter(high, math.inf) if isinstance(high, float) else high + 1
        assert not _config_accepts(field, above), (key, above)
    most = int(app.number_input(key="cfg_seed").max)
    assert _config_accepts("seed", most) and not _config_accepts("seed", most + 1)
    assert app.number_input(key="cfg_epochs").max == (30 if hosted else 500)


def _spec_accepts(spec: ModelSpec) -> bool:
    try:
        validate_spec_values(spec)
    except InvalidSpec:
        return False
    return True


def test_fraction_and_learning_rate_widgets_match_the_validator():
    from engine.architectures import ModelSpec as Spec

    normed = Spec(conv_blocks=(ConvBlock(8, batch_norm="after_pool"),), input_shape=(8, 8, 1))
    app = open_app(query={"dataset": "digits", "spec": normed.to_token()})
    assert not app.exception
    dropout = app.number_input(key="conv1_dropout")
    rate = app.number_input(key="spec_learning_rate")
    [momentum] = [w for w in app.sidebar.number_input if w.label == "Batch norm momentum"]
    block = ConvBlock(8)
    assert _spec_accepts(Spec(conv_blocks=(ConvBlock(8, dropout=dropout.max),)))
    assert not _spec_accepts(Spec(conv_blocks=(ConvBlock(8, dropout=math.nextafter(dropout.max, 2)),)))
    assert _spec_accepts(Spec(conv_blocks=(block,), dense_layers=(DenseLayer(dropout=dropout.max),)))
    assert _spec_accepts(Spec(conv_blocks=(block,), learning_rate=rate.min))
    assert not _spec_accepts(Spec(conv_blocks=(block,), learning_rate=math.nextafter(rate.min, -1)))
    assert _spec_accepts(Spec(conv_blocks=(block,), learning_rate=rate.max))
    assert not _spec_accepts(Spec(conv_blocks=(block,), learning_rate=math.nextafter(rate.max, 20)))
    assert _spec_accepts(Spec(conv_blocks=(block,), batch_norm_momentum=momentum.max))
    assert not _spec_accepts(Spec(conv_blocks=(block,), batch_norm_momentum=math.nextafter(momentum.max, 2)))


def test_a_pool_size_beyond_the_widget_is_refused_even_without_pooling():
    """The validator used to skip pool sizes when pooling was off, so a link could carry one no widget can show."""
    spec = ModelSpec(conv_blocks=(ConvBlock(8, pool="none", pool_size=99),), input_shape=(8, 8, 1))
    assert not _spec_accepts(spec)

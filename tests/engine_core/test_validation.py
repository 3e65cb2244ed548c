"""The one validation step: every spec and config value is checked, with a message naming setting, value and
range, before any run key exists; the CLI reports it as bad input (exit code 2)."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import pytest

from engine.architectures import PRESETS, ConvBlock, DenseLayer, ModelSpec
from engine.architectures.checks import validate_spec_values
from engine.errors import InvalidConfig, InvalidSpec
from engine.limits import SpecLimits, TrainLimits
from engine.training.checks import validate_config_values
from engine.training.config import TrainConfig
from engine.validation import validate_request

SPEC = PRESETS["digitlab-small8"].spec.for_data((8, 8, 1), 10)


@pytest.fixture(scope="module")
def digits():
    from engine.datasets import load_dataset

    return load_dataset("digits")


def request(spec=SPEC, config=None, n_train=1437, num_classes=10, **limits):
    validate_request(spec, config or TrainConfig(), n_train=n_train, num_classes=num_classes, **limits)


@pytest.mark.parametrize(
    "changes,fragments",
    [
        ({"validation_split": math.nan}, ["Validation split must be in [0, 1)", "nan"]),
        ({"validation_split": math.inf}, ["Validation split must be in [0, 1)", "inf"]),
        ({"validation_split": -0.1}, ["Validation split must be in [0, 1)", "-0.1"]),
        ({"seed": -1}, ["seed must be between 0 and 4294967295", "-1"]),
        ({"seed": 2**32}, ["seed must be between 0 and 4294967295", "4294967296"]),
        ({"epochs": 0}, ["Epochs must be between 1 and 500", "got 0"]),
        ({"batch_size": 9000}, ["Batch size must be between 1 and 8192", "9000"]),
        ({"early_stopping_patience": -1}, ["patience", "between 0 and 500", "-1"]),
        ({"lr_schedule": "linear"}, ["Unknown learning-rate schedule 'linear'", "constant"]),
        ({"augment_shift": math.nan}, ["Augmentation", "shift nan"]),  # checked with augmentation off: it is keyed
        ({"augment_rotation": 181.0, "augmentation": True}, ["rotation 0 to 180", "rotation 181.0"]),
        ({"limit_train": -5}, ["training-subset size", "-5"]),
        ({"cv_folds": 11, "cv_fold": 0}, ["2 to 10 folds", "11"]),
        ({"cv_folds": 3, "cv_fold": 3}, ["Fold 3 does not exist in a 3-fold split"]),
        ({"cv_fold": 2}, ["without a fold count"]),
    ],
)
def test_bad_config_values_are_named_with_their_range(changes, fragments):
    with pytest.raises(InvalidConfig) as error:
        request(config=TrainConfig(**changes))
    for fragment in fragments:
        assert fragment in str(error.value), (fragment, str(error.value))


@pytest.mark.parametrize(
    "field,value",
    [("epochs", True), ("seed", 1.5), ("validation_split", "0.2"), ("augmentation", 1), ("lr_schedule", None)],
)
def test_wrong_types_are_refused_and_bool_is_not_a_number(field, value):
    with pytest.raises(InvalidConfig, match=f"{field} has the wrong type"):
        request(config=TrainConfig(**{field: value}))


def test_seed_bounds_are_inclusive():
    request(config=TrainConfig(seed=0))
    request(config=TrainConfig(seed=2**32 - 1))


@pytest.mark.parametrize(
    "spec,fragment",
    [
        (replace(SPEC, learning_rate=math.nan), "learning rate must be in (0, 10], got nan"),
        (replace(SPEC, learning_rate=math.inf), "learning rate must be in (0, 10], got inf"),
        (replace(SPEC, batch_norm_momentum=math.nan), "batch norm momentum must be in [0, 1), got nan"),
        (replace(SPEC, conv_blocks=(ConvBlock(dropout=math.nan),)), "dropout must be in [0, 1), got nan"),
        (replace(SPEC, dense_layers=(DenseLayer(dropout=math.inf),)), "dropout must be in [0, 1), got inf"),
        (replace(SPEC, conv_blocks=(ConvBlock(filters=True),)), "conv block 1 filters must be a int, got True"),
        (replace(SPEC, conv_blocks=(ConvBlock(stride=9, padding="same"),)), "stride must be between 1 and 8, got 9"),
        (replace(SPEC, conv_blocks=(ConvBlock(pool_size=9, padding="same"),)), "pool size must be between 1 and 8"),
        (replace(SPEC, learning_rate="0.1"), "learning_rate must be a number"),
        (replace(SPEC, num_classes=True), "num_classes must be a int"),
        (replace(SPEC, input_shape=(8, 8.0, 1)), "input_shape must be three whole numbers"),
    ],
)
def test_bad_spec_values_are_named(spec, fragment):
    with pytest.raises(InvalidSpec) as error:
        request(spec=spec)
    assert fragment in str(error.value)
    with pytest.raises(InvalidSpec):
        validate_spec_values(spec)  # the links' check refuses them too, without laying out the layers


def test_dataset_dependent_checks_use_the_sizes_given():
    with pytest.raises(InvalidConfig, match="too small for 10 classes"):
        request(config=TrainConfig(limit_train=15))
    with pytest.raises(InvalidConfig, match="holds out none"):
        request(config=TrainConfig(validation_split=0.01), n_train=50)
    validate_config_values(TrainConfig(validation_split=0.01))  # the same config passes without a dataset


def test_limits_passed_in_override_those_in_force():
    with pytest.raises(InvalidConfig, match="between 1 and 3, got 10"):
        request(train_limits=TrainLimits(max_epochs=3))
    with pytest.raises(InvalidSpec, match="above the limit of 1,000"):
        request(spec_limits=SpecLimits(max_parameters=1000))


def test_a_whole_number_learning_rate_in_a_spec_file_is_a_float_and_keys_alike():
    data = SPEC.to_dict()
    data["learning_rate"] = 1
    data["conv_blocks"][0]["dropout"] = 0
    parsed = ModelSpec.from_json(json.dumps(data))
    assert type(parsed.learning_rate) is float and type(parsed.conv_blocks[0].dropout) is float
    assert parsed == replace(SPEC, learning_rate=1.0)
    assert parsed.to_json() == replace(SPEC, learning_rate=1.0).to_json()
    config = TrainConfig.from_dict({"validation_split": 0})
    assert type(config.validation_split) is float and config.to_dict() == TrainConfig(validation_split=0.0).to_dict()


def test_run_id_for_validates_before_making_a_key(digits, monkeypatch):
    import engine.runs

    def no_key(payload):
        raise AssertionError(f"a key was computed for {payload['config']}")

    monkeypatch.setattr(engine.runs, "run_key", no_key)
    for config in (TrainConfig(validation_split=math.nan), TrainConfig(seed=-1), TrainConfig(epochs=True)):
        with pytest.raises(InvalidConfig):
            engine.runs.run_id_for(digits, SPEC, config)
    with pytest.raises(InvalidSpec):
        engine.runs.run_id_for(digits, replace(SPEC, learning_rate=math.nan), TrainConfig())


@pytest.mark.parametrize("verb", ["train", "cv"])
def test_cli_refuses_a_nan_validation_split_as_bad_input(verb, capsys):
    from engine.cli import main

    code = main([verb, "--dataset", "digits", "--preset", "digitlab-small8", "--validation-split", "nan", "--json"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "error: Validation split must be in [0, 1), got nan" in err
    assert "JSON compliant" not in err and "unexpected" not in err


def test_cli_refuses_an_out_of_range_seed_as_bad_input(capsys):
    from engine.cli import main

    code = main(["train", "--dataset", "digits", "--seed", str(2**32), "--json"])
    assert code == 2
    assert "seed must be between 0 and 4294967295, got 4294967296" in capsys.readouterr().err


def test_a_path_checks_its_request_once_and_any_other_object_in_full(monkeypatch):
    import engine.validation as door

    calls = []
    real = door.validate_config
    monkeypatch.setattr(door, "validate_config", lambda *a, **k: calls.append(1) or real(*a, **k))
    config = TrainConfig(epochs=3)
    request(config=config)
    request(config=config)  # the same objects, sizes and limits: the second call (run_id_for's) is a lookup
    assert len(calls) == 1
    request(config=TrainConfig(epochs=3))  # an equal but other object is checked again
    request(config=config, n_train=1000)  # so are other sizes
    request(config=config, train_limits=TrainLimits(max_epochs=5))  # and other limits
    assert len(calls) == 4
    # Equality would let a value of another type through (True == 1); the door compares identity.
    with pytest.raises(InvalidConfig, match="epochs"):
        request(config=replace(TrainConfig(epochs=1), epochs=True))
    with pytest.raises(InvalidConfig, match="between 1 and 2"):
        request(config=config, train_limits=TrainLimits(max_epochs=2))

"""One small trained digits run shared by the probe tests, in a module-lifetime cache folder."""

from __future__ import annotations

import pytest

from engine.architectures import ConvBlock, DenseLayer, ModelSpec
from engine.datasets import load_dataset
from engine.runs import get_or_train
from engine.store import RunStore
from engine.training.config import TrainConfig

# BatchNorm in the spec: explanations must work through it (issue 15).
SPEC = ModelSpec(
    conv_blocks=(ConvBlock(16, padding="same", batch_norm="after_conv"), ConvBlock(16, padding="same")),
    dense_layers=(DenseLayer(32),),
    input_shape=(8, 8, 1),
)
CONFIG = TrainConfig(epochs=8, batch_size=64, seed=1)


@pytest.fixture(scope="session")
def trained_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("probe-cache")


@pytest.fixture(scope="session")
def digits_run(trained_cache):
    digits = load_dataset("digits")
    return get_or_train(digits, SPEC, CONFIG, store=RunStore(trained_cache / "runs")).run


@pytest.fixture
def probe_cache(trained_cache, monkeypatch):
    """Point the CLI's store at the shared trained run's cache."""
    monkeypatch.setenv("DIGIT_LAB_CACHE", str(trained_cache))
    return trained_cache

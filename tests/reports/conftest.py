"""Stored digits runs to report on, trained for real (a few epochs of the small 8x8 preset)."""

from __future__ import annotations

import pytest


def train_digits(epochs: int, seed: int = 0):
    from engine.datasets import load_dataset
    from engine.runs import get_or_train, preset_request

    dataset = load_dataset("digits")
    spec, config = preset_request("digitlab-small8", dataset, epochs=epochs, seed=seed)
    return get_or_train(dataset, spec, config, preset="digitlab-small8").run


@pytest.fixture
def short_run():
    return train_digits(epochs=1)

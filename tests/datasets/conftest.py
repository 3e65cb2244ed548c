"""Shared fixtures for the dataset tests: a private cache folder, a clean memo, an empty HOME."""

from __future__ import annotations

import pytest

from engine.datasets import memo, mnist_like, network


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path, monkeypatch):
    """Every test gets its own cache folder and starts and ends with no memoised dataset."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("DIGIT_LAB_CACHE", str(cache))
    monkeypatch.delenv(mnist_like.MNIST_ENV, raising=False)
    monkeypatch.delenv(mnist_like.FASHION_MNIST_ENV, raising=False)
    memo.clear_dataset_cache()
    network.forget_failures()
    yield cache
    memo.clear_dataset_cache()
    network.forget_failures()


@pytest.fixture
def no_keras_cache(tmp_path, monkeypatch):
    """Point HOME at an empty folder and drop KERAS_HOME, so no Keras download cache is found."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("KERAS_HOME", raising=False)
    return home

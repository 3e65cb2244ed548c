"""Shared fixtures: every test gets its own cache folder, so nothing lands in the repository's cache/."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path_factory, monkeypatch):
    cache = tmp_path_factory.mktemp("cache")
    monkeypatch.setenv("DIGIT_LAB_CACHE", str(cache))
    return cache

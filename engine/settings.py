"""Where Digit Lab keeps its files, read from the environment at call time so tests can redirect it."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent

# The one variable that moves every cached dataset and run (documented in README).
CACHE_ENV = "DIGIT_LAB_CACHE"


def cache_dir() -> Path:
    """The cache root: `$DIGIT_LAB_CACHE` when set, else `cache/` beside the engine."""
    return Path(os.environ.get(CACHE_ENV) or REPO_ROOT / "cache")


def datasets_dir() -> Path:
    return cache_dir() / "datasets"


def runs_dir() -> Path:
    return cache_dir() / "runs"

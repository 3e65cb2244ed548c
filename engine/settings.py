"""Where Digit Lab keeps its files, read from the environment at call time so tests can redirect it."""

from __future__ import annotations

import os
from pathlib import Path

# The one variable that moves every cached dataset and run (documented in README).
CACHE_ENV = "DIGIT_LAB_CACHE"


def cache_dir() -> Path:
    """The cache root: `$DIGIT_LAB_CACHE` when set, else `cache/` in the current working folder.

    Never beside the engine: an installed engine lives in site-packages, which is shared and often read-only.
    Run from a clone (`streamlit run dashboard/Home.py`), the working folder is the clone, as before.
    """
    return Path(os.environ.get(CACHE_ENV) or Path.cwd() / "cache")


def datasets_dir() -> Path:
    return cache_dir() / "datasets"


def runs_dir() -> Path:
    return cache_dir() / "runs"

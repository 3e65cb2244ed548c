"""Where Digit Lab keeps its files, and how its on/off switches are read: both from the environment at call time,
so tests can redirect them."""

from __future__ import annotations

import os
from pathlib import Path

# The one variable that moves every cached dataset and run (documented in README).
CACHE_ENV = "DIGIT_LAB_CACHE"
# What turns a switch on, in any case and with spaces around it; anything else (unset, "", "0", "no") is off.
TRUE_WORDS = ("1", "true", "yes", "on")


def env_flag(name: str) -> bool:
    """Whether the environment variable `name` is switched on (`TRUE_WORDS`); unset or anything else is off."""
    return os.environ.get(name, "").strip().lower() in TRUE_WORDS


# A server that runs a challenge shows only the Classroom page (see `classroom_only`).
CLASSROOM_ONLY_ENV = "DIGIT_LAB_CLASSROOM_ONLY"


def classroom_only() -> bool:
    """Whether this server shows its visitors the Classroom page alone. The other pages train and score on a
    dataset's whole test set: on a server that also runs a challenge on that dataset, a student could train their
    submission's model there and read its full-test accuracy, and with the public score recover the private one. A
    challenge server turns this on; its submissions' runs are scored on the public part only."""
    return env_flag(CLASSROOM_ONLY_ENV)


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

"""Limits in force: generous on a laptop, tight in hosted mode (`DIGIT_LAB_HOSTED=1`).

A hosted Digit Lab link is opened by a whole class on one small shared machine, so hosted mode caps what one
request may cost: epochs, training-set size, parameters, concurrent trainings and the cache's total size,
and the dashboard hides delete buttons. Every cap can be tuned with its own environment variable.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

HOSTED_ENV = "DIGIT_LAB_HOSTED"


def hosted_mode() -> bool:
    return os.environ.get(HOSTED_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def _env_int(name: str, default: int) -> int:
    try:
        return int(os.environ.get(name, default))
    except ValueError:
        return default


@dataclass(frozen=True)
class ServerLimits:
    max_concurrent_trainings: int  # more requests wait in a queue and see their position
    max_cache_bytes: int  # 0 = unlimited; above it the least recently used runs are evicted


def server_limits() -> ServerLimits:
    if hosted_mode():
        return ServerLimits(_env_int("DIGIT_LAB_MAX_TRAININGS", 2), _env_int("DIGIT_LAB_MAX_CACHE_MB", 2048) * 2**20)
    return ServerLimits(_env_int("DIGIT_LAB_MAX_TRAININGS", 2), _env_int("DIGIT_LAB_MAX_CACHE_MB", 0) * 2**20)


def spec_limits():
    from engine.architectures.shapes import Limits

    if hosted_mode():
        return Limits(max_parameters=_env_int("DIGIT_LAB_MAX_PARAMETERS", 2_000_000))
    return Limits()


def train_limits():
    from engine.training.config import TrainLimits

    if hosted_mode():
        return TrainLimits(max_epochs=_env_int("DIGIT_LAB_MAX_EPOCHS", 30),
                           max_train_examples=_env_int("DIGIT_LAB_MAX_TRAIN_EXAMPLES", 20_000))
    return TrainLimits()

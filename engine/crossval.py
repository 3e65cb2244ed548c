"""Stratified k-fold cross-validation where every fold is a cached run.

Fold i of k is the config with `cv_folds=k, cv_fold=i`: its own store key, so a repeated request returns at
once and an interrupted one resumes with the folds already done. Each fold's model is also scored on the
untouched test set, so train, CV and test accuracy can be read side by side.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from engine.architectures.spec import ModelSpec
from engine.datasets import Dataset
from engine.errors import InvalidConfig
from engine.executors import RunTask, batch_relay, raise_for_failures, resolve
from engine.limits import train_limits
from engine.progress import BatchCallback
from engine.store import RunStore, StoredRun
from engine.training.config import TrainConfig

if TYPE_CHECKING:  # annotations only: the executors are imported when the folds run
    from engine.executors import Executor


@dataclass(frozen=True)
class FoldResult:
    fold: int  # 1-based
    run: StoredRun
    cached: bool

    @property
    def metrics(self) -> dict:
        return self.run.meta["metrics"]


@dataclass(frozen=True)
class CrossValidation:
    folds: tuple[FoldResult, ...]

    @property
    def k(self) -> int:
        return len(self.folds)

    def column(self, name: str) -> np.ndarray:
        return np.array([fold.metrics.get(name, np.nan) for fold in self.folds], dtype=float)

    @property
    def train_accuracy_kind(self) -> str:
        """Which training accuracy the folds hold: "inference" when every fold scored its training set after
        training (dropout off, like validation and test); "running" for runs stored before that existed, which
        hold only Keras' last-epoch running average with dropout active."""
        found = all("train_accuracy_inference" in fold.metrics for fold in self.folds)
        return "inference" if found else "running"

    @property
    def train_accuracy_key(self) -> str:
        return "train_accuracy_inference" if self.train_accuracy_kind == "inference" else "final_train_accuracy"

    def summary(self) -> dict:
        """Per-fold validation, test and training scores with mean and (population) standard deviation, as seed 002
        did; `train_accuracy_kind` says which training accuracy the folds hold (see `train_accuracy_kind`)."""
        out: dict = {"k": self.k, "folds": [], "train_accuracy_kind": self.train_accuracy_kind}
        for fold in self.folds:
            m = fold.metrics
            out["folds"].append(
                {
                    "fold": fold.fold,
                    "run_id": fold.run.run_id,
                    "cached": fold.cached,
                    "val_loss": m.get("val_loss"),
                    "val_accuracy": m.get("val_accuracy"),
                    "test_accuracy": m.get("test_accuracy"),
                    "test_loss": m.get("test_loss"),
                    "train_accuracy": m.get(self.train_accuracy_key),
                    "train_seconds": fold.run.meta.get("train_seconds"),
                }
            )
        for name in ("val_loss", "val_accuracy", "test_accuracy", "train_accuracy"):
            key = {"train_accuracy": self.train_accuracy_key}.get(name, name)
            values = self.column(key)
            out[f"mean_{name}"] = float(np.mean(values))
            out[f"std_{name}"] = float(np.std(values))
        return out


def fold_configs(config: TrainConfig, k: int) -> list[TrainConfig]:
    """The k fold configs; the plain validation split does not apply inside a fold, so it is zeroed."""
    most = train_limits().max_cv_folds
    if not 2 <= k <= most:
        raise InvalidConfig(f"Cross-validation needs 2 to {most} folds, got {k}.")
    return [config.replace(cv_folds=k, cv_fold=i, validation_split=0.0) for i in range(k)]


def fold_tasks(dataset: Dataset, spec: ModelSpec, config: TrainConfig, k: int, preset: str = "") -> list:
    """The k folds as executor tasks (`engine.executors.RunTask`), validated and keyed: what `cross_validate` runs
    here and what a job driver (`engine.jobs`) runs in its own process."""
    return [
        RunTask.for_request(dataset, spec, fold_config, preset=preset, label=f"fold {i}/{k}")
        for i, fold_config in enumerate(fold_configs(config, k), 1)
    ]


def cross_validate(
    dataset: Dataset,
    spec: ModelSpec,
    config: TrainConfig,
    k: int = 5,
    progress: BatchCallback | None = None,
    store: RunStore | None = None,
    preset: str = "",
    executor: Executor | str | None = None,
) -> CrossValidation:
    """Train (or fetch) each of the k folds and return them all.

    `executor`: None or "local" trains the folds in turn in this process; "ray" (or any `engine.executors`
    executor) runs them where it runs tasks. Keys are the same either way. If folds fail, `TasksFailed` is
    raised after the finished folds were stored; the local executor raises a fold's own error at once.
    `progress` gets a `BatchProgress` for each step of each fold; its `index` is the fold number.
    """
    store = store or RunStore()
    tasks = fold_tasks(dataset, spec, config, k, preset)
    on_event = batch_relay(progress) if progress is not None else None
    outcomes = resolve(executor).run(tasks, on_event, store=store)
    raise_for_failures(outcomes, "fold")
    return CrossValidation(tuple(FoldResult(i, o.run, o.cached) for i, o in enumerate(outcomes, 1)))

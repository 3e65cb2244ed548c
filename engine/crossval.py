"""Stratified k-fold cross-validation where every fold is a cached run.

Fold i of k is the config with `cv_folds=k, cv_fold=i`: its own store key, so a repeated request returns at
once and an interrupted one resumes with the folds already done. Each fold's model is also scored on the
untouched test set, so train, CV and test accuracy can be read side by side.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from engine.architectures.spec import ModelSpec
from engine.datasets import Dataset
from engine.errors import InvalidConfig
from engine.store import RunStore, StoredRun
from engine.training.config import TrainConfig
from engine.training.progress import ProgressEvent


@dataclass(frozen=True)
class FoldProgress:
    """Progress of one fold: `status` is "start", "training" (with the epoch event) or "done".

    A parallel executor (`executor="ray"`) also reports "queued" (submitted, waiting for a worker) and "failed"
    (`error` says why; the other folds go on), and folds may start and finish in any order. `done` counts the
    folds finished so far.
    """

    fold: int  # 1-based
    folds: int
    status: str
    cached: bool = False
    event: ProgressEvent | None = None
    done: int = 0  # folds finished (stored, from the store or failed) so far
    error: str = ""
    attempt: int = 1  # > 1 when a worker retries the fold


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

    def summary(self) -> dict:
        """Per-fold validation and test scores with mean and (population) standard deviation, as seed 002 did."""
        out: dict = {"k": self.k, "folds": []}
        for fold in self.folds:
            m = fold.metrics
            out["folds"].append({
                "fold": fold.fold, "run_id": fold.run.run_id, "cached": fold.cached,
                "val_loss": m.get("val_loss"), "val_accuracy": m.get("val_accuracy"),
                "test_accuracy": m.get("test_accuracy"), "test_loss": m.get("test_loss"),
                "train_accuracy": m.get("final_train_accuracy"), "train_seconds": fold.run.meta.get("train_seconds"),
            })
        for name in ("val_loss", "val_accuracy", "test_accuracy", "train_accuracy"):
            key = {"train_accuracy": "final_train_accuracy"}.get(name, name)
            values = self.column(key)
            out[f"mean_{name}"] = float(np.mean(values))
            out[f"std_{name}"] = float(np.std(values))
        return out


def fold_configs(config: TrainConfig, k: int) -> list[TrainConfig]:
    """The k fold configs; the plain validation split does not apply inside a fold, so it is zeroed."""
    if not 2 <= k <= 10:
        raise InvalidConfig(f"Cross-validation needs 2 to 10 folds, got {k}.")
    return [config.replace(cv_folds=k, cv_fold=i, validation_split=0.0) for i in range(k)]


def cross_validate(
    dataset: Dataset,
    spec: ModelSpec,
    config: TrainConfig,
    k: int = 5,
    progress: Callable[[FoldProgress], "bool | None"] | None = None,
    store: RunStore | None = None,
    preset: str = "",
    executor=None,
) -> CrossValidation:
    """Train (or fetch) each of the k folds and return them all.

    `executor`: None or "local" trains the folds in turn in this process; "ray" (or any `engine.executors`
    executor) runs them where it runs tasks. Keys are the same either way. If folds fail, `TasksFailed` is
    raised after the finished folds were stored; the local executor raises a fold's own error at once.
    """
    from engine.executors import RunTask, raise_for_failures, resolve

    store = store or RunStore()
    configs = fold_configs(config, k)
    tasks = [RunTask.for_request(dataset, spec, fold_config, preset=preset, label=f"fold {i}/{k}")
             for i, fold_config in enumerate(configs, 1)]
    on_event = None
    if progress is not None:
        on_event = progress_relay(progress, lambda update, status, **extra: FoldProgress(update.index + 1, k, status, **extra))
    outcomes = resolve(executor).run(tasks, on_event, store=store)
    raise_for_failures(outcomes, "fold")
    return CrossValidation(tuple(FoldResult(i, o.run, o.cached) for i, o in enumerate(outcomes, 1)))


def progress_relay(progress, make):
    """An executor event callback that turns TaskEvents into the caller's progress type (FoldProgress, ...).

    `make(update, status, **fields)` builds one. Statuses keep their historic names: "running" is "start",
    "done"/"cached" are "done" (with `cached`); an item answered from the store without running reports "start"
    first, so every item starts before it ends. "queued" and "failed" (with `error`) pass through.
    """
    started: set[int] = set()

    def relay(update):
        common = {"done": update.done, "attempt": update.attempt}
        if update.status == "running":
            started.add(update.index)
            return progress(make(update, "start", **common))
        if update.status == "training":
            return progress(make(update, "training", event=update.event, **common))
        if update.status in ("done", "cached"):
            if update.index not in started:
                started.add(update.index)
                progress(make(update, "start", **common))
            return progress(make(update, "done", cached=update.status == "cached", **common))
        if update.status == "failed":
            return progress(make(update, "failed", error=update.error, **common))
        return progress(make(update, update.status, **common))

    return relay

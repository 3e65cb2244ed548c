"""Many runs side by side: one table, curves aligned by epoch, accuracy against parameters, and studies.

A study is a named list of presets trained on one dataset in one call; `seed003` reproduces the ten-model
comparison of seed document 003.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import pandas as pd

from engine.datasets import Dataset
from engine.runs import RunResult, get_or_train, preset_request, spec_summary
from engine.store import RunStore, StoredRun
from engine.training.train import ProgressEvent

STUDIES: dict[str, tuple[str, ...]] = {
    "seed003": tuple(f"seed003-m{i}" for i in range(1, 11)),
    "seed004": ("seed004-10class", "seed004-10class-bn", "seed004-4class", "seed004-4class-bn"),
}


def run_label(run: StoredRun) -> str:
    meta = run.meta
    name = meta.get("preset") or spec_summary(meta["spec"])
    return f"{name} · {meta['dataset']['name']} · {run.run_id[:6]}"


def comparison_table(runs: list[StoredRun]) -> pd.DataFrame:
    rows = []
    for run in runs:
        meta = run.meta
        config, metrics = meta["config"], meta["metrics"]
        rows.append({
            "run_id": run.run_id,
            "label": run_label(run),
            "dataset": meta["dataset"]["name"],
            "preset": meta.get("preset") or "custom",
            "architecture": spec_summary(meta["spec"]),
            "parameters": meta["parameters"]["total"],
            "epochs": meta.get("epochs_run", config["epochs"]),
            "batch_size": config["batch_size"],
            "learning_rate": meta["spec"]["learning_rate"],
            "seed": config["seed"],
            "test_accuracy": metrics["test_accuracy"],
            "macro_f1": metrics["macro_f1"],
            "test_loss": metrics["test_loss"],
            "train_seconds": meta["train_seconds"],
            "created": meta["created"],
        })
    return pd.DataFrame(rows)


def aligned_curves(runs: list[StoredRun]) -> pd.DataFrame:
    """Long format (run_id, label, epoch, metric, value); epoch 0 holds the score before training."""
    rows = []
    for run in runs:
        history, label = run.history(), run_label(run)
        initial = history.get("initial") or {}
        for metric, value in initial.items():
            rows.append({"run_id": run.run_id, "label": label, "epoch": 0, "metric": metric, "value": value})
        for epoch in history["epochs"]:
            for metric in ("loss", "accuracy", "val_loss", "val_accuracy"):
                if metric in epoch:
                    rows.append({"run_id": run.run_id, "label": label, "epoch": epoch["epoch"], "metric": metric,
                                 "value": epoch[metric]})
    return pd.DataFrame(rows, columns=["run_id", "label", "epoch", "metric", "value"])


def accuracy_vs_parameters(runs: list[StoredRun]) -> pd.DataFrame:
    return comparison_table(runs)[["run_id", "label", "parameters", "test_accuracy", "train_seconds", "dataset"]]


@dataclass(frozen=True)
class StudyProgress:
    model: int  # 1-based
    models: int
    preset: str
    status: str  # "start" | "training" | "done"
    cached: bool = False
    event: ProgressEvent | None = None


def run_study(
    name: str,
    dataset: Dataset,
    progress: Callable[[StudyProgress], "bool | None"] | None = None,
    store: RunStore | None = None,
    **config_changes,
) -> list[RunResult]:
    """Train (or fetch) every model of a study on `dataset`; `config_changes` (e.g. limit_train, epochs) apply to all."""
    from engine.errors import InvalidConfig

    if name not in STUDIES:
        raise InvalidConfig(f"Unknown study {name!r}. Available: {', '.join(STUDIES)}.")
    store = store or RunStore()
    presets = STUDIES[name]
    results = []
    for index, preset_name in enumerate(presets, 1):
        spec, config = preset_request(preset_name, dataset, **config_changes)
        if progress is not None:
            progress(StudyProgress(index, len(presets), preset_name, "start"))
        relay = None
        if progress is not None:
            def relay(event, index=index, preset_name=preset_name):
                return progress(StudyProgress(index, len(presets), preset_name, "training", event=event))
        result = get_or_train(dataset, spec, config, progress=relay, store=store, preset=preset_name)
        results.append(result)
        if progress is not None:
            progress(StudyProgress(index, len(presets), preset_name, "done", cached=result.cached))
    return results

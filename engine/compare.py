"""Many runs side by side: the run list, one comparison table (with the accuracies the presets' sources report),
curves aligned by epoch, accuracy against parameters, and preset studies.

A preset study is a named list of presets trained on one dataset in one call; `seed003` reproduces the ten-model
comparison of seed document 003.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from engine.architectures import PRESETS
from engine.datasets import Dataset
from engine.errors import DigitLabError, InvalidConfig, StoreError
from engine.executors import RunTask, batch_relay, raise_for_failures, resolve
from engine.progress import BatchCallback
from engine.runs import RunResult, labels_of, preset_request, spec_summary
from engine.store import RunStore, StoredRun

if TYPE_CHECKING:  # annotations only: the executors are imported when the models run
    from engine.executors import Executor

PRESET_STUDIES: dict[str, tuple[str, ...]] = {
    "seed003": tuple(f"seed003-m{i}" for i in range(1, 11)),
    "seed004": ("seed004-10class", "seed004-10class-bn", "seed004-4class", "seed004-4class-bn"),
}


def comparison_table(runs: list[StoredRun], labels: Mapping[str, str] | None = None) -> pd.DataFrame:
    """One row per run. `labels`: the runs' names as a wider list named them (`engine.runs.labels_of` over every
    stored run, as Compare's picker does), so a row reads as its choice did; by default `labels_of(runs)`."""
    labels = labels if labels is not None else labels_of(runs)
    rows = []
    for run in runs:
        meta = run.meta
        config, metrics = meta["config"], meta["metrics"]
        rows.append(
            {
                "run_id": run.run_id,
                "label": labels[run.run_id],
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
            }
        )
    return pd.DataFrame(rows)


def reported_test_accuracy(preset: str, dataset: str | None = None) -> float:
    """The test accuracy the preset's source document reports; NaN for a custom model, a source without one, or
    (when `dataset` is given) a run on another dataset than the report's: an MNIST figure beside a Fashion-MNIST
    run would compare two different tasks."""
    found = PRESETS.get(preset)
    if found is None or (dataset is not None and dataset != found.dataset):
        return np.nan
    return float(found.reported.get("test_accuracy", np.nan))


def comparison_with_reports(runs: list[StoredRun], labels: Mapping[str, str] | None = None) -> pd.DataFrame:
    """`comparison_table` plus `reported_accuracy`, the source's figure for each run's preset (NaN where none).

    The reported figure belongs to the preset as the source trained it (its dataset, epochs, full data): it is
    shown only beside runs on the report's dataset, and a run with other settings is not expected to reach it.
    """
    table = comparison_table(runs, labels)
    table["reported_accuracy"] = pd.Series(
        [
            reported_test_accuracy(preset, dataset)
            for preset, dataset in zip(table.get("preset", []), table.get("dataset", []), strict=True)
        ],
        index=table.index,
        dtype=float,
    )
    return table


def runs_table(runs: list[StoredRun]) -> pd.DataFrame:
    """One row per stored run, in the order given: the run list Home shows, each named by `labels_of`.

    Unlike `comparison_table` it needs only what every stored run's meta holds: epochs, training time and the
    creation time are blank (None) for a run whose meta lacks them.
    """
    columns = [
        "run_id",
        "label",
        "dataset",
        "preset",
        "architecture",
        "test_accuracy",
        "epochs",
        "train_seconds",
        "created",
    ]
    labels = labels_of(runs)
    rows = [
        {
            "run_id": run.run_id,
            "label": labels[run.run_id],
            "dataset": run.meta["dataset"]["name"],
            "preset": run.meta.get("preset") or "custom",
            "architecture": spec_summary(run.meta["spec"]),
            "test_accuracy": run.meta["metrics"]["test_accuracy"],
            "epochs": run.meta.get("epochs_run"),
            "train_seconds": run.meta.get("train_seconds"),
            "created": run.meta.get("created"),
        }
        for run in runs
    ]
    return pd.DataFrame(rows, columns=columns)


def incomparability(run: StoredRun, other: StoredRun) -> str:
    """Why `other` cannot be scored beside `run` on `run`'s test set (a robustness curve, a second explanation):
    another dataset (name or fingerprint: another copy of "mnist" is another dataset), another image size, or other
    classes. "" when it can."""
    mine, theirs = run.meta["dataset"], other.meta["dataset"]
    if theirs["name"] != mine["name"]:
        return f"trained on {theirs['name']}, not {mine['name']}"
    if theirs.get("fingerprint") != mine.get("fingerprint"):
        return f"trained on another copy of {mine['name']} (other files)"
    shape, my_shape = list(theirs.get("image_shape") or [])[:2], list(mine.get("image_shape") or [])[:2]
    if shape != my_shape:
        return f"its images are {'x'.join(map(str, shape)) or 'of unknown size'}, not {'x'.join(map(str, my_shape))}"
    if list(other.meta["class_names"]) != list(run.meta["class_names"]):
        return f"it classifies {len(other.meta['class_names'])} other classes"
    return ""


def comparable_runs(run: StoredRun, others: list[StoredRun]) -> tuple[list[StoredRun], list[tuple[StoredRun, str]]]:
    """`others` (without `run` itself) split into those scored on the same test images and classes as `run`, and
    the rest with why not (`incomparability`), each in the order given."""
    fits, refused = [], []
    for other in others:
        if other.run_id == run.run_id:
            continue
        reason = incomparability(run, other)
        if reason:
            refused.append((other, reason))
        else:
            fits.append(other)
    return fits, refused


@dataclass(frozen=True)
class MeasuredTime:
    """How long stored runs of one preset on one dataset took, as measured when they were trained (medians)."""

    runs: int  # how many stored runs the medians cover
    train_seconds: float  # from the first training step to the end of fit
    prepare_seconds: float | None  # before it: data, TensorFlow, model build; None for runs stored before it was kept


def measured_training_time(runs: list[StoredRun], preset: str, dataset: str, epochs: int) -> MeasuredTime | None:
    """The median times of the stored, plain (not k-fold) runs of `preset` on `dataset` with `epochs` epochs; None
    when there are none. Pages quote these instead of promising a time they never measured."""
    chosen = [
        run.meta
        for run in runs
        if run.meta.get("preset") == preset
        and run.meta["dataset"]["name"] == dataset
        and run.meta["config"].get("epochs") == epochs
        and not run.meta["config"].get("cv_folds")
        and "train_seconds" in run.meta
    ]
    if not chosen:
        return None
    prepare = [meta["prepare_seconds"] for meta in chosen if "prepare_seconds" in meta]
    return MeasuredTime(
        runs=len(chosen),
        train_seconds=float(np.median([meta["train_seconds"] for meta in chosen])),
        prepare_seconds=float(np.median(prepare)) if prepare else None,
    )


def aligned_curves(
    runs: list[StoredRun], problems: list[tuple[str, str]] | None = None, labels: Mapping[str, str] | None = None
) -> pd.DataFrame:
    """Long format (run_id, label, epoch, metric, value); epoch 0 holds the score before training. `labels` as in
    `comparison_table`.

    A run whose history cannot be read (a refused or damaged file) is left out; `(run_id, reason)` is appended
    to `problems` when given, so the page can say which curve is missing and why.
    """
    labels = labels if labels is not None else labels_of(runs)
    rows = []
    for run in runs:
        try:
            history, label = run.history(), labels[run.run_id]
            if not isinstance(history, dict) or not isinstance(history.get("epochs"), list):
                raise StoreError(f"the history of run {run.run_id} is not in the expected form")
        except DigitLabError as error:
            if problems is not None:
                problems.append((run.run_id, str(error)))
            continue
        initial = history.get("initial")
        if not isinstance(initial, dict):
            initial = {}
        for metric, value in initial.items():
            rows.append({"run_id": run.run_id, "label": label, "epoch": 0, "metric": metric, "value": value})
        for epoch in history["epochs"]:
            for metric in ("loss", "accuracy", "val_loss", "val_accuracy"):
                if isinstance(epoch, dict) and metric in epoch and "epoch" in epoch:
                    rows.append(
                        {
                            "run_id": run.run_id,
                            "label": label,
                            "epoch": epoch["epoch"],
                            "metric": metric,
                            "value": epoch[metric],
                        }
                    )
    return pd.DataFrame(rows, columns=["run_id", "label", "epoch", "metric", "value"])


def accuracy_vs_parameters(runs: list[StoredRun], labels: Mapping[str, str] | None = None) -> pd.DataFrame:
    return comparison_table(runs, labels)[
        ["run_id", "label", "parameters", "test_accuracy", "train_seconds", "dataset"]
    ]


def preset_study_tasks(name: str, dataset: Dataset, **config_changes: Any) -> list:
    """A preset study's models as executor tasks (`engine.executors.RunTask`), validated and keyed: what
    `run_preset_study` runs here and what a job driver (`engine.jobs`) runs in its own process."""
    if name not in PRESET_STUDIES:
        raise InvalidConfig(f"Unknown study {str(name)[:40]!r}. Available: {', '.join(PRESET_STUDIES)}.")
    tasks = []
    for preset_name in PRESET_STUDIES[name]:
        spec, config = preset_request(preset_name, dataset, **config_changes)
        tasks.append(RunTask.for_request(dataset, spec, config, preset=preset_name, label=preset_name))
    return tasks


def run_preset_study(
    name: str,
    dataset: Dataset,
    progress: BatchCallback | None = None,
    store: RunStore | None = None,
    executor: Executor | str | None = None,
    **config_changes: Any,
) -> list[RunResult]:
    """Train (or fetch) every model of a preset study on `dataset`; `config_changes` (e.g. limit_train, epochs)
    apply to all.

    `executor`: None or "local" trains the models in turn here; "ray" (or any `engine.executors` executor) runs
    them in parallel where it runs tasks. If models fail, `TasksFailed` is raised after the others were stored.
    `progress` gets a `BatchProgress` for each step of each model, labelled with the model's preset name.
    """
    tasks = preset_study_tasks(name, dataset, **config_changes)
    store = store or RunStore()
    presets = PRESET_STUDIES[name]
    on_event = batch_relay(progress, labels=presets) if progress is not None else None
    outcomes = resolve(executor).run(tasks, on_event, store=store)
    raise_for_failures(outcomes, "model")
    return [outcome.result() for outcome in outcomes]

"""What a report is about: one stored run, or a named set of stored runs with a best one (a preset study, a k-fold, the
runs picked on Compare, later a sweep). The notebook and the HTML report take one `ReportSubject` and nothing else.

The best run of a set is chosen by its final validation accuracy, never by the test set (which the report is there
to show); runs without a validation score fall back to test accuracy, and the subject says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from engine.datasets import Dataset
from engine.errors import InvalidConfig, RunNotFound
from engine.store import RunStore, StoredRun, is_run_id
from engine.sweeps import load_sweep

SELECTION_METRIC = "val_accuracy"  # the metric the best run is chosen by; the test set is never used to choose


@dataclass(frozen=True)
class ReportSubject:
    """One run (`runs` holds it alone) or a named set of runs, with the run the notebook reproduces."""

    title: str  # written by the engine (a study's name, "Run <id>"), shown escaped all the same
    kind: str  # "run" | "study" (a preset study) | "crossval" | "comparison" | "sweep"
    runs: tuple[StoredRun, ...]
    best_run_id: str
    chosen_by: str  # how `best_run_id` was chosen, in words, for the report

    @property
    def best(self) -> StoredRun:
        return next(run for run in self.runs if run.run_id == self.best_run_id)

    @property
    def is_set(self) -> bool:
        return len(self.runs) > 1 or self.kind != "run"


def _stored(run_id: str, store: RunStore) -> StoredRun:
    run = store.get(run_id) if is_run_id(run_id) else None
    if run is None:
        raise RunNotFound(f"No stored run {str(run_id)[:40]!r}. List them with `digit-lab runs`.")
    return run


def run_subject(run_id: str, store: RunStore | None = None) -> ReportSubject:
    run = _stored(run_id, store or RunStore())
    return ReportSubject(f"Run {run.run_id}", "run", (run,), run.run_id, "the only run")


def best_run(runs: list[StoredRun] | tuple[StoredRun, ...]) -> tuple[str, str]:
    """(run id, how it was chosen): the highest final validation accuracy; test accuracy only when no run has a
    validation score, and then the reason is part of the answer."""

    def score(run: StoredRun, name: str) -> float:
        value = run.meta["metrics"].get(name)
        return float(value) if isinstance(value, int | float) and math.isfinite(value) else -math.inf

    if any(score(run, SELECTION_METRIC) > -math.inf for run in runs):
        chosen = max(runs, key=lambda run: score(run, SELECTION_METRIC))
        return chosen.run_id, "the highest final validation accuracy (the test set is not used to choose)"
    chosen = max(runs, key=lambda run: score(run, "test_accuracy"))
    return chosen.run_id, "the highest test accuracy, because no run has a validation score"


def set_subject(
    title: str, kind: str, runs: list[StoredRun], best_run_id: str | None = None, chosen_by: str = ""
) -> ReportSubject:
    """A named set of stored runs (a k-fold's folds, Compare's selection, a sweep's trials). A caller that has its
    own best run (a sweep, by its chosen validation metric) passes it with how it was chosen; else `best_run`."""
    if not runs:
        raise RunNotFound(f"{title}: no stored runs to report on.")
    if best_run_id is None:
        best_run_id, chosen_by = best_run(runs)
    elif best_run_id not in {run.run_id for run in runs}:
        raise RunNotFound(f"{title}: the best run {str(best_run_id)[:40]!r} is not among its stored runs.")
    return ReportSubject(title, kind, tuple(runs), best_run_id, chosen_by or "the caller's choice")


def runs_subject(
    run_ids: list[str], title: str = "", kind: str = "comparison", store: RunStore | None = None
) -> ReportSubject:
    store = store or RunStore()
    runs = [_stored(run_id, store) for run_id in run_ids]
    if len(runs) == 1 and kind == "run":
        return run_subject(runs[0].run_id, store)
    return set_subject(title or f"Comparison of {len(runs)} runs", kind, runs)


def preset_study_subject(
    name: str, dataset: Dataset, store: RunStore | None = None, **config_changes: Any
) -> ReportSubject:
    """A preset study (`engine.compare.PRESET_STUDIES`) as trained on `dataset` with `config_changes` (what `digit-lab
    study` was given): the run ids are derived from the request, so exactly that preset study's runs are reported.
    Models not stored yet are an error naming them and the command that trains them, never silently left out."""
    # Deferred: engine.compare loads pandas, which only a preset study's report needs.
    from engine.compare import PRESET_STUDIES, preset_study_tasks

    if name not in PRESET_STUDIES:
        raise InvalidConfig(f"Unknown study {str(name)[:40]!r}. Available: {', '.join(PRESET_STUDIES)}.")
    store = store or RunStore()
    tasks = preset_study_tasks(name, dataset, **config_changes)
    found = [(task, store.get(task.run_id)) for task in tasks]
    missing = [task.label for task, run in found if run is None]
    if missing:
        options = "".join(f" --{k.replace('_', '-')} {v}" for k, v in config_changes.items() if v is not None)
        command = f"digit-lab study {name} --dataset {dataset.name}{options}"
        raise RunNotFound(
            f"Study {name} on {dataset.name}: {len(missing)} of {len(tasks)} models are not stored here "
            f"({', '.join(missing)}). Train them first: {command}"
        )
    return set_subject(f"Study {name} on {dataset.name}", "study", [run for _task, run in found if run is not None])


def sweep_subject(sweep_id: str, store: RunStore | None = None) -> ReportSubject:
    """A stored sweep: every run of its complete trials, the best trial's best run (by the sweep's own validation
    metric, never the test set) as the one the notebook reproduces."""
    store = store or RunStore()
    result = load_sweep(sweep_id, store=store)
    best_run_id = result.best_run_id
    if best_run_id is None:
        raise RunNotFound(f"Sweep {sweep_id}: no trial has finished, so there is nothing to report yet.")
    run_ids = [run_id for trial in result.complete for run_id in trial.run_ids]
    runs = [_stored(run_id, store) for run_id in dict.fromkeys(run_ids)]
    chosen_by = f"the best trial by the sweep's metric, {result.metric} (the test set is not used to choose)"
    return set_subject(result.title, "sweep", runs, best_run_id, chosen_by)

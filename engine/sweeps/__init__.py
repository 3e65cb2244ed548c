"""Sweeps: search over a preset's spec and config settings (grid, random or Optuna's TPE), each trial cached runs.

    request = SweepRequest("digits", "digitlab-small8", space, sampler="tpe", trials=10, folds=3)
    result = run_sweep(request, load_dataset("digits"))   # SweepResult: trials, best, best_run_id
    result = load_sweep(result.sweep_id)                  # the same, from the study and the store, never training

`space.py` holds the search space, `runner.py` the Optuna study and the trial loop, `paired.py` the paired
comparison of two configurations over the same folds or seeds.
"""

from engine.sweeps.paired import PairedComparison, compare_configurations, compare_trials, paired_comparison
from engine.sweeps.runner import (
    METRICS,
    SAMPLERS,
    Importance,
    SweepBusy,
    SweepRequest,
    SweepResult,
    SweepTrial,
    load_sweep,
    parameter_importance,
    plan_sweep,
    planned_tasks,
    run_sweep,
)
from engine.sweeps.space import InvalidSweep, Param, SearchSpace, apply_params, default_space

__all__ = [
    "METRICS",
    "SAMPLERS",
    "Importance",
    "InvalidSweep",
    "PairedComparison",
    "Param",
    "SearchSpace",
    "SweepBusy",
    "SweepRequest",
    "SweepResult",
    "SweepTrial",
    "apply_params",
    "compare_configurations",
    "compare_trials",
    "default_space",
    "load_sweep",
    "paired_comparison",
    "parameter_importance",
    "plan_sweep",
    "planned_tasks",
    "run_sweep",
]

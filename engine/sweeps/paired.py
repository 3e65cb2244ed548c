"""Paired comparison of two configurations measured on the same folds or seeds: mean difference with a t interval.

Pairing removes what the folds or seeds share (an easy fold is easy for both models), so the interval is usually
much narrower than comparing two means. The interval is computed here from the differences with Student's t
quantile; the tests check it against `scipy.stats.ttest_rel(...).confidence_interval()`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from engine.crossval import fold_configs
from engine.datasets import Dataset
from engine.executors import Executor, RunTask, batch_relay, raise_for_failures, resolve
from engine.progress import BatchCallback
from engine.store import RunStore
from engine.sweeps.runner import METRICS, SweepResult
from engine.sweeps.space import InvalidSweep


@dataclass(frozen=True)
class PairedComparison:
    """`a - b` per pair: its mean, sample standard deviation and a two-sided confidence interval for the mean."""

    differences: tuple[float, ...]
    mean_difference: float
    sd: float  # sample standard deviation (n - 1) of the differences
    low: float
    high: float
    confidence: float  # e.g. 0.95
    n: int

    def to_dict(self) -> dict:
        return {
            "differences": list(self.differences),
            "mean_difference": self.mean_difference,
            "sd": self.sd,
            "ci_low": self.low,
            "ci_high": self.high,
            "confidence": self.confidence,
            "n": self.n,
        }

    def describe(self, metric: str = "the metric") -> str:
        percent = f"{self.confidence:.0%}"
        verdict = (
            "the interval excludes 0: A and B differ"
            if self.low > 0 or self.high < 0
            else "the interval includes 0: no difference shown"
        )
        return (
            f"A − B in {metric}: {self.mean_difference:+.4f} ({percent} CI {self.low:+.4f} to {self.high:+.4f}, "
            f"{self.n} pairs); {verdict}."
        )


def paired_comparison(a: Sequence[float], b: Sequence[float], confidence: float = 0.95) -> PairedComparison:
    """Compare paired measurements `a[i]`, `b[i]` (the same fold or seed i); needs two or more pairs."""
    from scipy.stats import t as student_t

    if len(a) != len(b):
        raise InvalidSweep(f"A paired comparison needs as many values on each side, got {len(a)} and {len(b)}.")
    if len(a) < 2:
        raise InvalidSweep("A paired comparison needs at least 2 folds or seeds per configuration.")
    if not 0 < confidence < 1:
        raise InvalidSweep(f"The confidence must lie between 0 and 1, got {confidence}.")
    differences = tuple(float(x) - float(y) for x, y in zip(a, b, strict=True))
    n = len(differences)
    mean = sum(differences) / n
    sd = math.sqrt(sum((d - mean) ** 2 for d in differences) / (n - 1))
    half = student_t.ppf(0.5 + confidence / 2, n - 1) * sd / math.sqrt(n)
    return PairedComparison(differences, mean, sd, mean - half, mean + half, confidence, n)


def compare_trials(result: SweepResult, first: int, second: int, confidence: float = 0.95) -> PairedComparison:
    """Trials `first` and `second` (Optuna numbers) of a sweep with folds or seeds, paired run by run."""
    found = {trial.number: trial for trial in result.trials}
    for number in (first, second):
        if number not in found or found[number].state != "complete":
            raise InvalidSweep(f"Trial {number} is not a complete trial of this sweep.")
    return paired_comparison(found[first].values, found[second].values, confidence)


def compare_configurations(
    dataset: Dataset,
    first: tuple,
    second: tuple,
    *,
    folds: int = 0,
    seeds: int = 0,
    metric: str = "val_accuracy",
    confidence: float = 0.95,
    executor: Executor | str | None = None,
    store: RunStore | None = None,
    progress: BatchCallback | None = None,
) -> PairedComparison:
    """Two (spec, config) configurations over the same k folds or the same seeds (config.seed + 0..K-1), each run got
    or trained through the store; `first - second` in the validation `metric`, paired fold by fold or seed by seed."""
    if metric not in METRICS:
        raise InvalidSweep(f"Compare by a validation metric ({', '.join(METRICS)}), got {str(metric)[:30]!r}.")
    if bool(folds) == bool(seeds):
        raise InvalidSweep("A paired comparison needs folds or seeds (one of them, 2 or more).")
    tasks = []
    for name, (spec, config) in (("A", first), ("B", second)):
        configs = fold_configs(config, folds) if folds else [config.replace(seed=config.seed + j) for j in range(seeds)]
        for j, run_config in enumerate(configs, 1):
            tasks.append(RunTask.for_request(dataset, spec, run_config, label=f"{name} run {j}/{len(configs)}"))
    relay = batch_relay(progress, [t.label for t in tasks]) if progress is not None else None
    outcomes = resolve(executor).run(tasks, relay, store=store)
    raise_for_failures(outcomes, "run")
    values = [float(o.run.meta["metrics"][metric]) for o in outcomes]
    half = len(values) // 2
    return paired_comparison(values[:half], values[half:], confidence)

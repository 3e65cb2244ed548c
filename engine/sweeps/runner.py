"""Run a sweep: ask Optuna for each trial's settings, get or train its runs through the store, tell the metric.

A sweep is identified by what determines its trials (`SweepRequest.sweep_id`): dataset (with its fingerprint), base
preset, space, sampler, sampler seed, trial count, epochs, folds or seeds, metric and pruning. Its Optuna study lives
in `cache/sweeps/<sweep_id>/study.db` (SQLite through Optuna's RDB storage) beside `request.json`.

Every trial's runs go through the executor and so through `get_or_train`: the same command again answers every
trial from the study and the run store and trains nothing. With the study file deleted, the seeded sampler is
asked again and, told the same stored metrics, asks the same settings, whose runs are in the store
(tests/engine_core/test_sweeps.py checks both).

Pruning (`prune=True`, local executor only): the first run of a trial reports its per-epoch validation metric to
Optuna's median pruner through the training's progress callback; a hopeless trial's training is cancelled (nothing
of it is stored) and the trial is recorded as pruned in the study, so a re-run does not train it again. Only with
the study file deleted is it trained again up to where it is pruned. The metric is a validation metric; the test
set never steers a sweep.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from engine import settings
from engine.architectures.spec import ModelSpec
from engine.crossval import fold_configs
from engine.datasets import Dataset
from engine.errors import DigitLabError, TrainingCancelled
from engine.executors import Executor, RunTask, raise_for_failures, resolve
from engine.executors.tasks import TaskEvent, TasksFailed
from engine.limits import sweep_limits
from engine.progress import BatchProgress
from engine.runs import preset_request
from engine.store import RunStore, is_run_id
from engine.store.disk import write_json_atomically
from engine.store.locking import RunLock, lock_owner_pid
from engine.sweeps.checks import validate_search_space, validate_sweep_size
from engine.sweeps.space import InvalidSweep, SearchSpace, apply_params, default_space
from engine.textfiles import load_json_file
from engine.training.config import TrainConfig
from engine.validation import validate_request

if TYPE_CHECKING:
    # By name: inside functions `optuna` is the module `_optuna()` returns, which hides the module's types.
    from optuna import Study, Trial
    from optuna.samplers import BaseSampler
    from optuna.trial import FrozenTrial

METRICS = {"val_accuracy": "maximize", "val_loss": "minimize"}  # validation metrics every stored run holds
SAMPLERS = ("grid", "random", "tpe")
SWEEP_ID_LENGTH = 20


@dataclass(frozen=True)
class SweepRequest:
    """Everything that determines a sweep's trials; its hash is the sweep id."""

    dataset: str
    preset: str
    space: SearchSpace
    sampler: str = "tpe"  # grid | random | tpe (Optuna's TPE)
    seed: int = 0  # the sampler's seed; each run keeps the preset's training seed (or seeds 0..K-1 with `seeds`)
    trials: int = 10  # grid: must equal the grid's size
    epochs: int = 0  # 0 = the preset's
    folds: int = 0  # k-fold per trial (mean ± sd over folds); 0 = one run with the validation split
    seeds: int = 0  # or K training seeds per trial; 0 = one run
    metric: str = "val_accuracy"  # a key of METRICS
    prune: bool = False  # median pruning from the first run's validation curve (local executor)
    limit_train: int = 0  # a stratified training subset, as in the sidebar; 0 = all

    @property
    def runs_per_trial(self) -> int:
        return self.folds or self.seeds or 1

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["space"] = self.space.to_dict()
        return out

    @classmethod
    def from_dict(cls, data: Any) -> SweepRequest:
        """Strict: a stored request is untrusted (another process wrote it, a person may have edited it)."""
        if not isinstance(data, dict):
            raise InvalidSweep("A sweep request must be a JSON object.")
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(data) - set(known))
        if unknown or not {"dataset", "preset", "space"} <= set(data):
            raise InvalidSweep("A sweep request has unknown or missing fields.")
        values = dict(data)
        values["space"] = SearchSpace.from_dict(data["space"])
        for name, kind in (("dataset", str), ("preset", str), ("sampler", str), ("metric", str)):
            if name in values and not isinstance(values[name], kind):
                raise InvalidSweep(f"A sweep request's {name} must be text.")
        for name in ("seed", "trials", "epochs", "folds", "seeds", "limit_train"):
            value = values.get(name, 0)
            if isinstance(value, bool) or not isinstance(value, int):
                raise InvalidSweep(f"A sweep request's {name} must be a whole number.")
        if not isinstance(values.get("prune", False), bool):
            raise InvalidSweep("A sweep request's prune must be true or false.")
        return cls(**values)

    def sweep_id(self, fingerprint: str) -> str:
        payload = json.dumps({"request": self.to_dict(), "fingerprint": fingerprint}, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:SWEEP_ID_LENGTH]

    def title(self) -> str:
        runs = f", {self.folds}-fold" if self.folds else f", {self.seeds} seeds" if self.seeds > 1 else ""
        return (
            f"{self.sampler} sweep of {self.preset} on {self.dataset}: {self.trials} trials over "
            f"{', '.join(self.space.names)}{runs}, by {self.metric}"
        )


@dataclass(frozen=True)
class SweepTrial:
    number: int  # 0-based, Optuna's trial number
    params: dict
    state: str  # complete | pruned | failed
    run_ids: tuple[str, ...] = ()  # one per fold or seed (complete trials)
    values: tuple[float, ...] = ()  # the metric of each run, read from the stored runs
    cached: bool = True  # nothing was trained for this trial in this call
    error: str = ""  # failed: why; pruned: at which epoch

    @property
    def value(self) -> float:
        return float(sum(self.values) / len(self.values)) if self.values else math.nan

    @property
    def sd(self) -> float:
        """Population standard deviation over the trial's runs, as the k-fold summary reports it."""
        if len(self.values) < 2:
            return 0.0 if self.values else math.nan
        mean = self.value
        return math.sqrt(sum((v - mean) ** 2 for v in self.values) / len(self.values))

    def to_dict(self, metric: str) -> dict[str, Any]:
        value = self.value
        return {
            "number": self.number,
            "run_id": self.run_ids[0] if self.run_ids else None,
            "run_ids": list(self.run_ids),
            "params": self.params,
            metric: None if math.isnan(value) else value,
            f"{metric}_sd": None if math.isnan(self.sd) else self.sd,
            "values": list(self.values),
            "cached": self.cached,
            "state": self.state,
            "error": self.error,
        }


@dataclass(frozen=True)
class SweepResult:
    """A sweep's trials as stored (`load_sweep`) or just run (`run_sweep`)."""

    sweep_id: str
    request: SweepRequest
    trials: tuple[SweepTrial, ...]
    notices: tuple[str, ...] = ()
    seconds: float = 0.0

    @property
    def metric(self) -> str:
        return self.request.metric

    @property
    def title(self) -> str:
        return self.request.title()

    @property
    def complete(self) -> tuple[SweepTrial, ...]:
        return tuple(t for t in self.trials if t.state == "complete")

    @property
    def best(self) -> SweepTrial | None:
        """The complete trial with the best mean metric (ties: the earlier trial)."""
        sign = 1 if METRICS[self.metric] == "maximize" else -1
        done = self.complete
        return max(done, key=lambda t: (sign * t.value, -t.number)) if done else None

    @property
    def best_run_id(self) -> str | None:
        """The best trial's best run (its only run without folds or seeds): what a report reproduces."""
        best = self.best
        if best is None:
            return None
        sign = 1 if METRICS[self.metric] == "maximize" else -1
        pairs = sorted(zip(best.values, best.run_ids, strict=True), key=lambda p: -sign * p[0])
        return pairs[0][1]

    def to_dict(self) -> dict[str, Any]:
        best = self.best
        return {
            "sweep_id": self.sweep_id,
            "title": self.title,
            "metric": self.metric,
            "direction": METRICS[self.metric],
            "request": self.request.to_dict(),
            "trials": [t.to_dict(self.metric) for t in self.trials],
            "best": None if best is None else {**best.to_dict(self.metric), "best_run_id": self.best_run_id},
            "notices": list(self.notices),
            "trained": sum(not t.cached for t in self.trials),
            "engine_seconds": round(self.seconds, 4),
        }


SweepProgress = Callable[[BatchProgress], "bool | None"]


def sweeps_dir() -> Path:
    return settings.cache_dir() / "sweeps"


def is_sweep_id(text: object) -> bool:
    return isinstance(text, str) and len(text) == SWEEP_ID_LENGTH and all(c in "0123456789abcdef" for c in text)


def sweep_dir(sweep_id: str) -> Path:
    if not is_sweep_id(sweep_id):
        raise InvalidSweep(f"{str(sweep_id)[:40]!r} is not a sweep id ({SWEEP_ID_LENGTH} hexadecimal characters).")
    return sweeps_dir() / sweep_id


@dataclass(frozen=True)
class SweepPlan:
    """A checked request with what its trials are built from."""

    request: SweepRequest
    dataset: Any  # engine.datasets.Dataset
    spec: Any  # the base ModelSpec
    config: Any  # the base TrainConfig
    sweep_id: str
    notices: tuple[str, ...] = field(default=())

    def trial_request(self, params: dict) -> tuple[ModelSpec, list[TrainConfig]]:
        """(spec, [config per run]) of a trial with these settings."""
        spec, config = apply_params(self.spec, self.config, params)
        if self.request.folds:
            return spec, fold_configs(config, self.request.folds)
        if self.request.seeds > 1:
            return spec, [config.replace(seed=config.seed + j) for j in range(self.request.seeds)]
        return spec, [config]


def plan_sweep(request: SweepRequest, dataset: Dataset) -> SweepPlan:
    """Check `request` against this dataset and the limits in force; raises `InvalidSweep` saying what is wrong."""
    if request.sampler not in SAMPLERS:
        raise InvalidSweep(f"Unknown sampler {request.sampler[:20]!r}; choose {', '.join(SAMPLERS)}.")
    if request.metric not in METRICS:
        raise InvalidSweep(
            f"A sweep is steered by a validation metric ({', '.join(METRICS)}), got {request.metric[:30]!r}; "
            "the test set never chooses a model."
        )
    if request.folds and request.seeds:
        raise InvalidSweep("Give folds or seeds per trial, not both.")
    if request.seeds < 0 or request.seeds == 1 or request.folds < 0:
        raise InvalidSweep("Seeds per trial must be 2 or more (or 0 for one run); folds 2 or more (or 0).")
    spec, config = preset_request(
        request.preset, dataset, epochs=request.epochs or None, limit_train=request.limit_train or None
    )
    validate_request(spec, config, n_train=len(dataset.x_train), num_classes=spec.num_classes)
    if not request.folds and not config.validation_split:
        raise InvalidSweep("This preset holds out no validation set; sweep with folds, since the metric is validation.")
    validate_search_space(request.space, spec, config)
    validate_sweep_size(request.trials, request.runs_per_trial)
    if request.folds:
        fold_configs(config, request.folds)  # checks k against the limits
    if request.sampler == "grid" and request.trials != request.space.grid_size():
        raise InvalidSweep(
            f"The grid has {request.space.grid_size()} points (the product of every setting's values); ask for "
            f"{request.space.grid_size()} trials, or change the values or grid points."
        )
    return SweepPlan(request, dataset, spec, config, request.sweep_id(dataset.fingerprint))


def default_request(dataset: Dataset, preset: str, **options: Any) -> SweepRequest:
    """A request over the preset's default space (learning rate, filters, dropout, batch size)."""
    spec, config = preset_request(preset, dataset)
    return SweepRequest(dataset=dataset.name, preset=preset, space=default_space(spec, config), **options)


def _optuna() -> ModuleType:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


def _distributions(space: SearchSpace) -> dict:
    from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution

    out: dict[str, BaseDistribution] = {}
    for p in space.params:
        if p.kind == "choice":
            out[p.name] = CategoricalDistribution(list(p.choices))
        elif p.kind == "int":
            out[p.name] = IntDistribution(int(p.low), int(p.high), log=p.log)
        else:
            out[p.name] = FloatDistribution(p.low, p.high, log=p.log)
    return out


def _sampler(request: SweepRequest) -> BaseSampler:
    optuna = _optuna()
    if request.sampler == "tpe":
        return optuna.samplers.TPESampler(seed=request.seed)
    # grid: the product is enqueued in order, so the sampler underneath is never consulted for it.
    return optuna.samplers.RandomSampler(seed=request.seed)


def open_optuna_study(plan: SweepPlan) -> Study:
    """The sweep's Optuna study in cache/sweeps/<id>/study.db, created on first use; request.json beside it."""
    optuna = _optuna()
    folder = sweep_dir(plan.sweep_id)
    folder.mkdir(parents=True, exist_ok=True)
    write_json_atomically(
        folder / "request.json", {"request": plan.request.to_dict(), "fingerprint": plan.dataset.fingerprint}
    )
    pruner = (
        optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=1)
        if plan.request.prune
        else optuna.pruners.NopPruner()
    )
    return optuna.create_study(
        study_name=plan.sweep_id,
        storage=f"sqlite:///{folder / 'study.db'}",
        sampler=_sampler(plan.request),
        pruner=pruner,
        direction=METRICS[plan.request.metric],
        load_if_exists=True,
    )


def planned_params(plan: SweepPlan) -> list[dict]:
    """Every trial's settings without training (grid and random only: TPE's depend on earlier results).

    Random is replayed on a throw-away in-memory study with the same seeded sampler: its asks do not depend on the
    told values, so these are exactly the settings `run_sweep` will ask (a job driver trains them first).
    """
    if plan.request.sampler == "grid":
        return plan.request.space.grid()
    if plan.request.sampler == "tpe":
        raise InvalidSweep(
            "TPE picks each trial from the earlier trials' results, so its trials cannot be planned ahead."
        )
    optuna = _optuna()
    optuna_study = optuna.create_study(sampler=_sampler(plan.request), direction=METRICS[plan.request.metric])
    distributions = _distributions(plan.request.space)
    return [optuna_study.ask(distributions).params for _ in range(plan.request.trials)]


def planned_tasks(plan: SweepPlan) -> list:
    """The runs of every planned trial as executor tasks (for a job driver), labelled by trial."""
    tasks = []
    total = plan.request.trials
    for number, params in enumerate(planned_params(plan), 1):
        spec, configs = plan.trial_request(params)
        for j, config in enumerate(configs, 1):
            label = _label(number, total, j, len(configs), params)
            tasks.append(RunTask.for_request(plan.dataset, spec, config, preset=plan.request.preset, label=label))
    return tasks


def _label(number: int, total: int, run: int, runs: int, params: dict) -> str:
    shown = ", ".join(f"{k} {v:.3g}" if isinstance(v, float) else f"{k} {v}" for k, v in params.items())
    part = f" · run {run}/{runs}" if runs > 1 else ""
    return f"trial {number}/{total}{part} · {shown}"


def run_sweep(
    request: SweepRequest,
    dataset: Dataset,
    progress: SweepProgress | None = None,
    executor: Executor | str | None = None,
    store: RunStore | None = None,
) -> SweepResult:
    """Run (or answer from the study and the store) every trial of `request`; see the module docstring. Raises
    `SweepBusy` if the same sweep is running in another process."""
    started = time.perf_counter()
    plan = plan_sweep(request, dataset)
    with _sweep_lock(plan.sweep_id):
        return _run_locked(plan, dataset, progress, executor, store, started)


class SweepBusy(DigitLabError):
    """The same sweep is running in another process."""


SWEEP_LOCK = "sweep.lock"


def _sweep_lock(sweep_id: str) -> RunLock:
    """Hold the sweep's lock for the whole run, or refuse at once. Two processes on one study would each take the
    other's trials in progress for ones a killed process left (and mark them failed), and together ask for more
    trials than the request; the run store already keeps them from training one run twice."""
    folder = sweep_dir(sweep_id)
    folder.mkdir(parents=True, exist_ok=True)
    lock = RunLock(folder / SWEEP_LOCK, sweep_id)
    if not lock.try_acquire():
        owner = lock_owner_pid(lock.path)
        holder = f"another process (pid {owner})" if owner else "another process"
        raise SweepBusy(
            f"Sweep {sweep_id} is already running in {holder}. Wait for it to finish, then run it again: its "
            "finished trials are answered from the study and the run store, so nothing is trained twice."
        )
    return lock


def _run_locked(
    plan: SweepPlan,
    dataset: Dataset,
    progress: SweepProgress | None,
    executor: Executor | str | None,
    store: RunStore | None,
    started: float,
) -> SweepResult:
    request = plan.request
    executor = resolve(executor)
    if request.prune and executor.name != "local":
        raise InvalidSweep("Pruning stops a training between epochs, which only the local executor can; drop --prune.")
    store = store or RunStore()
    optuna = _optuna()
    optuna_study = open_optuna_study(plan)
    # A trial left RUNNING by a killed process never finished: mark it failed so it is not mistaken for work.
    for stale in optuna_study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        optuna_study.tell(stale.number, state=optuna.trial.TrialState.FAIL)
    finished = _finished(optuna_study)
    total = request.trials
    runs = request.runs_per_trial
    trials: list[SweepTrial] = [_stored_trial(t, store, request.metric) for t in finished[:total]]
    if request.sampler == "grid" and not finished and not optuna_study.trials:
        for params in request.space.grid():
            optuna_study.enqueue_trial(params)
    distributions = _distributions(request.space)
    while len(trials) < total:
        trial = optuna_study.ask(distributions)
        number = len(trials) + 1
        params = dict(trial.params)
        pruned_at: list[int] = []
        try:
            spec, configs = plan.trial_request(params)
            labels = [_label(number, total, j, len(configs), params) for j in range(1, len(configs) + 1)]
            tasks = [
                RunTask.for_request(dataset, spec, c, preset=request.preset, label=label)
                for c, label in zip(configs, labels, strict=True)
            ]
        except DigitLabError as error:  # these settings make a model or config the validator refuses
            trials.append(_fail(optuna_study, trial, params, str(error)))
            _report(progress, number, total, runs, "failed", labels=(), error=str(error))
            continue

        def on_event(
            update: TaskEvent,
            trial: Trial = trial,
            number: int = number,
            labels: list[str] = labels,
            pruned_at: list[int] = pruned_at,
        ) -> bool | None:
            index = (number - 1) * runs + update.index + 1
            status = {"running": "start", "cached": "done"}.get(update.status, update.status)
            answer = None
            if progress is not None:
                answer = progress(
                    BatchProgress(
                        index=index,
                        total=total * runs,
                        status=status,
                        label=labels[update.index],
                        run_id=update.task.run_id,
                        cached=update.status == "cached",
                        event=update.event,
                        done=(number - 1) * runs + update.done,
                        error=update.error,
                        attempt=update.attempt,
                    )
                )
            event = update.event
            if request.prune and update.index == 0 and event is not None and event.stage == "epoch":
                value = event.metrics.get(request.metric)
                if value is not None and math.isfinite(value):
                    trial.report(float(value), step=event.epoch)
                    if trial.should_prune():
                        pruned_at.append(event.epoch)
                        return False
            return answer

        try:
            outcomes = executor.run(tasks, on_event, store=store)
            raise_for_failures(outcomes, "run")
        except TrainingCancelled:
            if not pruned_at:
                optuna_study.tell(trial, state=optuna.trial.TrialState.FAIL)
                raise
            note = f"pruned after epoch {pruned_at[0]}: its validation curve was below the median of earlier trials"
            trial.set_user_attr("note", note)
            optuna_study.tell(trial, state=optuna.trial.TrialState.PRUNED)
            trials.append(SweepTrial(trial.number, params, "pruned", cached=False, error=note))
            continue
        except (TasksFailed, DigitLabError) as error:
            trials.append(_fail(optuna_study, trial, params, str(error)))
            continue
        except BaseException:
            optuna_study.tell(trial, state=optuna.trial.TrialState.FAIL)
            raise
        values = tuple(float(o.run.meta["metrics"][request.metric]) for o in outcomes)
        run_ids = tuple(o.run.run_id for o in outcomes)
        trial.set_user_attr("run_ids", list(run_ids))
        optuna_study.tell(trial, sum(values) / len(values))
        cached = all(o.cached for o in outcomes)
        trials.append(SweepTrial(trial.number, params, "complete", run_ids, values, cached=cached))
    return SweepResult(plan.sweep_id, request, tuple(trials), plan.notices, time.perf_counter() - started)


def _report(
    progress: SweepProgress | None,
    number: int,
    total: int,
    runs: int,
    status: str,
    labels: Sequence[str],
    error: str = "",
) -> None:
    if progress is not None:
        progress(BatchProgress(index=(number - 1) * runs + 1, total=total * runs, status=status, error=error))


def _fail(optuna_study: Study, trial: Trial, params: dict, error: str) -> SweepTrial:
    optuna = _optuna()
    trial.set_user_attr("error", error[:500])
    optuna_study.tell(trial, state=optuna.trial.TrialState.FAIL)
    return SweepTrial(trial.number, params, "failed", cached=False, error=error)


def _finished(optuna_study: Study) -> list[FrozenTrial]:
    """Trials that ended as this code ends them (complete, pruned, or failed with a reason), in order."""
    optuna = _optuna()
    states = optuna.trial.TrialState
    return [
        t
        for t in optuna_study.get_trials(deepcopy=False)
        if t.state in (states.COMPLETE, states.PRUNED) or (t.state == states.FAIL and "error" in t.user_attrs)
    ]


def _stored_trial(frozen: FrozenTrial, store: RunStore, metric: str) -> SweepTrial:
    """A finished trial from the study, its metric read again from the stored runs (the study's value is the
    optimiser's copy; the runs are the record)."""
    optuna = _optuna()
    params = dict(frozen.params)
    if frozen.state == optuna.trial.TrialState.PRUNED:
        return SweepTrial(frozen.number, params, "pruned", error=str(frozen.user_attrs.get("note", "pruned")))
    if frozen.state != optuna.trial.TrialState.COMPLETE:
        return SweepTrial(frozen.number, params, "failed", error=str(frozen.user_attrs.get("error", "")))

    run_ids = frozen.user_attrs.get("run_ids")
    if not isinstance(run_ids, list) or not run_ids or not all(is_run_id(r) for r in run_ids):
        return SweepTrial(frozen.number, params, "failed", error="the study holds no valid run ids for this trial")
    values = []
    for run_id in run_ids:
        run = store.get(run_id)
        value = run.meta["metrics"].get(metric) if run is not None else None
        if not isinstance(value, int | float) or isinstance(value, bool):
            return SweepTrial(
                frozen.number, params, "failed", tuple(run_ids), error=f"run {run_id} is no longer stored"
            )
        values.append(float(value))
    return SweepTrial(frozen.number, params, "complete", tuple(run_ids), tuple(values), cached=True)


def load_sweep(sweep_id: str, store: RunStore | None = None) -> SweepResult:
    """A stored sweep as `SweepResult` (title, trials with run ids, params and metric, best run), never training.

    What the reports and the Sweep page read. The stored request is checked by the same parser as a --space file;
    a trial whose runs were evicted is listed as failed with the reason.
    """
    folder = sweep_dir(sweep_id)
    path = folder / "request.json"
    if not path.exists() or not (folder / "study.db").is_file():
        raise InvalidSweep(f"No stored sweep {sweep_id}.")
    try:
        data = load_json_file(path, max_bytes=sweep_limits().max_space_bytes * 2)
    except FileNotFoundError:
        raise InvalidSweep(f"No stored sweep {sweep_id}.") from None
    except OSError as problem:  # a FIFO, a link, a device or a huge file in its place
        reason = problem.strerror or problem
        raise InvalidSweep(f"Sweep {sweep_id}'s request file cannot be read: it {reason}.") from None
    except ValueError:
        raise InvalidSweep(f"Sweep {sweep_id}'s request file is not JSON.") from None
    if not isinstance(data, dict) or not isinstance(data.get("fingerprint"), str):
        raise InvalidSweep(f"Sweep {sweep_id}'s request file is malformed.")
    request = SweepRequest.from_dict(data.get("request"))
    if request.sweep_id(data["fingerprint"]) != sweep_id:
        raise InvalidSweep(f"Sweep {sweep_id}'s request file describes another sweep (edited or misplaced).")
    optuna = _optuna()
    optuna_study = optuna.load_study(study_name=sweep_id, storage=f"sqlite:///{folder / 'study.db'}")
    store = store or RunStore()
    trials = tuple(_stored_trial(t, store, request.metric) for t in _finished(optuna_study)[: request.trials])
    notices: tuple[str, ...] = ()
    if len(trials) < request.trials:
        notices = (f"{len(trials)} of {request.trials} trials are finished; run the sweep again to finish it.",)
    return SweepResult(sweep_id, request, trials, notices)


@dataclass(frozen=True)
class Importance:
    values: dict  # setting -> share of the metric's variance it explains (fANOVA), summing to 1
    note: str = ""  # why there are none, when there are none


def parameter_importance(result: SweepResult) -> Importance:
    """Optuna's parameter importance (fANOVA, seeded) over the sweep's complete trials; needs two or more."""
    optuna = _optuna()
    if len(result.complete) < 2:
        return Importance(
            {}, f"Parameter importance needs at least 2 complete trials; this sweep has {len(result.complete)}."
        )
    optuna_study = optuna.load_study(
        study_name=result.sweep_id, storage=f"sqlite:///{sweep_dir(result.sweep_id) / 'study.db'}"
    )
    try:
        found = optuna.importance.get_param_importances(
            optuna_study, evaluator=optuna.importance.FanovaImportanceEvaluator(seed=0)
        )
    except (RuntimeError, ValueError) as error:
        return Importance({}, f"Optuna could not compute parameter importance: {error}")
    return Importance({k: float(v) for k, v in found.items()})

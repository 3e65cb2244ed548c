"""Sweeps: cached trials (a re-run trains nothing, with the study file deleted too), the best trial checked against
the stored runs, the grid's exact product, pruning recorded, refused spaces, the paired interval against SciPy, and
the CLI's JSON."""

from __future__ import annotations

import itertools
import json
import math
import shutil

import numpy as np
import pytest
from scipy import stats

from engine import telemetry
from engine.cli import main
from engine.datasets import load_dataset
from engine.store import RunStore
from engine.sweeps import (
    InvalidSweep,
    Param,
    SearchSpace,
    SweepBusy,
    SweepRequest,
    apply_params,
    compare_configurations,
    compare_trials,
    load_sweep,
    paired_comparison,
    parameter_importance,
    plan_sweep,
    run_sweep,
)
from engine.sweeps.runner import sweep_dir

PRESET = "digitlab-small8"
SMALL = {"epochs": 1, "limit_train": 300}  # a few seconds per run on 2 cores


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


def trainings() -> int:
    return telemetry.counters().get("trainings", 0)


def space(*params: Param) -> SearchSpace:
    return SearchSpace(params)


LR = Param("learning_rate", "float", low=1e-3, high=1e-2, log=True, grid_points=2)
BATCH = Param("batch_size", "choice", choices=(32, 64))


def test_a_rerun_trains_nothing_even_with_the_study_deleted(digits):
    request = SweepRequest("digits", PRESET, space(LR, BATCH), sampler="tpe", seed=7, trials=3, **SMALL)
    first = run_sweep(request, digits)
    assert len(first.trials) == 3 and all(t.state == "complete" for t in first.trials)
    before = trainings()
    again = run_sweep(request, digits)
    assert trainings() == before  # nothing trained
    assert all(t.cached for t in again.trials)
    assert [t.run_ids for t in again.trials] == [t.run_ids for t in first.trials]
    shutil.rmtree(sweep_dir(first.sweep_id))  # the study is gone: the seeded sampler asks the same settings again
    replayed = run_sweep(request, digits)
    assert trainings() == before
    assert [t.params for t in replayed.trials] == [t.params for t in first.trials]
    assert load_sweep(first.sweep_id).best_run_id == first.best_run_id


def test_the_same_sweep_running_elsewhere_is_refused_at_once_and_runs_once_it_ends(digits):
    """A second process on one study would mark the first one's running trials failed; the lock refuses it before
    the study is touched (a lock on the same file in this process excludes like one in another process)."""
    from engine.store.locking import RunLock
    from engine.sweeps.runner import SWEEP_LOCK

    request = SweepRequest("digits", PRESET, space(LR), sampler="random", seed=11, trials=1, **SMALL)
    folder = sweep_dir(plan_sweep(request, digits).sweep_id)
    folder.mkdir(parents=True, exist_ok=True)
    before = trainings()
    with RunLock(folder / SWEEP_LOCK, "other") as held:
        assert held.try_acquire()
        with pytest.raises(SweepBusy, match="already running in another process \\(pid [0-9]+\\)"):
            run_sweep(request, digits)
        assert trainings() == before and not (folder / "study.db").exists()
    result = run_sweep(request, digits)
    assert [t.state for t in result.trials] == ["complete"]


def test_best_is_the_best_trial_by_the_stated_metric_read_from_the_stored_runs(digits):
    store = RunStore()
    for metric, pick in (("val_accuracy", max), ("val_loss", min)):
        request = SweepRequest(
            "digits", PRESET, space(LR), sampler="random", seed=3, trials=3, seeds=2, metric=metric, **SMALL
        )
        result = run_sweep(request, digits)
        # Independently: each trial's mean over its runs' own stored meta, then the best by hand.
        means = {
            t.number: float(np.mean([store.get(r).meta["metrics"][metric] for r in t.run_ids])) for t in result.trials
        }
        assert result.best.number == pick(means, key=means.get)
        assert math.isclose(result.best.value, means[result.best.number])
        best_runs = {r: store.get(r).meta["metrics"][metric] for r in result.best.run_ids}
        assert result.best_run_id == pick(best_runs, key=best_runs.get)
        assert len({store.get(r).meta["config"]["seed"] for r in result.best.run_ids}) == 2
    # Two of those configurations compared seed by seed: their stored runs, nothing trained, differences by hand.
    plan = plan_sweep(request, digits)
    one, two = result.trials[0], result.trials[1]
    before = trainings()
    first = apply_params(plan.spec, plan.config, one.params)
    second = apply_params(plan.spec, plan.config, two.params)
    paired = compare_configurations(digits, first, second, seeds=2, metric="val_loss")
    assert trainings() == before
    by_hand = [
        store.get(a).meta["metrics"]["val_loss"] - store.get(b).meta["metrics"]["val_loss"]
        for a, b in zip(one.run_ids, two.run_ids, strict=True)
    ]
    assert paired.differences == pytest.approx(by_hand)
    assert paired.to_dict() == compare_trials(result, one.number, two.number).to_dict()


def test_the_grid_covers_exactly_the_product(digits):
    grid = space(Param("learning_rate", "choice", choices=(0.002, 0.005)), BATCH)
    request = SweepRequest("digits", PRESET, grid, sampler="grid", trials=4, **SMALL)
    result = run_sweep(request, digits)
    asked = [tuple(sorted(t.params.items())) for t in result.trials]
    product = [
        tuple(sorted(zip(("learning_rate", "batch_size"), combo, strict=True)))
        for combo in itertools.product((0.002, 0.005), (32, 64))
    ]
    assert sorted(asked) == sorted(product) and len(set(asked)) == 4
    store = RunStore()
    used = {
        (store.get(t.run_ids[0]).meta["spec"]["learning_rate"], store.get(t.run_ids[0]).meta["config"]["batch_size"])
        for t in result.trials
    }
    assert used == {(0.002, 32), (0.002, 64), (0.005, 32), (0.005, 64)}  # the runs trained what the trials say
    with pytest.raises(InvalidSweep, match="grid has 4 points"):
        run_sweep(SweepRequest("digits", PRESET, grid, sampler="grid", trials=3, **SMALL), digits)


def test_a_hopeless_trial_is_pruned_recorded_and_not_retrained(digits):
    # Two sound learning rates, then one so small that its first epoch is far below the median: pruned.
    rates = Param("learning_rate", "choice", choices=(0.005, 0.01, 1e-6))
    request = SweepRequest(
        "digits", PRESET, space(rates), sampler="grid", trials=3, prune=True, epochs=3, limit_train=300
    )
    result = run_sweep(request, digits)
    states = {t.params["learning_rate"]: t.state for t in result.trials}
    assert states == {0.005: "complete", 0.01: "complete", 1e-6: "pruned"}
    before = trainings()
    again = run_sweep(request, digits)
    assert trainings() == before and [t.state for t in again.trials] == [t.state for t in result.trials]


def test_parameter_importance_needs_two_complete_trials(digits):
    request = SweepRequest("digits", PRESET, space(LR, BATCH), sampler="random", seed=1, trials=1, **SMALL)
    result = run_sweep(request, digits)
    assert "at least 2 complete trials" in parameter_importance(result).note


def write(tmp_path, data) -> str:
    path = tmp_path / "space.json"
    if data == "HUGE":
        data = "x" * 70_000  # over the 64 kB cap for a space file
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return str(path)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"params": [{"name": "test_accuracy", "kind": "float", "low": 0, "high": 1}]}, "not a setting a sweep"),
        ({"params": [{"name": "learning_rate", "kind": "float", "low": 0, "high": 1, "log": True}]}, "log range"),
        ({"params": [{"name": "learning_rate", "kind": "float", "low": 0.001, "high": 1e6}]}, "refused"),
        ({"params": [{"name": "conv1.filters", "kind": "int", "low": 0, "high": 8}]}, "filters must be"),
        ({"params": [{"name": "batch_size", "kind": "choice", "choices": [32, True]}]}, "refused"),
        ('{"params": [{"name": "dropout", "kind": "float", "low": NaN, "high": 0.5}]}', "finite number"),
        ({"params": [{"name": "dropout", "kind": "float", "low": 0, "high": 0.5, "eval": "x"}]}, "unknown field"),
        ({"params": [], "extra": 1}, "nothing else"),
        ("HUGE", "byte limit"),
        ("{not json", "not valid JSON"),
    ],
)
def test_a_tampered_space_file_is_refused_before_anything_trains(tmp_path, capsys, data, message):
    before = trainings()
    code = main(["sweep", "--dataset", "digits", "--space", write(tmp_path, data), "--trials", "2", "--json"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: ") and message in err and err.count("\n") == 1
    assert trainings() == before


def test_the_trial_cap_holds_and_is_lower_when_hosted(monkeypatch, capsys):
    assert main(["sweep", "--dataset", "digits", "--trials", "101", "--json"]) == 2
    assert "1 to 100 trials" in capsys.readouterr().err
    monkeypatch.setenv("DIGIT_LAB_HOSTED", "1")
    assert main(["sweep", "--dataset", "digits", "--trials", "8", "--folds", "5", "--json"]) == 2
    assert "above this server's limit of 24" in capsys.readouterr().err
    assert main(["sweep", "--dataset", "digits", "--trials", "2", "--metric", "test_accuracy", "--json"]) == 2
    assert "never chooses" in capsys.readouterr().err


def test_the_paired_interval_matches_scipy():
    rng = np.random.default_rng(0)
    a = rng.normal(0.95, 0.01, 5)
    b = a - rng.normal(0.01, 0.005, 5)
    for confidence in (0.9, 0.95, 0.99):
        ours = paired_comparison(a, b, confidence)
        oracle = stats.ttest_rel(a, b).confidence_interval(confidence)
        assert math.isclose(ours.low, oracle.low, rel_tol=1e-9) and math.isclose(ours.high, oracle.high, rel_tol=1e-9)
        assert math.isclose(ours.mean_difference, float(np.mean(a - b)))
    with pytest.raises(InvalidSweep):
        paired_comparison([0.9], [0.8])


def test_cli_json_shape(capsys, tmp_path):
    path = write(tmp_path, {"params": [LR.to_dict()]})
    args = ["sweep", "--dataset", "digits", "--preset", PRESET, "--space", path, "--sampler", "grid", "--trials", "2"]
    args += ["--epochs", "1", "--limit-train", "300", "--seeds", "2", "--compare-trials", "0", "1", "--json"]
    assert main(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["metric"] == "val_accuracy" and out["sweep_id"] and len(out["trials"]) == 2
    for trial in out["trials"]:
        assert set(trial) >= {"run_id", "run_ids", "params", "val_accuracy", "cached", "state"}
        assert trial["state"] == "complete" and len(trial["run_ids"]) == 2 and trial["cached"] is False
    assert out["best"]["number"] in (0, 1) and out["best"]["best_run_id"] in out["best"]["run_ids"]
    assert out["paired"]["n"] == 2
    assert main(args) == 0
    again = json.loads(capsys.readouterr().out)
    assert all(trial["cached"] for trial in again["trials"]) and again["trained"] == 0
    # The sweep's report: every stored run of it, and the best trial's best run is the one reproduced.
    report = tmp_path / "sweep.html"
    assert main(["report", "--sweep", out["sweep_id"], "--format", "html", "--output", str(report), "--json"]) == 0
    written = json.loads(capsys.readouterr().out)
    assert written["kind"] == "sweep" and written["best_run_id"] == out["best"]["best_run_id"]
    assert sorted(written["run_ids"]) == sorted(r for trial in out["trials"] for r in trial["run_ids"])


def test_planned_tasks_are_exactly_the_runs_the_sweep_asks_for(digits):
    # The dashboard sends a grid or random sweep's planned runs to a job driver, then reads them through run_sweep:
    # that read must train nothing.
    from engine.executors import get_executor
    from engine.sweeps import plan_sweep, planned_tasks

    request = SweepRequest("digits", PRESET, space(LR, BATCH), sampler="random", seed=5, trials=2, **SMALL)
    tasks = planned_tasks(plan_sweep(request, digits))
    get_executor("local").run(tasks)
    before = trainings()
    result = run_sweep(request, digits)
    assert trainings() == before
    assert [r for t in result.trials for r in t.run_ids] == [task.run_id for task in tasks]
    with pytest.raises(InvalidSweep, match="cannot be planned"):
        planned_tasks(plan_sweep(SweepRequest("digits", PRESET, space(LR), sampler="tpe", trials=2, **SMALL), digits))


def test_a_trial_can_turn_flips_on_and_a_whole_number_for_a_float_setting_becomes_a_float():
    from engine.architectures import PRESETS

    base = PRESETS[PRESET]
    _, config = apply_params(base.spec, base.config, {"augment_flip": True, "augment_shift": 0, "augment_zoom": 0})
    assert config.augment_flip is True
    assert type(config.augment_shift) is float and type(config.augment_zoom) is float

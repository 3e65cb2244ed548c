"""A sweep on a local Ray instance (slow): the same trials and run ids as the local executor, metrics equal."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from engine.datasets import load_dataset
from engine.executors import get_executor
from engine.store import RunStore
from engine.sweeps import Param, SearchSpace, SweepRequest, run_sweep

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_a_ray_sweep_trains_the_same_trials_as_a_local_one(tmp_path, monkeypatch):
    ray = pytest.importorskip("ray", reason="Ray is optional (pip install -r requirements-ray.txt)")
    path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        runtime_env={"env_vars": {"PYTHONPATH": path, "TF_CPP_MIN_LOG_LEVEL": "2"}},
    )
    try:
        digits = load_dataset("digits")
        space = SearchSpace((Param("batch_size", "choice", choices=(32, 64)),))
        request = SweepRequest("digits", "digitlab-small8", space, sampler="grid", trials=2, epochs=1, limit_train=200)
        monkeypatch.setenv("DIGIT_LAB_CACHE", str(tmp_path / "ray"))
        on_ray = run_sweep(request, digits, executor=get_executor("ray"), store=RunStore())
        ray_metrics = {t.run_ids[0]: t.value for t in on_ray.trials}
        monkeypatch.setenv("DIGIT_LAB_CACHE", str(tmp_path / "local"))
        local = run_sweep(request, digits, store=RunStore())
    finally:
        ray.shutdown()
    assert [t.params for t in on_ray.trials] == [t.params for t in local.trials]
    assert [t.run_ids for t in on_ray.trials] == [t.run_ids for t in local.trials]
    for trial in local.trials:
        assert ray_metrics[trial.run_ids[0]] == pytest.approx(trial.value, abs=1e-6)

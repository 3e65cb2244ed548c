"""Hosted-mode eviction: least recently used by last open (not by creation), logged, one store walk per pass."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import numpy as np

from engine.runs import evict_over_budget
from engine.store import RunStore, run_key
from tests.store.run_meta import run_meta


def _run(store: RunStore, n: int) -> str:
    key = run_key({"eviction": n})

    def build(folder: Path) -> dict:
        np.save(folder / "test_probabilities.npy", np.zeros(100_000, dtype=np.float32))  # 0.4 MB
        return run_meta()

    store.create(key, build)
    return key


def test_the_least_recently_opened_runs_go_first_logged_with_one_walk(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("DIGIT_LAB_HOSTED", "1")
    monkeypatch.setenv("DIGIT_LAB_MAX_CACHE_MB", "1")
    store = RunStore(tmp_path / "runs")
    keys = [_run(store, n) for n in range(4)]  # created in this order: 0 oldest
    now = time.time()
    # Last opened: run 0 a minute ago, run 3 a day ago, run 1 two days ago, run 2 just now.
    for key, age in zip(keys, (60, 2 * 86_400, 5, 86_400), strict=True):
        os.utime(store.root / key, (now - age, now - age))
    walks = []
    original = RunStore.usage
    monkeypatch.setattr(RunStore, "usage", lambda self: walks.append(1) or original(self))
    monkeypatch.setattr(RunStore, "size_bytes", lambda self: (_ for _ in ()).throw(AssertionError("extra walk")))
    with caplog.at_level(logging.INFO, logger="digitlab.runs"):
        evicted = evict_over_budget(store)
    # 4 x 0.4 MB over a 1 MiB budget: two go, the two least recently opened (1, then 3), not the oldest created (0).
    assert evicted == [keys[1], keys[3]]
    assert walks == [1]
    assert sorted(os.listdir(store.root)) == sorted([".locks", ".tmp", ".trash", keys[0], keys[2]])
    logged = [r.getMessage() for r in caplog.records if r.name == "digitlab.runs"]
    assert len(logged) == 2 and logged[0].startswith(f"evicted run {keys[1]} (0.4 MB, last used ")


def test_opening_a_run_protects_it_from_the_next_eviction(tmp_path, monkeypatch):
    monkeypatch.setenv("DIGIT_LAB_HOSTED", "1")
    monkeypatch.setenv("DIGIT_LAB_MAX_CACHE_MB", "1")
    store = RunStore(tmp_path / "runs")
    keys = [_run(store, n) for n in range(3)]
    for index, key in enumerate(keys):
        old = time.time() - 86_400 * (index + 1)
        os.utime(store.root / key, (old, old))
    assert store.get(keys[2]) is not None  # the oldest-used run is opened now
    assert evict_over_budget(store, keep=set()) == [keys[1]]


def test_a_runs_probe_records_count_toward_the_budget_and_go_with_it(tmp_path, monkeypatch):
    """Two 0.4 MB runs fit a 1 MiB budget; 0.5 MB of probe records beside the older-used one do not."""
    from engine.store.run_store import PROBES_DIR

    monkeypatch.setenv("DIGIT_LAB_HOSTED", "1")
    monkeypatch.setenv("DIGIT_LAB_MAX_CACHE_MB", "1")
    store = RunStore(tmp_path / "runs")
    older, newer = _run(store, 0), _run(store, 1)
    now = time.time()
    os.utime(store.root / older, (now - 86_400, now - 86_400))
    os.utime(store.root / newer, (now - 3_600, now - 3_600))
    assert evict_over_budget(store) == []
    records = store.root / PROBES_DIR / older
    records.mkdir(parents=True)
    (records / "feature_map-abc.json").write_bytes(b"x" * 500_000)
    sizes = {entry.run_id: entry.size_bytes for entry in store.usage()}
    run_bytes = sum(f.stat().st_size for f in (store.root / older).rglob("*") if f.is_file())
    assert sizes[older] == run_bytes + 500_000
    assert evict_over_budget(store) == [older]
    assert not records.exists() and (store.root / newer).exists()

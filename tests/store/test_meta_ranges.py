"""Issue 23 (found by the fault probe): a stored run whose meta holds a score or a count no trainer writes (an
accuracy of -1 or 1.5, a negative parameter count), under a manifest made to match, is flagged like any damaged run
and never served; before, only the type was checked and the run was listed with an accuracy of -100 %."""

from __future__ import annotations

import pytest

from engine.errors import InvalidRunMeta
from engine.store.meta_checks import validate_run_meta
from tests.store.run_meta import run_meta


def with_change(path: str, value) -> dict:
    meta = run_meta(run_id="r", created="2026-01-01T00:00:00")
    target = meta
    *parents, last = path.split(".")
    for part in parents:
        target = target[part]
    target[last] = value
    return meta


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("metrics.test_accuracy", -1),
        ("metrics.test_accuracy", 1.5),
        ("metrics.macro_f1", -0.01),
        ("parameters.total", -5),
        ("train_seconds", -1.0),
        ("epochs_run", -1),
    ],
)
def test_a_value_outside_what_a_trainer_writes_is_refused_naming_it(path, value):
    with pytest.raises(InvalidRunMeta, match=rf"{path} = {value}, outside"):
        validate_run_meta(with_change(path, value))


@pytest.mark.parametrize(("path", "value"), [("metrics.test_accuracy", 0), ("metrics.test_accuracy", 1.0)])
def test_the_ends_of_the_ranges_are_accepted(path, value):
    validate_run_meta(with_change(path, value))


def test_a_listed_run_with_an_impossible_accuracy_is_flagged_and_not_served(tmp_path, monkeypatch):
    import json

    from engine.store import RunStore, run_key
    from tests.probe.fixtures import remanifest

    monkeypatch.setenv("DIGIT_LAB_CACHE", str(tmp_path))
    store = RunStore()
    good, bad = run_key({"range": 1}), run_key({"range": 2})
    for key in (good, bad):
        store.create(key, lambda folder: run_meta())
    meta_path = store.root / bad / "meta.json"
    meta = json.loads(meta_path.read_text())
    meta["metrics"]["test_accuracy"] = -1
    meta_path.write_text(json.dumps(meta))
    remanifest(store.root / bad)
    assert [run.run_id for run in RunStore().scan().runs] == [good]
    assert RunStore().get(bad) is None

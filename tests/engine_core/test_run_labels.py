"""Run labels (`engine.runs.run_label`, `labels_of`): every list names a run by what tells it apart.

The runs are hand-built metas, so each expected label is written out from what the meta holds: a fold's number,
a sweep trial's changed settings, a custom model's layers, and the short id only when nothing else differs.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from engine.architectures.presets import PRESETS
from engine.runs import labels_of, run_label
from engine.store import StoredRun

PRESET = "digitlab-small8-v2"  # 8x8 digits; recipe: 8 epochs, batch 64, validation 0.1, learning rate 0.005


def preset_run(run_id: str, preset: str = PRESET, spec_changes=None, dataset="digits", **config_changes) -> StoredRun:
    """A run of `preset` on 8x8 data as its meta would be stored, with some settings changed."""
    found = PRESETS[preset] if preset in PRESETS else PRESETS[PRESET]
    spec = json.loads(json.dumps(found.spec_for((8, 8, 1), 10).to_dict()))  # as stored: tuples become lists
    spec.update(spec_changes or {})
    meta = {
        "preset": preset,
        "dataset": {"name": dataset, "image_shape": [8, 8, 1]},
        "spec": spec,
        "config": {**found.config.to_dict(), **config_changes},
    }
    return StoredRun(run_id, Path("/nonexistent") / run_id, meta)


def rid(n: int) -> str:
    return hashlib.sha256(str(n).encode()).hexdigest()[:20]  # shaped like a store key


def test_folds_say_which_fold_and_not_that_their_split_was_zeroed():
    folds = [preset_run(rid(i), cv_folds=3, cv_fold=i, validation_split=0.0) for i in range(3)]
    assert list(labels_of(folds).values()) == [
        f"{PRESET} · fold 1/3 · digits",
        f"{PRESET} · fold 2/3 · digits",
        f"{PRESET} · fold 3/3 · digits",
    ]


def test_sweep_trials_say_what_they_changed_from_the_preset():
    trial_a = preset_run(rid(1), spec_changes={"learning_rate": 0.002}, batch_size=32)
    trial_b = preset_run(rid(2), spec_changes={"learning_rate": 0.012})
    assert run_label(trial_a) == f"{PRESET} + batch 32, learning rate 0.002 · digits"
    assert run_label(trial_b) == f"{PRESET} + learning rate 0.012 · digits"
    widened = preset_run(rid(3))
    widened.meta["spec"]["conv_blocks"][0]["filters"] = 48  # what a sweep's "filters" does to the first block
    assert run_label(widened) == f"{PRESET} + conv1.filters 48 · digits"


def test_custom_runs_show_their_layers_and_then_what_differs():
    small = preset_run(rid(1), preset="")
    small.meta["spec"]["conv_blocks"] = [{"filters": 8, "kernel_size": 3, "pool": "max"}]
    small.meta["spec"]["dense_layers"] = [{"units": 16}]
    seeded = [preset_run(rid(i), preset="", seed=seed) for i, seed in ((2, 0), (3, 7))]
    labels = labels_of([small, *seeded])
    assert labels[rid(1)] == "custom C8k3-P · D16 → 10 · digits"
    layers = "custom C32k3-P · C64k3-P · D128 → 10 · digits"
    assert (labels[rid(2)], labels[rid(3)]) == (f"{layers} · seed 0", f"{layers} · seed 7")


def test_runs_alike_in_every_setting_get_their_short_id_and_every_label_is_unique():
    twins = [preset_run(rid(1)), preset_run(rid(2))]  # e.g. trained under other library versions
    assert labels_of(twins) == {
        rid(1): f"{PRESET} · digits · run {rid(1)[:6]}",
        rid(2): f"{PRESET} · digits · run {rid(2)[:6]}",
    }
    mixed = [
        *twins,
        preset_run(rid(3), seed=1),
        preset_run(rid(4), dataset="mnist"),
        *(preset_run(rid(10 + i), cv_folds=2, cv_fold=i, validation_split=0.0) for i in range(2)),
        preset_run(rid(20), preset=""),
        preset_run(rid(21), preset=""),
    ]
    labels = labels_of(mixed)
    assert len(set(labels.values())) == len(mixed)
    assert labels[rid(4)] == f"{PRESET} · mnist"  # alone in its name: nothing added


def test_a_preset_this_version_lacks_and_damaged_meta_still_get_a_label():
    gone = preset_run(rid(1), preset="seed999-retired")
    assert run_label(gone) == "seed999-retired · digits"
    odd = preset_run(rid(2), cv_folds="3", cv_fold=None)  # stored meta is untrusted: never a crash
    odd.meta["dataset"].pop("image_shape")
    assert run_label(odd).endswith("· digits")


def test_short_ids_grow_until_they_differ():
    shared = "abcdef0123"
    twins = [preset_run(shared + "4" * 10), preset_run(shared + "5" * 10)]
    assert sorted(labels_of(twins).values()) == [
        f"{PRESET} · digits · run {shared}4",
        f"{PRESET} · digits · run {shared}5",
    ]


def test_only_runs_on_the_same_test_images_and_classes_are_comparable():
    from engine.compare import comparable_runs

    run = preset_run(rid(1))
    run.meta["class_names"] = [str(d) for d in range(10)]

    def other(n: int, **dataset) -> StoredRun:
        found = preset_run(rid(n))
        found.meta["dataset"].update(dataset)
        found.meta["class_names"] = [str(d) for d in range(10)]
        return found

    same = other(2)
    fashion = other(3, name="fashion-mnist", image_shape=[28, 28, 1])
    copy = other(4, fingerprint="elsewhere")
    merged = other(5)
    merged.meta["class_names"] = ["a", "b", "c", "d"]
    fits, refused = comparable_runs(run, [run, same, fashion, copy, merged])
    assert [r.run_id for r in fits] == [rid(2)]  # never the run itself
    assert [(r.run_id, reason) for r, reason in refused] == [
        (rid(3), "trained on fashion-mnist, not digits"),
        (rid(4), "trained on another copy of digits (other files)"),
        (rid(5), "it classifies 4 other classes"),
    ]

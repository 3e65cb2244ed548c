"""`python -m engine` as a user runs it: JSON fields and types, cache hits, one-line errors."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def cli(*args, env_extra=None):
    env = {**os.environ, **(env_extra or {})}
    done = subprocess.run(
        [sys.executable, "-m", "engine", *args], cwd=ROOT, capture_output=True, text=True, timeout=300, env=env
    )
    return done.returncode, done.stdout, done.stderr


def test_presets_json_lists_parameter_counts():
    code, out, _ = cli("presets", "--json")
    assert code == 0
    rows = {row["name"]: row for row in json.loads(out)}
    assert rows["seed001-cnn3"]["total_parameters"] == 93_322
    assert rows["seed002-uci8x8"]["input_shape"] == [8, 8, 1]
    assert rows["seed004-4class"]["trainable_parameters"] == 4_368
    assert rows["seed003-m1"]["source"].startswith("003_")


def test_datasets_json_says_what_loads_here(tmp_path):
    code, out, _ = cli("datasets", "--json", env_extra={"HOME": str(tmp_path), "DIGIT_LAB_MNIST_DIR": ""})
    assert code == 0
    rows = {row["name"]: row for row in json.loads(out)}
    assert rows["digits"]["available"] is True
    assert rows["mnist"]["available"] is False and rows["mnist"]["how_to_get"]


def _check_train_flops(first: dict, second: dict, limit_train: int) -> None:
    """`train_flops`: every epoch's training images (forward and backward), Adam's steps and the validation pass;
    the per-image counts are checked against TensorFlow's profiler in tests/architectures/test_flops.py."""
    import math

    from engine.architectures.flops import flop_count
    from engine.architectures.presets import get_preset
    from engine.store import RunStore

    meta = RunStore().get(first["run_id"]).meta
    n_train, n_val = meta["dataset"]["n_train"], meta["dataset"]["n_validation"]
    assert n_train + n_val == limit_train and n_val > 0
    count = flop_count(get_preset("digitlab-small8").spec.for_data((8, 8, 1), 10))
    batch, params = meta["config"]["batch_size"], meta["parameters"]["trainable"]
    per_epoch = (
        n_train * count.training_per_image + math.ceil(n_train / batch) * 12 * params + n_val * count.forward_per_image
    )
    assert first["train_flops"] == second["train_flops"] == first["epochs"] * per_epoch


@pytest.mark.slow  # trains in subprocesses
def test_train_twice_second_answer_comes_from_the_store():
    args = (
        "train",
        "--dataset",
        "digits",
        "--preset",
        "digitlab-small8",
        "--epochs",
        "1",
        "--limit-train",
        "200",
        "--json",
    )
    code, out, err = cli(*args)
    assert code == 0, err
    first = json.loads(out)
    for field, kind in (
        ("run_id", str),
        ("cached", bool),
        ("test_accuracy", float),
        ("macro_f1", float),
        ("train_seconds", float),
    ):
        assert isinstance(first[field], kind), field
    assert first["cached"] is False and 0 <= first["test_accuracy"] <= 1
    code, out, _ = cli(*args)
    second = json.loads(out)
    assert second["cached"] is True and second["run_id"] == first["run_id"]
    assert second["engine_seconds"] < 1.0
    _check_train_flops(first, second, limit_train=200)

    code, out, _ = cli("runs", "--json")
    assert [row["run_id"] for row in json.loads(out)] == [first["run_id"]]
    code, out, _ = cli("compare", first["run_id"], "--json")
    assert json.loads(out)[0]["parameters"] == 13_706
    code, out, _ = cli("runs", "delete", first["run_id"])
    assert code == 0
    code, out, _ = cli("runs", "--json")
    assert json.loads(out) == []


@pytest.mark.slow  # trains two folds in a subprocess
def test_cv_json_has_folds_mean_and_std():
    code, out, err = cli(
        "cv",
        "--dataset",
        "digits",
        "--preset",
        "digitlab-small8",
        "--epochs",
        "1",
        "--limit-train",
        "200",
        "--folds",
        "2",
        "--json",
    )
    assert code == 0, err
    summary = json.loads(out)
    assert [fold["fold"] for fold in summary["folds"]] == [1, 2]
    assert isinstance(summary["mean_val_accuracy"], float) and isinstance(summary["std_val_accuracy"], float)


@pytest.mark.parametrize(
    "args,fragment",
    [
        (("train", "--preset", "nope"), "Unknown preset 'nope'"),
        (("train", "--preset", "seed001-cnn3", "--epochs", "1"), "does not fit 8x8"),
        (("train", "--epochs", "0"), "Epochs must be between 1"),
        (("train", "--dataset", "mnist"), "mnist"),
        (("runs", "delete", "../../etc"), "run id"),
        (("compare", "0123456789abcdef0123"), "No stored run"),
    ],
)
def test_errors_are_one_line_on_stderr_with_non_zero_exit(args, fragment, tmp_path):
    code, out, err = cli(*args, env_extra={"HOME": str(tmp_path), "DIGIT_LAB_MNIST_DIR": ""})
    assert code == 2
    assert out == ""
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and fragment in lines[0]
    assert "Traceback" not in err


# ---------------------------------------------------------------- error paths, in process (no training)


def run_main(capsys, *args) -> tuple[int, str, str]:
    from engine.cli import main

    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_spec_naming_a_folder_a_device_or_a_huge_file_is_one_line_before_reading(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("DIGIT_LAB_CACHE", str(tmp_path / "cache"))
    huge = tmp_path / "huge.json"
    with open(huge, "wb") as handle:
        handle.truncate(2 << 20)  # sparse: 2 MB that are never read
    for argument, expected in (
        (str(tmp_path), "is a folder"),
        ("/dev/zero", "is not a regular file"),
        (str(huge), "over the 1,048,576-byte limit"),
        ("x" * (2 << 20), "over 1,048,576 bytes"),
    ):
        code, out, err = run_main(capsys, "train", "--dataset", "digits", "--spec", argument, "--json")
        assert code == 2 and out == "" and expected in err and err.count("\n") == 1, err[:300]
    assert not (tmp_path / "cache" / "runs").exists()  # nothing ran, nothing stored


def test_runs_lists_the_good_runs_and_flags_a_bad_one(tmp_path, capsys, monkeypatch):
    import json

    from engine.store import RunStore, run_key
    from tests.store.run_meta import run_meta

    monkeypatch.setenv("DIGIT_LAB_CACHE", str(tmp_path))
    store = RunStore()
    good, bad = run_key({"cli": 1}), run_key({"cli": 2})
    for key in (good, bad):
        store.create(key, lambda folder: run_meta())
    (store.root / bad / "meta.json").write_text("{}")  # manifest no longer matches: flagged, not listed
    code, out, err = run_main(capsys, "runs", "--json")
    assert code == 0 and [row["run_id"] for row in json.loads(out)] == [good]
    assert f"warning: run {bad} is not listed: meta.json is " in err
    code, out, err = run_main(capsys, "compare", good, bad, "--json")
    assert code == 2 and f"No stored run '{bad}'" in err and "Traceback" not in err


def test_train_options_reach_the_config_and_a_flag_left_out_keeps_the_presets_value():
    from engine.cli import _parser
    from engine.cli.requests import _request

    args = _parser().parse_args(["train", "--dataset", "digits", "--preset", "digitlab-small8", "--flip"])
    _, _, config, _ = _request(args)
    assert config.augment_flip is True and config.augmentation is False
    args = _parser().parse_args(
        ["train", "--dataset", "digits", "--preset", "digitlab-small8", "--label-smoothing", "0.1"]
    )
    _, _, config, _ = _request(args)
    assert config.augment_flip is False and config.label_smoothing == 0.1


def test_runs_json_names_each_run_by_what_tells_it_apart(tmp_path, capsys, monkeypatch):
    from engine.store import RunStore, run_key
    from tests.store.run_meta import run_meta

    monkeypatch.setenv("DIGIT_LAB_CACHE", str(tmp_path))
    store = RunStore()
    for fold in range(2):  # two folds of one custom model: alike but for the fold
        config = {"epochs": 1, "batch_size": 32, "seed": 0, "cv_folds": 2, "cv_fold": fold}
        store.create(run_key({"fold": fold}), lambda folder, config=config: run_meta(config=config))
    code, out, _ = run_main(capsys, "runs", "--json")
    assert code == 0
    assert sorted(row["label"] for row in json.loads(out)) == [
        "custom C8k3 · D16 → 10 · fold 1/2 · digits",
        "custom C8k3 · D16 → 10 · fold 2/2 · digits",
    ]

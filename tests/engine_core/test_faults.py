"""Faults from outside: a real training process killed mid-run leaves nothing listed, and retrains next time."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine.store import RunStore

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow  # trains in a subprocess and kills it


def test_a_training_process_killed_mid_epoch_leaves_no_run_and_the_next_request_trains(isolated_cache):
    args = [
        sys.executable,
        "-m",
        "engine",
        "train",
        "--dataset",
        "digits",
        "--preset",
        "seed002-uci8x8",
        "--epochs",
        "200",
        "--json",
    ]
    process = subprocess.Popen(
        args,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "DIGIT_LAB_CACHE": str(isolated_cache)},
    )
    temp_root = isolated_cache / "runs" / ".tmp"
    deadline = time.time() + 120
    while time.time() < deadline and not (temp_root.exists() and any(temp_root.iterdir())):
        time.sleep(0.2)
    assert temp_root.exists() and any(temp_root.iterdir()), "training never started writing"
    time.sleep(1.0)  # well inside an epoch loop of a 200-epoch run
    process.send_signal(signal.SIGKILL)
    process.wait(30)

    store = RunStore(isolated_cache / "runs")
    assert store.list() == []
    again = subprocess.run(
        [*args[:-3], "--epochs", "2", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "DIGIT_LAB_CACHE": str(isolated_cache)},
    )
    assert again.returncode == 0, again.stderr
    assert '"cached": false' in again.stdout
    assert len(RunStore(isolated_cache / "runs").list()) == 1

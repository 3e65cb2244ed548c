"""Smoke runs of every benchmark in bench/: each `--quick` mode exits 0 and prints its table.

The numbers are not checked (a shared CI machine makes them meaningless); what is checked is that each
script still runs end to end against the current engine and dashboard. The scripts run side by side in
subprocesses, so the whole file takes about as long as the slowest of them. The browser benchmarks say so
and skip their browser part when Chromium is absent.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow  # five benchmark scripts in subprocesses, minutes of CPU

# script -> a line of its table header that must appear in the output
EXPECTED = {
    "time_to_accuracy.py": "| training | per-epoch wall s",
    "cache_hit.py": "| what | compute s (first call, trains) |",
    "dashboard_start.py": "| page (one AppTest session, cached run) |",
    "memory.py": "| stage | server RSS MiB |",
    "repeated_training.py": "| process | RSS before MiB |",
    "memory_model.py": "| point | train images |",
    "explain_probes.py": "| run | test acc | method | k |",
    "interactive_speed.py": "| train --dataset digits (fresh cache) |",
    "roofline.py": "| preset | trained on | training MFLOP/image |",
    "label_issues.py": "| data | seed | flipped | flagged | cleanlab P |",
}


@pytest.fixture(scope="module")
def quick_runs(tmp_path_factory):
    """Start every `--quick` run at once; return {script: (returncode, output, seconds)}."""
    started, processes = time.perf_counter(), {}
    for script in EXPECTED:
        log = tmp_path_factory.mktemp("bench") / f"{script}.log"
        env = {**os.environ, "DIGIT_LAB_CACHE": str(log.parent / "cache"), "PYTHONUNBUFFERED": "1"}
        handle = log.open("w")
        processes[script] = (
            subprocess.Popen(
                [sys.executable, "-m", f"bench.{script.removesuffix('.py')}", "--quick"],
                cwd=ROOT,
                env=env,
                stdout=handle,
                stderr=subprocess.STDOUT,
            ),
            handle,
            log,
        )
    results = {}
    for script, (process, handle, log) in processes.items():
        try:
            process.wait(timeout=600)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        handle.close()
        results[script] = (process.returncode, log.read_text(), time.perf_counter() - started)
    return results


@pytest.mark.parametrize("script", list(EXPECTED))
def test_quick_mode_runs_and_prints_its_table(quick_runs, script):
    returncode, output, _seconds = quick_runs[script]
    assert returncode == 0, f"bench/{script} --quick failed:\n{output[-4000:]}"
    assert "Machine: " in output
    if "chromium and chromedriver are not installed" in output and script == "memory.py":
        pytest.skip("memory.py needs chromium and chromedriver")
    assert EXPECTED[script] in output, f"bench/{script} --quick printed no table:\n{output[-4000:]}"

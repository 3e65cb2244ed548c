"""The hosted soak's digits-only version in CI: a hosted server in a 2.7 GB memory cgroup, five browser sessions,
three trainings pressed at once with a budget that makes one of them queue.

It skips, saying why, where Chromium is missing or this machine's memory cgroups cannot be written (a container
without cgroup delegation)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow  # a real server, five Chromiums and three trainings: a few minutes


def test_quick_hosted_soak_passes_under_the_memory_limit(tmp_path):
    env = {**os.environ, "DIGIT_LAB_CACHE": str(tmp_path / "cache"), "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "bench.hosted_soak", "--quick", "--minutes", "8"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    output = done.stdout + done.stderr
    skipped = re.search(r"^Skipped: (.*)$", output, re.M)
    if skipped:
        pytest.skip(skipped.group(1))
    assert done.returncode == 0 and "SOAK PASSED" in output, output[-6000:]
    assert re.search(r"oom_kill 0, alive True", output)
    assert re.search(r"queued sessions \(saw a position, then their result\): [1-9]", output)

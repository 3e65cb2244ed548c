"""Hosted mode in subprocesses (family `hosted`): its caps, a read-only cache (a read-only bind mount in a mount
namespace, so this needs root on Linux), and `DIGIT_LAB_CACHE` naming a file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.probe.fixtures import ROOT, Case, one_line_error


def hosted_cases(work: Path) -> list[Case]:
    """Hosted mode in subprocesses: caps, and a read-only cache (a read-only bind mount in a mount namespace)."""
    env = {**os.environ, "DIGIT_LAB_HOSTED": "1", "PYTHONPATH": str(ROOT)}
    cache = work / "hosted-cache"
    (cache / "runs").mkdir(parents=True)

    def cli(args: list[str], readonly: bool = False, extra: dict | None = None, timeout: float = 300):
        command = [sys.executable, "-m", "engine", *args]
        if readonly:
            quoted = " ".join(f"'{part}'" for part in command)
            command = ["unshare", "-m", "sh", "-c", f"mount --bind -o ro '{cache}' '{cache}' && exec {quoted}"]
        done = subprocess.run(
            command,
            cwd=ROOT,
            env={**env, "DIGIT_LAB_CACHE": str(cache), **(extra or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        return done.returncode, done.stdout, done.stderr

    def refused_case(name: str, args: list[str], expect: str, **kwargs) -> Case:
        def check() -> str:
            code, _, err = cli(args, **kwargs)
            err = "\n".join(line for line in err.splitlines() if line.startswith("error:") or "Traceback" in line)
            problem = one_line_error(code, err)
            return problem or ("" if expect in err else f"message lacks {expect!r}: {err[:200]}")

        return Case("hosted", name, check)

    def readonly_train() -> str:
        before = sorted(os.listdir(cache / "runs"))
        code, out, err = cli(
            ["train", "--dataset", "digits", "--epochs", "2", "--limit-train", "300", "--json"], readonly=True
        )
        if code != 0 or "Traceback" in err:
            return f"exit {code}: {err.strip()[-300:]}"
        result = json.loads(out)
        if result.get("stored") is not False or "cannot be written" not in result.get("store_problem", ""):
            return f"expected the result shown but not stored, got {out[:200]}"
        if sorted(os.listdir(cache / "runs")) != before:
            return "the read-only cache changed"
        leftovers = [p for p in Path(tempfile.gettempdir()).glob(f"digitlab-unstored-{result['run_id']}-*")]
        if any(not any(p.iterdir()) for p in leftovers):
            return "an empty temporary folder was left"
        return ""

    def readonly_listing() -> str:
        code, out, err = cli(["runs", "--json"], readonly=True)
        return "" if code == 0 and out.strip().startswith("[") else f"exit {code}: {err[-200:]}"

    def readonly_datasets() -> str:
        code, out, err = cli(["datasets", "--json"], readonly=True)
        return "" if code == 0 and json.loads(out) else f"exit {code}: {err[-200:]}"

    cache_file = work / "cache-is-a-file"
    cache_file.write_text("x")

    def cache_is_a_file() -> str:
        code, out, err = cli(
            ["train", "--dataset", "digits", "--epochs", "1", "--limit-train", "200", "--json"],
            extra={"DIGIT_LAB_CACHE": str(cache_file)},
        )
        if code != 0 or "Traceback" in err:
            return f"exit {code}: {err.strip()[-300:]}"
        return "" if json.loads(out).get("stored") is False else f"stored into a file? {out[:200]}"

    big_spec = json.dumps(
        {
            "conv_blocks": [{"filters": 64, "kernel_size": 3, "padding": "same"}],
            "dense_layers": [{"units": 8192}],
            "input_shape": [8, 8, 1],
        }
    )
    return [
        refused_case("epochs over the hosted cap", ["train", "--epochs", "31", "--json"], "between 1 and 30"),
        refused_case(
            "training set over the hosted cap",
            ["train", "--dataset", "fashion-mnist", "--epochs", "1", "--json"],
            "at most 20,000",
        ),
        refused_case("parameters over the hosted cap", ["train", "--spec", big_spec, "--json"], "parameters"),
        refused_case("upload name in hosted", ["train", "--dataset", "upload-zz", "--json"], "unknown dataset"),
        Case("hosted", "read-only cache: train shows the result, stores nothing", readonly_train),
        Case("hosted", "read-only cache: runs lists", readonly_listing),
        Case("hosted", "read-only cache: datasets lists", readonly_datasets),
        Case("hosted", "DIGIT_LAB_CACHE is a file: train shows the result", cache_is_a_file),
        refused_case(
            "read-only cache: delete a run",
            ["runs", "delete", "0123456789abcdef0123"],
            "No stored run",
            readonly=True,
        ),
    ]

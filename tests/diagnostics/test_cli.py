"""`python -m engine label-issues` as a user runs it: the JSON fields, scores that agree with the issues and flips
it prints (checked with scikit-learn), and one-line refusals."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import precision_score, recall_score

ROOT = Path(__file__).resolve().parents[2]


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "engine", *args], cwd=ROOT, capture_output=True, text=True, timeout=300, env=os.environ
    )


@pytest.mark.slow  # trains two folds in a subprocess
def test_label_issues_json_with_planted_noise():
    done = cli("label-issues", "--dataset", "digits", "--folds", "2", "--epochs", "2", "--plant-noise", "0.1",
               "--seed", "3", "--json")  # fmt: skip
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert {"issues", "precision", "recall", "baseline_precision", "baseline_recall", "n_flipped"} <= set(out)
    assert out["n_flipped"] == round(0.1 * 1437) == len(out["flipped"])
    n = out["n_train"]
    flagged = np.isin(np.arange(n), [issue["index"] for issue in out["issues"]])
    truth = np.isin(np.arange(n), out["flipped"])
    assert out["precision"] == pytest.approx(precision_score(truth, flagged, zero_division=0))
    assert out["recall"] == pytest.approx(recall_score(truth, flagged, zero_division=0))
    for issue in out["issues"]:
        assert set(issue) == {"index", "given", "suggested", "score"}
        assert 0 <= issue["score"] <= 1 and 0 <= issue["given"] < 10 and 0 <= issue["suggested"] < 10
    scores = [issue["score"] for issue in out["issues"]]
    assert scores == sorted(scores)
    again = cli("label-issues", "--dataset", "digits", "--folds", "2", "--epochs", "2", "--plant-noise", "0.1",
                "--seed", "3", "--json")  # fmt: skip
    assert json.loads(again.stdout) == out  # the stored result, and the cached folds
    stored = cli("label-issues", "--dataset", "digits", "--folds", "2", "--epochs", "2", "--plant-noise", "0.1",
                 "--seed", "3", "--stored-only", "--json")  # fmt: skip
    assert stored.returncode == 0 and json.loads(stored.stdout) == out
    missing = cli("label-issues", "--dataset", "digits", "--folds", "3", "--epochs", "2", "--plant-noise", "0.1",
                  "--seed", "3", "--stored-only", "--json")  # fmt: skip
    assert missing.returncode == 0 and json.loads(missing.stdout) is None  # three folds were never trained


@pytest.mark.slow  # subprocesses
@pytest.mark.parametrize(
    "args, words",
    [
        (("--folds", "1"), "2 to 10 folds"),
        (("--plant-noise", "0.7"), "noise fraction"),
        (("--plant-noise", "0.1", "--seed", "-2"), "noise seed"),
        (("--preset", "seed004-4class"), "merges classes"),
        (("--dataset", "nope"), "unknown dataset"),
    ],
)
def test_bad_requests_are_one_line_errors(args, words):
    done = cli("label-issues", *args, "--json")
    assert done.returncode == 2 and done.stdout == ""
    assert words in done.stderr and len(done.stderr.strip().splitlines()) == 1

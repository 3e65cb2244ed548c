"""Calibration: ECE against a hand computation, temperature scaling against NLL, and the CLI on a trained run."""

from __future__ import annotations

import json

import numpy as np
import pytest

from engine.cli import main
from engine.errors import InvalidConfig
from engine.probes.calibration import (
    calibrate,
    expected_calibration_error,
    fit_temperature,
    negative_log_likelihood,
    reliability_bins,
    scale_temperature,
)


def test_ece_matches_a_hand_computation():
    # Four images, two classes. Top-label confidences 0.9, 0.8, 0.6, 0.55; the first and third are right.
    probabilities = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.45, 0.55]])
    labels = np.array([0, 0, 0, 0])
    # 5 bins of width 0.2: 0.9 and 0.8 fall in (0.6, 0.8] and (0.8, 1.0]; 0.8 sits on an edge -> (0.6, 0.8].
    # bin (0.4, 0.6]: confidences 0.6, 0.55, accuracy 1/2 -> |0.5 - 0.575| = 0.075, weight 2/4
    # bin (0.6, 0.8]: confidence 0.8, accuracy 0 -> 0.8, weight 1/4
    # bin (0.8, 1.0]: confidence 0.9, accuracy 1 -> 0.1, weight 1/4
    expected = 0.5 * 0.075 + 0.25 * 0.8 + 0.25 * 0.1
    assert expected_calibration_error(labels, probabilities, n_bins=5) == pytest.approx(expected)
    bins = reliability_bins(labels, probabilities, n_bins=5)
    assert [b.count for b in bins] == [0, 0, 2, 1, 1]
    assert bins[0].confidence is None and bins[2].accuracy == pytest.approx(0.5)


def test_perfectly_calibrated_bins_have_zero_ece():
    rng = np.random.default_rng(0)
    # Confidence 0.7 in every row, right on exactly 70 % of them.
    probabilities = np.tile([0.7, 0.3], (100, 1))
    labels = np.where(rng.permutation(100) < 70, 0, 1)
    assert expected_calibration_error(labels, probabilities, n_bins=10) == pytest.approx(0.0, abs=1e-12)


def test_bad_bin_counts_are_refused():
    with pytest.raises(InvalidConfig, match="bins"):
        reliability_bins(np.array([0]), np.array([[1.0, 0.0]]), n_bins=0)
    with pytest.raises(InvalidConfig, match="bins"):
        reliability_bins(np.array([0]), np.array([[1.0, 0.0]]), n_bins=10_000)


def _overconfident(n: int, seed: int):
    """Logits whose true calibration needs T = 3: labels drawn from softmax(z), reported as softmax(3 z)."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 1.5, size=(n, 5))
    true_p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    labels = np.array([rng.choice(5, p=p) for p in true_p])
    reported = np.exp(3 * logits) / np.exp(3 * logits).sum(axis=1, keepdims=True)
    return labels, reported


def test_temperature_fit_lowers_nll_and_ece_on_an_overconfident_model():
    val_labels, val_p = _overconfident(4000, seed=1)
    test_labels, test_p = _overconfident(4000, seed=2)
    temperature = fit_temperature(val_labels, val_p)
    assert temperature == pytest.approx(3.0, rel=0.15)
    assert negative_log_likelihood(val_labels, scale_temperature(val_p, temperature)) < negative_log_likelihood(
        val_labels, val_p
    )
    result = calibrate(test_labels, test_p, val_labels, val_p, n_bins=10)
    assert result.ece_after < result.ece / 2
    # Temperature scaling never changes the winning class.
    np.testing.assert_array_equal(scale_temperature(test_p, temperature).argmax(1), test_p.argmax(1))


def test_without_a_validation_split_no_temperature_is_invented():
    labels, p = _overconfident(200, seed=3)
    result = calibrate(labels, p, None, None)
    assert result.temperature is None and result.ece_after is None and "validation" in result.note


def test_cli_calibration_on_a_trained_run(digits_run, probe_cache, capsys):
    assert main(["calibration", digits_run.run_id, "--bins", "10", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) >= {"ece", "bins", "temperature", "ece_after"}
    assert len(out["bins"]) == 10 and sum(b["count"] for b in out["bins"]) == len(digits_run.test_labels())
    expected = expected_calibration_error(digits_run.test_labels(), digits_run.test_probabilities(), 10)
    assert out["ece"] == pytest.approx(expected)
    assert out["temperature"] > 0 and out["validation_nll_after"] <= out["validation_nll_before"] + 1e-9


def test_cli_calibration_unknown_run(probe_cache, capsys):
    assert main(["calibration", "0" * 20, "--json"]) == 2
    assert "No stored run" in capsys.readouterr().err

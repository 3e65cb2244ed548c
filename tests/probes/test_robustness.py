"""Robustness probes: each perturbation against a hand-built case, level 0 against the stored accuracy."""

from __future__ import annotations

import json

import numpy as np
import pytest

from engine.cli import main
from engine.errors import InvalidConfig
from engine.probes.robustness import PERTURBATIONS, perturb, robustness_curve, validate_levels


def _dot(h: int = 8, w: int = 8, row: int = 3, col: int = 4, value: float = 16.0) -> np.ndarray:
    image = np.zeros((1, h, w, 1))
    image[0, row, col, 0] = value
    return image


@pytest.mark.parametrize("name", list(PERTURBATIONS))
def test_level_zero_is_the_identity(name):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 17, size=(3, 8, 8, 1)).astype(np.float64)
    np.testing.assert_array_equal(perturb(images, name, 0, 16.0), images)


def test_shift_moves_a_one_hot_pixel_right_and_down():
    np.testing.assert_array_equal(perturb(_dot(), "shift", 1, 16.0), _dot(row=4, col=5))
    np.testing.assert_array_equal(perturb(_dot(), "shift", -2, 16.0), _dot(row=1, col=2))
    assert perturb(_dot(), "shift", 5, 16.0).sum() == 0  # pushed off the 8x8 canvas


def test_rotation_by_90_degrees_is_a_quarter_turn():
    images = np.random.default_rng(1).integers(0, 17, size=(2, 9, 9, 1)).astype(np.float64)
    turned = perturb(images, "rotation", 90, 16.0)
    # Anticlockwise on screen (row 0 at the top): numpy's rot90 over (rows, cols).
    np.testing.assert_allclose(turned, np.rot90(images, k=1, axes=(1, 2)), atol=1e-9)


def test_thickness_dilates_and_erodes_with_a_3x3_square():
    grown = perturb(_dot(), "thickness", 1, 16.0)
    expected = np.zeros((1, 8, 8, 1))
    expected[0, 2:5, 3:6, 0] = 16
    np.testing.assert_array_equal(grown, expected)
    np.testing.assert_array_equal(perturb(grown, "thickness", -1, 16.0), _dot())


def test_blur_spreads_a_dot_and_keeps_its_mass_away_from_the_edges():
    blurred = perturb(_dot(16, 16, 8, 8), "blur", 1.0, 16.0)
    assert blurred.sum() == pytest.approx(16.0, rel=1e-3)
    assert blurred[0, 8, 8, 0] < 16 and blurred[0, 8, 9, 0] > 0
    # sigma 1: the neighbour holds exp(-1/2) of the centre
    assert blurred[0, 8, 9, 0] / blurred[0, 8, 8, 0] == pytest.approx(np.exp(-0.5), rel=1e-2)


def test_contrast_moves_towards_the_image_mean_and_noise_stays_in_range():
    image = np.zeros((1, 2, 2, 1))
    image[0, 0, 0, 0] = 16.0  # mean 4
    np.testing.assert_allclose(perturb(image, "contrast", 0.5, 16.0)[0, :, :, 0], [[10.0, 2.0], [2.0, 2.0]])
    noisy = perturb(np.full((4, 8, 8, 1), 8.0), "noise", 0.5, 16.0)
    assert noisy.min() >= 0 and noisy.max() <= 16 and noisy.std() > 1


def test_levels_outside_a_perturbation_range_are_refused():
    with pytest.raises(InvalidConfig, match="whole"):
        validate_levels("shift", [0, 1.5])
    with pytest.raises(InvalidConfig, match="lie in"):
        validate_levels("contrast", [0, 2])
    with pytest.raises(InvalidConfig, match="Unknown"):
        validate_levels("melt", None)
    assert validate_levels("blur", None)[0] == 0


def test_level_zero_equals_the_stored_test_accuracy_exactly(digits_run):
    curve = robustness_curve(digits_run, "noise", [0, 0.3, 1.0])
    assert curve.accuracy[0] == digits_run.meta["metrics"]["test_accuracy"]
    # Heavy noise really hurts a digits model: an assertion that can fail if perturbations were no-ops.
    assert curve.accuracy[2] < curve.accuracy[0] - 0.2


def test_cli_robustness_json(digits_run, probe_cache, capsys):
    assert main(["robustness", digits_run.run_id, "--perturbation", "shift", "--levels", "0", "2", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["levels"] == [0, 2] and out["accuracy"][0] == digits_run.meta["metrics"]["test_accuracy"]
    assert main(["robustness", digits_run.run_id, "--perturbation", "shift", "--levels", "0.5", "--json"]) == 2
    assert "whole numbers" in capsys.readouterr().err


def test_a_run_from_other_data_of_the_same_name_is_refused(digits_run):
    from dataclasses import replace

    from engine.errors import DatasetUnavailable

    meta = {**digits_run.meta, "dataset": {**digits_run.meta["dataset"], "fingerprint": "0" * 64}}
    with pytest.raises(DatasetUnavailable, match="differ from the data"):
        robustness_curve(replace(digits_run, meta=meta), "blur", [0, 1])

"""Dataset cartography on hand-built training dynamics: confidence, variability and correctness against numpy on
arrays whose mean and standard deviation are known by construction, and the paper's 33 % regions by hand."""

from __future__ import annotations

import numpy as np
import pytest

from engine.evaluation.cartography import REGION_FRACTION, cartography
from engine.evaluation.inputs import InvalidEvaluationInput

# (mean, spread) per example; over two epochs [mean - spread, mean + spread] has exactly that mean and a
# population standard deviation of `spread`.
DESIGN = [(0.95, 0.0), (0.90, 0.01), (0.50, 0.45), (0.50, 0.40), (0.10, 0.0), (0.05, 0.02), (0.60, 0.05),
          (0.55, 0.03), (0.85, 0.04)]  # fmt: skip


def two_epochs(design):
    means = np.array([m for m, _ in design])
    spreads = np.array([s for _, s in design])
    return np.stack([means - spreads, means + spreads]), means, spreads


def test_confidence_variability_correctness_match_numpy_and_the_design():
    gold, means, spreads = two_epochs(DESIGN)
    right = np.array([[True] * 9, [True, False] * 4 + [False]])
    found = cartography(gold, right)
    np.testing.assert_allclose(found.confidence, means)
    np.testing.assert_allclose(found.variability, spreads, atol=1e-12)
    np.testing.assert_allclose(found.confidence, np.mean(gold, axis=0))
    np.testing.assert_allclose(found.variability, np.std(gold, axis=0))
    np.testing.assert_allclose(found.correctness, [1, 0.5, 1, 0.5, 1, 0.5, 1, 0.5, 0.5])


def test_regions_are_the_papers_thirds():
    gold, _, _ = two_epochs(DESIGN)
    found = cartography(gold, gold > 0.5)
    assert int(REGION_FRACTION * 9) == 2  # two examples in each third
    # Most variable: 2 (0.45) and 3 (0.40). Most confident: 0 (0.95) and 1 (0.90). Least confident: 5 and 4.
    assert found.region.tolist() == [
        "easy-to-learn", "easy-to-learn", "ambiguous", "ambiguous", "hard-to-learn", "hard-to-learn",
        "in between", "in between", "in between",
    ]  # fmt: skip
    assert found.counts() == {"easy-to-learn": 2, "ambiguous": 2, "hard-to-learn": 2, "in between": 3}
    assert found.hardest(3).tolist() == [5, 4, 2]  # confidences 0.05, 0.10, then 0.50 (2 and 3 tie: lower index)


def test_an_example_both_variable_and_unlearned_is_ambiguous():
    design = list(DESIGN)
    design[4] = (0.25, 0.25)  # [0, 0.5]: among the two least confident and the two most variable
    design[3] = (0.50, 0.02)
    gold, _, _ = two_epochs(design)
    found = cartography(gold, gold > 0.5)
    assert found.region[4] == "ambiguous" and found.region[2] == "ambiguous"
    # The least confident third is ranked over the whole set: 5 and 4; 4 went to ambiguous, so one hard example.
    assert np.flatnonzero(found.region == "hard-to-learn").tolist() == [5]


@pytest.mark.parametrize(
    "gold, right",
    [
        (np.zeros(3), np.zeros(3, bool)),
        (np.full((2, 3), 1.5), np.zeros((2, 3), bool)),
        (np.full((2, 3), np.nan), np.zeros((2, 3), bool)),
        (np.zeros((2, 3)), np.zeros((2, 4), bool)),
        (np.zeros((2, 3)), np.zeros((2, 3))),
    ],
)
def test_bad_input_is_refused(gold, right):
    with pytest.raises(InvalidEvaluationInput):
        cartography(gold, right)

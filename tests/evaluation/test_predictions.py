"""Per-image prediction tables (`engine.evaluation.predictions`) and Inspect's mistakes (`engine.inspection`),
checked on hand-built predictions whose answers are known."""

from __future__ import annotations

import numpy as np
import pytest

from engine.evaluation import InvalidEvaluationInput
from engine.evaluation.predictions import SAMPLE_COLUMNS, predictions_table, sample_predictions
from engine.inspection import mistake_indices

NAMES = ("cat", "dog", "emu")
LABELS = np.array([0, 1, 2, 2])
# Row 1 is wrong (dog predicted as emu), row 3 too (emu as cat); row 2 is an exact tie, which goes to the lowest
# index ("dog" beats "emu"), so it is wrong as well.
PROBABILITIES = np.array(
    [
        [0.7, 0.2, 0.1],
        [0.1, 0.3, 0.6],
        [0.0, 0.5, 0.5],
        [0.8, 0.1, 0.1],
    ],
    dtype=np.float32,
)


def test_every_test_image_gets_a_row_with_each_class_probability():
    table = predictions_table(LABELS, PROBABILITIES, NAMES)
    assert list(table.columns) == ["index", "true", "predicted", "confidence", "p_cat", "p_dog", "p_emu"]
    assert table["index"].tolist() == [0, 1, 2, 3]
    assert table["true"].tolist() == ["cat", "dog", "emu", "emu"]
    assert table["predicted"].tolist() == ["cat", "emu", "dog", "cat"]
    np.testing.assert_allclose(table["confidence"], [0.7, 0.6, 0.5, 0.8], rtol=1e-6)
    np.testing.assert_array_equal(table[["p_cat", "p_dog", "p_emu"]].to_numpy(), PROBABILITIES)  # as stored


def test_the_csv_reads_back_to_the_same_predictions():
    import io

    import pandas as pd

    back = pd.read_csv(io.StringIO(predictions_table(LABELS, PROBABILITIES, NAMES).to_csv(index=False)))
    assert back["predicted"].tolist() == ["cat", "emu", "dog", "cat"]
    np.testing.assert_allclose(back["p_emu"], PROBABILITIES[:, 2], rtol=1e-6)


def test_a_sample_is_the_seeded_draw_and_repeats_with_its_seed():
    labels = np.arange(50) % 3
    probabilities = np.full((50, 3), 0.1)
    probabilities[np.arange(50), (labels + 1) % 3] = 0.8  # every prediction is the next class
    sample = sample_predictions(labels, probabilities, NAMES, seed=7)
    expected = np.random.default_rng(7).choice(50, size=10, replace=False)
    assert list(sample.columns) == SAMPLE_COLUMNS
    assert sample["index"].tolist() == expected.tolist()
    assert sample["true"].tolist() == [NAMES[i % 3] for i in expected]
    assert sample["predicted"].tolist() == [NAMES[(i + 1) % 3] for i in expected]
    assert sample.equals(sample_predictions(labels, probabilities, NAMES, seed=7))
    assert not sample.equals(sample_predictions(labels, probabilities, NAMES, seed=8))


def test_a_sample_of_a_small_test_set_holds_every_image_once():
    sample = sample_predictions(LABELS, PROBABILITIES, NAMES, seed=0, size=10)
    assert sorted(sample["index"]) == [0, 1, 2, 3]


def test_bad_inputs_are_refused_with_the_evaluation_error():
    with pytest.raises(InvalidEvaluationInput):
        predictions_table(LABELS[:3], PROBABILITIES, NAMES)
    with pytest.raises(InvalidEvaluationInput):
        predictions_table(LABELS, PROBABILITIES, NAMES[:2])


def test_mistakes_are_the_wrong_images_in_test_set_order():
    assert mistake_indices(LABELS, PROBABILITIES).tolist() == [1, 2, 3]
    assert mistake_indices(np.array([0, 1]), np.eye(2)).tolist() == []
    with pytest.raises(ValueError):
        mistake_indices(LABELS[:2], PROBABILITIES)

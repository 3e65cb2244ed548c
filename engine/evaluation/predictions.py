"""Per-image prediction tables from a run's stored test-set predictions: every test image with every class's
probability (Evaluate's CSV download), or a seeded random sample of images (its "Sample predictions" tab).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from engine.evaluation.inputs import check_inputs

SAMPLE_COLUMNS = ["index", "true", "predicted", "confidence"]


def predictions_table(
    y_true: np.ndarray | Sequence[int],
    probabilities: np.ndarray,
    class_names: Sequence[str],
) -> pd.DataFrame:
    """One row per test image, in test-set order.

    Columns: `index` (row in the test set), `true` and `predicted` (class names; the prediction is the arg-max, an
    exact tie going to the lowest class index), `confidence` (the predicted class's probability) and one
    `p_<class name>` column per class holding the probabilities as stored.
    """
    truth, probs, names = check_inputs(y_true, probabilities, class_names)
    predicted = probs.argmax(axis=1)
    rows = np.arange(len(truth))
    table = pd.DataFrame(
        {
            "index": rows,
            "true": [names[i] for i in truth],
            "predicted": [names[i] for i in predicted],
            "confidence": probs[rows, predicted].astype(np.float64),
        }
    )
    for column, name in enumerate(names):
        table[f"p_{name}"] = probs[:, column]
    return table


def sample_predictions(
    y_true: np.ndarray | Sequence[int],
    probabilities: np.ndarray,
    class_names: Sequence[str],
    seed: int,
    size: int = 10,
) -> pd.DataFrame:
    """`size` test images (all of them if there are fewer) drawn without replacement, columns `SAMPLE_COLUMNS`.

    The draw is `numpy.random.default_rng(seed).choice(n, size, replace=False)`, so one seed always shows the
    same images, in the order drawn.
    """
    table = predictions_table(y_true, probabilities, class_names)
    picked = np.random.default_rng(seed).choice(len(table), size=min(size, len(table)), replace=False)
    return table.iloc[picked][SAMPLE_COLUMNS].reset_index(drop=True)

"""Dataset cartography (Swayamdipta et al., "Dataset Cartography: Mapping and Diagnosing Datasets with Training
Dynamics", EMNLP 2020): each training example placed by how a model learned it over the epochs.

From the probability of its gold label after each epoch, and whether it was predicted right then:

- confidence: the mean of that probability over the epochs;
- variability: its standard deviation over the epochs (population, ddof 0, as the authors' `np.std`);
- correctness: the fraction of epochs in which the example was predicted right (its predicted class the gold one).

Regions. The paper names three parts of the map and studies each as a third of the training set, taken by rank
(its selections keep 33 % of the examples: Section 3, and `train_dy_filtering.py`'s fractions up to 0.3319):
ambiguous = the 33 % most variable examples; easy-to-learn = the 33 % most confident; hard-to-learn = the 33 %
least confident. The thirds can overlap and leave examples out, so each example gets one region here in this order:
ambiguous first (the paper's ambiguous examples are defined by variability alone), then easy-to-learn or
hard-to-learn among the rest by their rank in confidence over the whole set, and "in between" for an example in
none of the three thirds. Ties in rank fall to the lower index, so the regions are the same on every run.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from engine.evaluation.inputs import InvalidEvaluationInput

REGION_FRACTION = 0.33  # the share of the training set in each of the paper's three regions
REGIONS = ("easy-to-learn", "ambiguous", "hard-to-learn", "in between")


@dataclass(frozen=True)
class Cartography:
    """Per training example (by index into the training rows): the map's coordinates and region."""

    confidence: np.ndarray  # (n,) float64 in 0..1
    variability: np.ndarray  # (n,) float64 in 0..0.5
    correctness: np.ndarray  # (n,) float64 in 0..1
    region: np.ndarray  # (n,) str, one of REGIONS

    def counts(self) -> dict[str, int]:
        found = Counter(self.region.tolist())
        return {name: int(found.get(name, 0)) for name in REGIONS}

    def hardest(self, count: int) -> np.ndarray:
        """Indices of the `count` least confident examples (the hardest to learn first; ties by index)."""
        return np.argsort(self.confidence, kind="stable")[: max(0, int(count))]


def _top(values: np.ndarray, count: int) -> np.ndarray:
    """A mask of the `count` largest values; ties fall to the lower index."""
    mask = np.zeros(len(values), dtype=bool)
    mask[np.argsort(-values, kind="stable")[:count]] = True
    return mask


def cartography(gold_probabilities: np.ndarray, correct: np.ndarray) -> Cartography:
    """The data map of (epochs, n) gold-label probabilities and (epochs, n) right-or-wrong predictions."""
    gold = np.asarray(gold_probabilities, dtype=np.float64)
    right = np.asarray(correct)
    if gold.ndim != 2 or gold.shape[0] < 1 or gold.shape[1] < 1:
        raise InvalidEvaluationInput(f"training dynamics must be shaped (epochs, examples), got {gold.shape}")
    if right.shape != gold.shape or right.dtype != bool:
        raise InvalidEvaluationInput(
            f"correctness must be a {gold.shape} boolean array, got {right.shape} {right.dtype}"
        )
    if not np.isfinite(gold).all() or gold.min() < 0 or gold.max() > 1:
        raise InvalidEvaluationInput("gold-label probabilities must be finite and within 0..1")
    confidence = gold.mean(axis=0)
    variability = gold.std(axis=0)
    correctness = right.mean(axis=0)
    n = gold.shape[1]
    third = int(REGION_FRACTION * n)
    ambiguous = _top(variability, third)
    easy = _top(confidence, third) & ~ambiguous
    hard = _top(-confidence, third) & ~ambiguous & ~easy
    region = np.full(n, REGIONS[3], dtype=object)
    region[easy] = REGIONS[0]
    region[hard] = REGIONS[2]
    region[ambiguous] = REGIONS[1]
    return Cartography(confidence, variability, correctness, region.astype(str))

"""The run the Explain page explains, as its tabs read it: the model, the test set it was scored on, class names."""

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ExplainedRun:
    run: object  # the stored run
    dataset: object  # the dataset it was trained on, as loaded here
    labels: np.ndarray  # the run's test labels (after its label mapping)
    model: object  # the run's Keras model
    class_names: list  # raw, for widgets
    chart_names: list  # the same shown literally in Plotly, which reads HTML

    @property
    def value_max(self) -> float:
        return float(self.dataset.value_max)

    @property
    def n_test(self) -> int:
        return len(self.dataset.x_test)

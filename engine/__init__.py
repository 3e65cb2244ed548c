"""Digit Lab's engine: datasets, CNN specs, cached training, evaluation, k-fold and comparison.

Never imports Streamlit. Importing `engine` is cheap: names are loaded on first use, so a dashboard page that
only lists datasets and runs does not wait for TensorFlow.
"""

from __future__ import annotations

import importlib
import os
from typing import Any

# TensorFlow's C++ start-up chatter (oneDNN, CPU features) drowns the CLI's one-line messages.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

_EXPORTS = {
    "engine.errors": (
        "DigitLabError",
        "DatasetUnavailable",
        "InvalidDataFile",
        "InvalidLabelMapping",
        "InvalidTestSplit",
        "InvalidSpec",
        "InvalidConfig",
        "TrainingDiverged",
        "TrainingCancelled",
        "RunNotFound",
        "StoreError",
        "TrainingTooLarge",
        "NotRecorded",
    ),
    "engine.validation": ("validate_request",),
    "engine.limits": ("SpecLimits", "TrainLimits", "ServerLimits"),
    "engine.memory_estimate": ("MemoryEstimate", "estimate_training"),
    "engine.datasets": (
        "Dataset",
        "load_dataset",
        "list_datasets",
        "dataset_status",
        "LabelMapping",
        "LABEL_MAPPINGS",
        "merge_labels",
        "subset_train",
        "normalised",
        "cut_test_set",
    ),
    "engine.architectures": (
        "ModelSpec",
        "ConvBlock",
        "DenseLayer",
        "Preset",
        "PRESETS",
        "DEFAULT_PRESET",
        "get_preset",
        "layer_table",
        "parameter_counts",
        "build_model",
        "validate",
    ),
    "engine.training.config": ("TrainConfig",),
    "engine.training.fit": ("train", "TrainingResult"),
    "engine.store": ("RunStore", "StoredRun", "run_key", "is_run_id"),
    "engine.runs": (
        "get_or_train",
        "find_run",
        "run_id_for",
        "preset_request",
        "RunResult",
        "spec_summary",
        "run_label",
        "labels_of",
    ),
    "engine.evaluation": ("evaluate", "Evaluation", "roc_curves"),
    "engine.evaluation.predictions": ("predictions_table", "sample_predictions"),
    "engine.progress": ("BatchProgress", "ProgressEvent"),
    "engine.crossval": ("cross_validate", "CrossValidation"),
    "engine.compare": (
        "comparison_table",
        "comparison_with_reports",
        "runs_table",
        "aligned_curves",
        "accuracy_vs_parameters",
        "comparable_runs",
        "run_preset_study",
        "PRESET_STUDIES",
    ),
    "engine.telemetry": ("counters",),
    "engine.sweeps": ("SweepRequest", "SweepResult", "SearchSpace", "run_sweep", "load_sweep", "paired_comparison"),
    "engine.probes.calibration": ("Calibration", "run_calibration"),
    "engine.probes.robustness": ("RobustnessCurve", "robustness_curve", "PERTURBATIONS"),
    "engine.probes.explain": ("Explanation", "ExplainSettings", "explain_run", "explain_images", "deletion_test"),
    "engine.probes.embedding_map": ("EmbeddingMap", "embedding_map", "pixel_embedding_map"),
    "engine.leakage": ("LeakageSpec", "LeakageReport", "find_leakage"),
    "engine.probes.adversarial": (
        "AdversarialSpec",
        "AdversarialResult",
        "adversarial_examples",
        "validate_adversarial",
    ),
    "engine.probes.epochs": ("EpochConfusion", "epoch_confusion"),
    "engine.probes.dynamics": ("TrainingDynamics", "training_dynamics"),
    "engine.evaluation.cartography": ("Cartography", "cartography"),
    "engine.reports.recipe": ("to_keras_code",),
    "engine.datasets.noise": ("NoiseSpec", "plant_label_noise"),
    "engine.diagnostics.label_issues": ("LabelIssuePlan", "LabelIssues", "label_issues"),
}
_WHERE = {name: module for module, names in _EXPORTS.items() for name in names}
__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'engine' has no attribute {name!r}")
    value = getattr(importlib.import_module(_WHERE[name]), name)
    globals()[name] = value
    return value

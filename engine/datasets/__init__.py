"""Datasets: the `Dataset` value, the registry of named sources, local file readers and transforms.

Importing this package is cheap (numpy only): scikit-learn, ucimlrepo and Keras/TensorFlow are imported inside
the functions that need them, so the dashboard can list datasets without loading TensorFlow.
"""

from engine.datasets.dataset import Dataset
from engine.datasets.idx import find_idx_files, load_idx_pair, load_npz, read_idx
from engine.datasets.sources import (
    DEFAULT_DATASET,
    DatasetInfo,
    clear_dataset_cache,
    dataset_status,
    list_datasets,
    load_dataset,
)
from engine.datasets.transforms import (
    LABEL_MAPPINGS,
    LabelMapping,
    merge_labels,
    normalised,
    parse_label_mapping,
    stratified_indices,
    subset_train,
)

__all__ = [
    "DEFAULT_DATASET",
    "Dataset",
    "DatasetInfo",
    "LABEL_MAPPINGS",
    "LabelMapping",
    "clear_dataset_cache",
    "dataset_status",
    "find_idx_files",
    "list_datasets",
    "load_dataset",
    "load_idx_pair",
    "load_npz",
    "merge_labels",
    "normalised",
    "parse_label_mapping",
    "read_idx",
    "stratified_indices",
    "subset_train",
]

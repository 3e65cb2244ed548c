"""Datasets: the `Dataset` value, the registry of named sources, local file readers and transforms.

Modules: `dataset` (the value), `registry` (the public list/status/load API), `catalog` (class names,
provenance), one module per kind of source (`bundled`, `uci`, `mnist_like`), `network` (every download, in
`FETCHERS`), `memo` (each dataset loaded once per process), `idx` (file readers), `transforms` and `views` (a base
dataset with its test set cut, such as a challenge's public part, loadable by name).

Importing this package is cheap (numpy only): scikit-learn, ucimlrepo and Keras/TensorFlow are imported inside
the functions that need them, so the dashboard can list datasets without loading TensorFlow.
"""

from engine.datasets.dataset import Dataset
from engine.datasets.idx import find_idx_files, load_idx_pair, load_npz, read_idx
from engine.datasets.memo import clear_dataset_cache
from engine.datasets.registry import DEFAULT_DATASET, DatasetInfo, dataset_status, list_datasets, load_dataset
from engine.datasets.transforms import (
    LABEL_MAPPINGS,
    LabelMapping,
    merge_labels,
    normalised,
    parse_label_mapping,
    stratified_indices,
    subset_train,
    subset_train_with_rows,
)
from engine.datasets.views import cut_test_set

__all__ = [
    "DEFAULT_DATASET",
    "Dataset",
    "DatasetInfo",
    "LABEL_MAPPINGS",
    "LabelMapping",
    "clear_dataset_cache",
    "cut_test_set",
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
    "subset_train_with_rows",
]

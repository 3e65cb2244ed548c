"""The embedding map: what a run's model makes of its test images just before it decides, in 2-D.

The features are the penultimate layer's activations, i.e. the input of the last Dense layer (the classifier),
computed by pushing the images through `model.layers` one by one as `engine.probes.explain` does: no new
functional graph is wired, so Sequential and functional models, BatchNorm, dropout and merged classes all work
without Keras' "Graph disconnected". The projection is `engine.exploration.embedding`, the Data page's raw-pixel
map, with the same stratified subset rule and seed, so the learned map and the pixel map of the same images are
computed the same way and can be put side by side point for point. Results are kept per run
(`engine.probes.stored`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine.datasets import Dataset
from engine.errors import InvalidConfig, InvalidProbeRecord
from engine.exploration import EMBEDDINGS, embedding
from engine.limits import ProbeLimits
from engine.probes.checks import probe_numbers
from engine.probes.run_data import test_images
from engine.probes.stored import cached_probe
from engine.store import StoredRun

SPACES = ("features", "pixels")  # the model's penultimate activations, or the raw pixels of the same images
MAP_SEED = 0  # the subset and t-SNE seed: the Data page's default, so both pages draw the same subset
BATCH = 1024  # images per forward pass: bounded memory on a 10 000-image test set


@dataclass(frozen=True)
class EmbeddingMap:
    """A 2-D map of (a stratified subset of) a run's test images: point i is test image `indices[i]`."""

    run_id: str
    space: str  # "features" (penultimate activations) or "pixels"
    method: str  # "pca" or "tsne"
    coords: np.ndarray = field(repr=False)  # (n, 2)
    indices: np.ndarray = field(repr=False)  # (n,) rows of the run's test set, ascending
    true_labels: np.ndarray = field(repr=False)  # (n,) the run's test labels (after any class merging)
    predicted_labels: np.ndarray = field(repr=False)  # (n,) from the run's stored test probabilities
    explained_variance: tuple[float, float] | None  # PCA: the share of variance on each axis; t-SNE: None
    dimensions: int  # length of each projected vector (activations per image, or pixels per image)
    test_size: int  # images in the whole test set
    note: str  # what was projected, and the subset when not every image is on the map

    @property
    def mistakes(self) -> np.ndarray:
        return self.true_labels != self.predicted_labels

    def to_dict(self) -> dict:
        return {
            "run_id": self.run_id,
            "space": self.space,
            "method": self.method,
            "coords": np.asarray(self.coords, dtype=float).tolist(),
            "indices": np.asarray(self.indices).tolist(),
            "true_labels": np.asarray(self.true_labels).tolist(),
            "predicted_labels": np.asarray(self.predicted_labels).tolist(),
            "explained_variance": None if self.explained_variance is None else list(self.explained_variance),
            "dimensions": self.dimensions,
            "test_size": self.test_size,
            "note": self.note,
        }

    @classmethod
    def from_dict(cls, data: dict) -> EmbeddingMap:
        """A stored map read back; every field checked (`engine.probes.checks.probe_numbers`), `InvalidProbeRecord`
        or `KeyError`/`TypeError` for any that is missing or wrong."""
        test_size = int(probe_numbers([data["test_size"]], "test_size", shape=(1,), whole=True, low=1)[0])
        coords = probe_numbers(data["coords"], "coords", shape=(None, 2))
        n = len(coords)
        indices = probe_numbers(data["indices"], "indices", shape=(n,), whole=True, low=0, high=test_size - 1)
        if n == 0 or np.any(np.diff(indices) <= 0):
            raise InvalidProbeRecord("indices are empty or not strictly ascending")
        true = probe_numbers(data["true_labels"], "true_labels", shape=(n,), whole=True, low=0)
        predicted = probe_numbers(data["predicted_labels"], "predicted_labels", shape=(n,), whole=True, low=0)
        variance = data["explained_variance"]
        if variance is not None:
            variance = tuple(float(v) for v in probe_numbers(variance, "explained_variance", shape=(2,), low=0, high=1))
        dimensions = int(probe_numbers([data["dimensions"]], "dimensions", shape=(1,), whole=True, low=1)[0])
        if data["space"] not in SPACES or data["method"] not in EMBEDDINGS:
            raise InvalidProbeRecord("unknown space or method")
        if not isinstance(data["note"], str) or not isinstance(data["run_id"], str):
            raise InvalidProbeRecord("note or run_id is not text")
        return cls(
            data["run_id"], data["space"], data["method"], coords, indices, true, predicted, variance, dimensions,
            test_size, data["note"],
        )  # fmt: skip


def penultimate_activations(model: Any, images01: np.ndarray, batch_size: int = BATCH) -> np.ndarray:
    """(N, D) float32: the input of the model's last layer, which must be a Dense layer (the classifier), for 0..1
    images (N, H, W, 1). Activations are taken in inference mode (dropout off, BatchNorm's moving statistics)."""
    import tensorflow as tf

    layers = [layer for layer in model.layers if type(layer).__name__ != "InputLayer"]
    if not layers or type(layers[-1]).__name__ != "Dense":
        kind = type(layers[-1]).__name__ if layers else "no layer"
        raise InvalidConfig(f"The embedding map needs a model that ends in a Dense layer; this one ends in {kind}.")
    *body, _classifier = layers
    chunks = []
    for start in range(0, len(images01), batch_size):
        x = tf.constant(images01[start : start + batch_size], dtype=tf.float32)
        for layer in body:
            x = layer(x, training=False)
        chunks.append(np.asarray(x, dtype=np.float32).reshape(len(x), -1))
    if not chunks:
        raise InvalidConfig("The embedding map needs at least one image.")
    return np.concatenate(chunks)


def check_request(method: str, space: str, limit: int | None, test_size: int) -> int:
    """The number of images to map: `limit`, checked, or the default (every image for PCA up to the cap; a
    stratified `default_tsne_points` for t-SNE). Refuses rather than shrinks a limit above the cap."""
    limits = ProbeLimits()
    if method not in EMBEDDINGS:
        raise InvalidConfig(f"Unknown map method {str(method)[:40]!r}; choose one of {', '.join(EMBEDDINGS)}.")
    if space not in SPACES:
        raise InvalidConfig(f"Unknown map space {str(space)[:40]!r}; choose one of {', '.join(SPACES)}.")
    most = limits.max_tsne_points if method == "tsne" else limits.max_embedding_map_points
    if limit is None:
        return min(test_size, limits.default_tsne_points if method == "tsne" else most)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 10 <= limit <= most:
        raise InvalidConfig(
            f"A {'t-SNE' if method == 'tsne' else 'PCA'} map takes 10 to {most:,} images (--limit), got {limit!r}."
        )
    return min(limit, test_size)


def _note(space: str, method: str, n_points: int, test_size: int, dimensions: int, asked: int | None) -> str:
    what = (
        f"the {dimensions} activations each image gives the last Dense layer"
        if space == "features"
        else f"the {dimensions} raw pixels of each image"
    )
    name = "t-SNE" if method == "tsne" else "PCA"
    if n_points >= test_size:
        return f"{name} of {what}, for all {test_size:,} test images."
    why = "" if asked is not None else f" (t-SNE's default; its cap is {ProbeLimits().max_tsne_points:,})"
    return f"{name} of {what}, for a stratified {n_points:,} of the {test_size:,} test images{why}."


def compute_embedding_map(
    run_id: str,
    values: np.ndarray,
    labels: np.ndarray,
    predicted: np.ndarray,
    *,
    space: str,
    method: str,
    n_points: int,
    asked: int | None = None,
) -> EmbeddingMap:
    """Project `values` (one row per test image) with the Data page's `embedding`: same subset rule, same seed."""
    flat = np.asarray(values).reshape(len(values), -1)
    # value_max 1: activations are projected as they are; raw pixels arrive already scaled to 0..1.
    projected = embedding(flat, labels, 1.0, n=n_points, method=method, seed=MAP_SEED)
    rows = projected.indices
    return EmbeddingMap(
        run_id=run_id,
        space=space,
        method=method,
        coords=projected.coords,
        indices=np.asarray(rows, dtype=np.int64),
        true_labels=np.asarray(labels[rows], dtype=np.int64),
        predicted_labels=np.asarray(predicted[rows], dtype=np.int64),
        explained_variance=projected.explained_variance,
        dimensions=int(flat.shape[1]),
        test_size=len(values),
        note=_note(space, method, len(rows), len(values), int(flat.shape[1]), asked),
    )


def embedding_map(
    run: StoredRun,
    method: str = "pca",
    limit: int | None = None,
    space: str = "features",
    *,
    model: Any = None,
    dataset: Dataset | None = None,
) -> EmbeddingMap:
    """The embedding map of the learned features (space="features") or of the raw pixels of the same images
    (space="pixels") of a stored run's test set; kept per run in the store. `model` and `dataset` may be handed in
    when already loaded (the dashboard's shared copies); the dataset must be the one the run was trained on
    (fingerprint checked)."""
    labels = run.test_labels()
    n_points = check_request(method, space, limit, len(labels))

    def compute() -> EmbeddingMap:
        images01, _ = test_images(run, dataset)
        if space == "features":
            values = penultimate_activations(model if model is not None else run.load_model(), images01)
        else:
            values = images01
        predicted = run.test_probabilities().argmax(axis=1)
        return compute_embedding_map(
            run.run_id, values, labels, predicted, space=space, method=method, n_points=n_points, asked=limit
        )

    params = {"space": space, "method": method, "points": n_points, "asked": limit, "seed": MAP_SEED}
    # "feature-map": the record name stored runs already hold; renaming it would orphan their cached maps.
    return cached_probe(run, "feature-map", params, compute, EmbeddingMap.to_dict, EmbeddingMap.from_dict)


def pixel_embedding_map(
    run: StoredRun, method: str = "pca", limit: int | None = None, *, dataset: Dataset | None = None
) -> EmbeddingMap:
    """The same map of the raw pixels of the same test images as `embedding_map(run, method, limit)`."""
    return embedding_map(run, method, limit, "pixels", dataset=dataset)

"""Data statistics for the Data page: class balance, seeded sample picks, class means, pixel histogram, 2-D maps.

Everything takes a `Dataset` (or its arrays) and returns plain numpy/pandas values; the dashboard turns them into
figures. Randomness always comes from an explicit seed, so a shared link redraws the same samples and map.
scikit-learn is imported inside `embedding`, the only function that needs it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from engine.datasets import Dataset, normalised, stratified_indices
from engine.limits import ProbeLimits

SPLITS = ("train", "test")
EMBEDDINGS = ("pca", "tsne")


def split_arrays(dataset: Dataset, split: str) -> tuple[np.ndarray, np.ndarray]:
    """(images, labels) of the "train" or "test" part."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    return (dataset.x_train, dataset.y_train) if split == "train" else (dataset.x_test, dataset.y_test)


def dataset_card(dataset: Dataset, title: str = "") -> list[tuple[str, str]]:
    """(field, value) rows describing the dataset, in reading order."""
    h, w, c = dataset.image_shape
    # What the files hold, not what they are divided by: a 0..16 upload read as 0..255 must not be hidden here.
    present = [x for x in (dataset.x_train, dataset.x_test) if x.size]
    low, high = min((int(x.min()) for x in present), default=0), max((int(x.max()) for x in present), default=0)
    scaling = dataset.pixel_scaling or f"divided by {dataset.value_max:g}, the range this source's pixels are on."
    return [
        ("name", dataset.name),
        ("title", title or dataset.name),
        ("source", dataset.source),
        ("identity", dataset.identity or "not checked"),
        ("train images", f"{len(dataset.x_train):,}"),
        ("test images", f"{len(dataset.x_test):,}"),
        ("image shape", f"{h} x {w} x {c}"),
        ("raw value range", f"{low} .. {high} ({dataset.x_train.dtype})"),
        ("pixel scaling", scaling),
        ("classes", f"{dataset.num_classes}: " + ", ".join(dataset.class_names)),
        ("transforms", ", ".join(dataset.transforms) or "none (as loaded)"),
        ("fingerprint", dataset.fingerprint[:12]),
    ]


def class_distribution(dataset: Dataset) -> pd.DataFrame:
    """One row per class: train and test counts and their shares of each split (percent)."""
    k = dataset.num_classes
    train = np.bincount(dataset.y_train, minlength=k)[:k]
    test = np.bincount(dataset.y_test, minlength=k)[:k]
    return pd.DataFrame(
        {
            "class": np.arange(k),
            "name": list(dataset.class_names),
            "train": train,
            "test": test,
            "train %": 100.0 * train / max(1, train.sum()),
            "test %": 100.0 * test / max(1, test.sum()),
        }
    )


def sample_indices(labels: np.ndarray, num_classes: int, per_class: int, seed: int) -> list[np.ndarray]:
    """For each class, up to `per_class` distinct random row indices of that class (seed 002's "one per class").

    Each class draws from its own generator seeded by (seed, class), so asking for more samples per class keeps
    the first ones: the grid grows instead of reshuffling.
    """
    if per_class < 1:
        raise ValueError(f"per_class must be at least 1, got {per_class}")
    picks = []
    for cls in range(num_classes):
        rows = np.flatnonzero(labels == cls)
        order = np.random.default_rng([seed, cls]).permutation(len(rows))
        picks.append(rows[order[:per_class]])
    return picks


def mean_images(images: np.ndarray, labels: np.ndarray, num_classes: int) -> np.ndarray:
    """(num_classes, h, w) mean raw image of each class; NaN for a class with no images."""
    h, w = images.shape[1:3]
    means = np.full((num_classes, h, w), np.nan)
    for cls in range(num_classes):
        members = images[labels == cls]
        if len(members):
            means[cls] = members.reshape(len(members), h, w).mean(axis=0, dtype=np.float64)
    return means


def pixel_histogram(images: np.ndarray, value_max: float) -> pd.DataFrame:
    """Count of every raw pixel value 0..value_max (integer data), with its share of all pixels."""
    values = np.asarray(images).reshape(-1)
    if np.issubdtype(values.dtype, np.integer):
        # In chunks: bincount casts to int64, which for all of MNIST would be a 380 MB temporary.
        top = int(values.max(initial=0))
        counts = np.zeros(max(top, int(value_max)) + 1, dtype=np.int64)
        for start in range(0, len(values), 1 << 22):
            chunk = np.bincount(values[start : start + (1 << 22)])
            counts[: len(chunk)] += chunk
        levels = np.arange(len(counts))
    else:
        counts, edges = np.histogram(values, bins=64, range=(0, value_max))
        levels = (edges[:-1] + edges[1:]) / 2
    return pd.DataFrame({"value": levels, "count": counts, "share %": 100.0 * counts / max(1, counts.sum())})


@dataclass(frozen=True)
class Embedding:
    """A 2-D map of some images: `coords[i]` places image `indices[i]` (rows of the chosen split)."""

    method: str  # "pca" or "tsne"
    coords: np.ndarray  # (n, 2) float
    indices: np.ndarray  # (n,) row indices into the split's images
    labels: np.ndarray  # (n,) class of each point
    explained_variance: tuple[float, float] | None  # PCA only: share of variance on each axis


MAP_MIN_POINTS = 100  # below this a map says little; a split this small is mapped whole


def map_size_range(split_size: int) -> tuple[int, int]:
    """(fewest, most) images the Data page's 2-D map takes from a split of `split_size` images.

    Equal when the split is small (every image is mapped, there is nothing to choose). A split the dataset check
    (`engine.datasets.checks`) lets through always has enough images for both PCA and t-SNE.
    """
    most = min(ProbeLimits().max_tsne_points, split_size)
    return min(MAP_MIN_POINTS, most), most


def embedding(
    images: np.ndarray,
    labels: np.ndarray,
    value_max: float,
    n: int = 1000,
    method: str = "pca",
    seed: int = 0,
    perplexity: float = 30.0,
) -> Embedding:
    """PCA or t-SNE of a stratified subset of `n` images (pixels scaled to 0..1), reproducible for a seed."""
    if method not in EMBEDDINGS:
        raise ValueError(f"method must be one of {EMBEDDINGS}, got {method!r}")
    # At least one image per class, so the map shows every class even for a tiny n.
    rows = stratified_indices(labels, max(n, len(np.unique(labels))), seed)
    x = normalised(images[rows].reshape(len(rows), -1), value_max)
    explained: tuple[float, float] | None
    if method == "pca":
        from sklearn.decomposition import PCA

        pca = PCA(n_components=2, random_state=seed)
        coords = pca.fit_transform(x)
        first, second = pca.explained_variance_ratio_  # one share per component, of two
        explained = (float(first), float(second))
    else:
        from sklearn.manifold import TSNE
        from threadpoolctl import threadpool_limits

        # Perplexity must stay below the sample count; PCA initialisation makes the layout stable across runs.
        tsne = TSNE(
            n_components=2, perplexity=min(perplexity, max(2.0, (len(rows) - 1) / 3)), init="pca", random_state=seed
        )
        # One OpenMP thread: t-SNE of 360 points took 90 s with libgomp's 2 threads on 2 busy cores against 4.6 s
        # with one (spinning threads starve each other); a server shares its cores, so one thread is the safe choice.
        with threadpool_limits(limits=1, user_api="openmp"):
            coords = tsne.fit_transform(x)
        explained = None
    return Embedding(method, np.asarray(coords, dtype=np.float64), rows, labels[rows], explained)


def ascii_thumbnail(image: np.ndarray, value_max: float, max_side: int = 14) -> str:
    """The image as lines of shade characters (for hover text, which cannot hold pictures)."""
    image = np.asarray(image, dtype=np.float64).reshape(image.shape[0], image.shape[1])
    step = int(np.ceil(max(image.shape) / max_side))
    if step > 1:
        h, w = (image.shape[0] // step) * step, (image.shape[1] // step) * step
        image = image[:h, :w].reshape(h // step, step, w // step, step).mean(axis=(1, 3))
    shades = " ░▒▓█"
    levels = np.clip((image / value_max * (len(shades) - 1)).round().astype(int), 0, len(shades) - 1)
    return "\n".join("".join(shades[v] * 2 for v in row) for row in levels)

"""The registry of named datasets: what each is, whether it can be had offline, and loading it (memoised).

`list_datasets()` and `dataset_status()` only look at names and files, so the dashboard can list sources
without importing TensorFlow or scikit-learn. `load_dataset()` tries, for each source, the local places first
(explicit path, environment variable, package or cache folders) and the network last, and says exactly what it
tried when everything fails. Each source's loader lives in its own module (`bundled`, `uci`, `mnist_like`);
every download goes through `network.FETCHERS`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import engine.datasets.memo as memo
import engine.datasets.uploads as uploads
import engine.datasets.views as views
from engine.datasets.bundled import load_digits, status_digits
from engine.datasets.checks import check_arrays
from engine.datasets.dataset import Dataset
from engine.datasets.mnist_like import (
    DEBIAN_FASHION_MNIST_DIR,
    FASHION_MNIST,
    FASHION_MNIST_ENV,
    IDX_NAMES,
    MNIST,
    MNIST_ENV,
    load_mnist_like,
    status_mnist_like,
)
from engine.datasets.noise import NoiseSpec, parse_noisy_name, plant_label_noise
from engine.datasets.uci import OPTDIGITS_CACHE_NAME, load_uci_optdigits, status_optdigits
from engine.errors import DatasetUnavailable, InvalidDataFile

DEFAULT_DATASET = "digits"
# Environment variables are read from the server process's own environment, fixed when it started.
RESTART_NOTE = "a running dashboard does not see variables set after it started"


@dataclass(frozen=True)
class DatasetInfo:
    """What the dashboard shows about a source before (and without) loading it."""

    name: str
    title: str
    image_shape: tuple[int, int, int]
    num_classes: int
    description: str
    how_to_get: str  # how to make it available offline


@dataclass(frozen=True)
class _Source:
    info: DatasetInfo
    status: Callable[[Path | None], tuple[bool, str]]
    load: Callable[[Path | None], Dataset]


_SOURCES: dict[str, _Source] = {
    source.info.name: source
    for source in (
        _Source(
            DatasetInfo(
                name="digits",
                title="Digits (scikit-learn, 8x8)",
                image_shape=(8, 8, 1),
                num_classes=10,
                description="1,797 small 8x8 handwritten digits with pixel counts 0..16; bundled, loads instantly.",
                how_to_get="Nothing to do: it ships with scikit-learn and always works offline.",
            ),
            status_digits,
            load_digits,
        ),
        _Source(
            DatasetInfo(
                name="uci-optdigits",
                title="UCI Optical Digits (8x8)",
                image_shape=(8, 8, 1),
                num_classes=10,
                description="The full UCI optdigits set: 5,620 8x8 digits (0..16) from 43 writers, split 80/20.",
                how_to_get=(
                    "Load it once with an internet connection (it is then kept as "
                    f"{OPTDIGITS_CACHE_NAME} in the datasets cache folder), or copy an existing "
                    f"{OPTDIGITS_CACHE_NAME} (arrays X (n, 64) and y) into that folder."
                ),
            ),
            status_optdigits,
            load_uci_optdigits,
        ),
        _Source(
            DatasetInfo(
                name="mnist",
                title="MNIST (28x28)",
                image_shape=(28, 28, 1),
                num_classes=10,
                description="70,000 28x28 grayscale handwritten digits (0..255), official 60,000/10,000 split.",
                how_to_get=(
                    f"Load it once online (Keras keeps mnist.npz in ~/.keras/datasets), or put mnist.npz or the "
                    f"four IDX files ({IDX_NAMES}, optionally .gz) in a folder and set {MNIST_ENV} to it, then "
                    f"restart the dashboard ({RESTART_NOTE}); on the command line, --data-path FOLDER works too."
                ),
            ),
            lambda local_path: status_mnist_like(MNIST, local_path),
            lambda local_path: load_mnist_like(MNIST, local_path),
        ),
        _Source(
            DatasetInfo(
                name="fashion-mnist",
                title="Fashion-MNIST (28x28)",
                image_shape=(28, 28, 1),
                num_classes=10,
                description="70,000 28x28 grayscale clothing images in 10 classes, official 60,000/10,000 split.",
                how_to_get=(
                    f"On Debian/Ubuntu install the package dataset-fashion-mnist (files in "
                    f"{DEBIAN_FASHION_MNIST_DIR}); or load it once online (Keras keeps it in "
                    f"~/.keras/datasets/fashion-mnist); or put the four IDX files ({IDX_NAMES}, optionally .gz) "
                    f"in a folder and set {FASHION_MNIST_ENV} to it, then restart the dashboard ({RESTART_NOTE}); "
                    "on the command line, --data-path FOLDER works too."
                ),
            ),
            lambda local_path: status_mnist_like(FASHION_MNIST, local_path),
            lambda local_path: load_mnist_like(FASHION_MNIST, local_path),
        ),
    )
}


def _source(name: str) -> _Source:
    if name in _SOURCES:
        return _SOURCES[name]
    if uploads.is_upload_name(name):
        return _upload_source(name)
    if views.is_view_name(name):
        return _view_source(name)
    noisy = parse_noisy_name(name)
    if noisy is not None:
        return _noisy_source(name, *noisy)
    raise DatasetUnavailable(f"unknown dataset {str(name)[:80]!r}; choose one of: {', '.join(_SOURCES)}.")


def _upload_info(
    name: str, image_shape: tuple[int, int, int] = (0, 0, 1), num_classes: int = 10, files: tuple[str, ...] = ()
) -> DatasetInfo:
    return DatasetInfo(
        name=name,
        title=f"Uploaded data {name.removeprefix(uploads.UPLOAD_PREFIX)[:8]}",
        image_shape=image_shape,
        num_classes=num_classes,
        description=f"Uploaded on the Data page ({', '.join(files) or 'IDX or npz'}); kept in this server's cache.",
        how_to_get="Upload the files again on the Data page; uploads are kept in the cache of the server they were "
        "uploaded to.",
    )


def _upload_source(name: str) -> _Source:
    def load(local_path: Path | None) -> Dataset:
        if local_path is not None:
            raise DatasetUnavailable(f"{name} is an uploaded dataset and takes no local path.")
        return uploads.load_upload(name)

    return _Source(_upload_info(name), lambda local_path: uploads.upload_status(name), load)


def _view_source(name: str) -> _Source:
    """A challenge's public view (`views`): rebuilt from its record in the cache, so any process (a page, a report,
    the CLI, a worker) loads the same public part; the base comes through `load_dataset`, memoised and checked."""

    def load(local_path: Path | None) -> Dataset:
        if local_path is not None:
            raise DatasetUnavailable(f"{name} is a dataset view and takes no local path.")
        return views.load_view(name, load_dataset)

    info = DatasetInfo(
        name=name,
        title=f"Public part of {name[:40]}",
        image_shape=(0, 0, 1),
        num_classes=0,
        description="A challenge's public view: the base dataset with only the public part of its test set.",
        how_to_get="Opened from a challenge's runs on the server that runs the challenge; not chosen from the list.",
    )
    return _Source(info, lambda local_path: views.view_status(name), load)


def _noisy_source(name: str, base: str, noise: NoiseSpec) -> _Source:
    """A dataset with planted label noise (`engine.datasets.noise`), rebuilt from its name: the base dataset, then
    the same flips. Its runs (a label-issue search's folds) open on every page and in every worker like any other."""
    inner = _source(base)  # an unknown base is refused here, naming the sources

    def load(local_path: Path | None) -> Dataset:
        return plant_label_noise(load_dataset(base, local_path), noise).dataset

    info = DatasetInfo(
        name=name,
        title=f"{inner.info.title} with {noise.fraction:.1%} of its training labels flipped (seed {noise.seed})",
        image_shape=inner.info.image_shape,
        num_classes=inner.info.num_classes,
        description=f"{base} with planted label noise, for the label-issue search: {inner.info.description}",
        how_to_get=inner.info.how_to_get,
    )
    return _Source(info, inner.status, load)


def _as_path(local_path: str | Path | None) -> Path | None:
    if local_path is None or str(local_path) == "":
        return None
    path = Path(local_path).expanduser()
    # The one door for a local path (status and load): a path the system cannot even look up (a link loop, a name
    # over the system's length limit) is a data-file error naming it, not an OSError or RuntimeError from
    # `Path.resolve` deep in the loader. A missing path passes: its source says where it looked and what to do.
    try:
        os.stat(path)
        path.resolve()
    except FileNotFoundError:
        pass
    except (OSError, RuntimeError) as problem:  # Python before 3.13 raises RuntimeError for a link loop
        reason = getattr(problem, "strerror", None) or "a symbolic link loop"
        raise InvalidDataFile(f"{str(path)[:120]}: cannot be used as a data path ({reason}).") from None
    return path


def list_datasets() -> list[DatasetInfo]:
    """Every registered source, default first, then the uploads kept in the cache; loads nothing. Dataset views (a
    challenge's public part) are not listed: they are opened from a run, never chosen to train on."""
    found = [source.info for source in _SOURCES.values()]
    return found + [_upload_info(u.name, u.image_shape, u.num_classes, u.files) for u in uploads.list_uploads()]


def dataset_status(name: str, local_path: str | Path | None = None) -> tuple[bool, str]:
    """Whether `name` can be loaded without the network, and where from (or what is missing). Loads nothing."""
    source = _source(name)
    path = _as_path(local_path)
    if memo.is_memoised(memo.memo_key(name, path)):
        return True, "loaded in this process"
    return source.status(path)


def load_dataset(name: str = DEFAULT_DATASET, local_path: str | Path | None = None) -> Dataset:
    """The dataset `name`, loaded once per process and per local path, then shared (arrays are read-only).

    Raises `DatasetUnavailable` (unknown name, or nowhere to get it from) or `InvalidDataFile` (a local file
    is malformed, or the data fails the dataset check: too few images or classes, images too small or large).
    Failures are not memoised, so a retry after connecting or copying files works.
    """
    source = _source(name)
    path = _as_path(local_path)
    return memo.load_once(memo.memo_key(name, path), lambda: _checked(source.load(path)))


def _checked(dataset: Dataset) -> Dataset:
    """The dataset, if the one dataset check lets every page and training use it (else `InvalidDataFile`)."""
    check_arrays(dataset.x_train, dataset.y_train, dataset.x_test, dataset.y_test, f"{dataset.name} ({dataset.source})")
    return dataset

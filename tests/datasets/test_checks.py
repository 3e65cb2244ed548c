"""The one dataset check: degenerate data (no images in a split, one class, images of 0x0, 1x1 or wider than the
listing allows) is refused at registration and at loading, a bad upload planted in the cache is listed as
unavailable with its reason, and the 2-D map's range agrees with the smallest dataset the check lets through."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

from engine.datasets import dataset_status, list_datasets, load_dataset
from engine.datasets.catalog import DIGIT_CLASS_NAMES, make_dataset
from engine.datasets.uploads import register_upload, uploads_dir
from engine.errors import InvalidDataFile
from engine.exploration import embedding, map_size_range
from engine.limits import data_limits
from tests.datasets.helpers import idx_bytes, write_idx

IDX_NAMES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def _arrays(n_train: int, n_test: int, side: tuple[int, int] = (8, 8), classes: int = 10):
    rng = np.random.default_rng(0)
    x_train = rng.integers(0, 256, size=(n_train, *side), dtype=np.uint8)
    x_test = rng.integers(0, 256, size=(n_test, *side), dtype=np.uint8)
    y_train = (np.arange(n_train) % classes).astype(np.uint8)
    y_test = (np.arange(n_test) % classes).astype(np.uint8)
    return x_train, y_train, x_test, y_test


def _idx_files(arrays) -> list[tuple[str, bytes]]:
    return [(name, idx_bytes(array)) for name, array in zip(IDX_NAMES, arrays, strict=True)]


def _npz_file(arrays) -> list[tuple[str, bytes]]:
    buffer = io.BytesIO()
    np.savez(buffer, **dict(zip(("x_train", "y_train", "x_test", "y_test"), arrays, strict=True)))
    return [("data.npz", buffer.getvalue())]


@pytest.mark.parametrize(
    "arrays, message",
    [
        (_arrays(0, 10), "the training split has 0 image"),
        (_arrays(30, 0), "the test split has 0 image"),
        (_arrays(2, 10), "the training split has 2 image"),
        (_arrays(30, 10, side=(1, 1)), "the images are 1x1 pixels; each side must be 4 to 512"),
        (_arrays(30, 10, side=(0, 0)), "the images are 0x0 pixels"),
        (_arrays(5, 5, side=(4, 600)), "the images are 4x600 pixels"),
        (_arrays(30, 10, classes=1), "the training labels hold 1 class"),
    ],
)
@pytest.mark.parametrize("kind", ["idx", "npz"])
def test_degenerate_data_is_refused_at_registration_and_nothing_is_kept(isolated_cache, arrays, message, kind):
    files = _idx_files(arrays) if kind == "idx" else _npz_file(arrays)
    with pytest.raises(InvalidDataFile, match=message):
        register_upload(files)
    assert not uploads_dir().exists() or list(uploads_dir().iterdir()) == []


def test_the_smallest_data_the_check_allows_is_registered_mapped_and_listed(isolated_cache):
    limits = data_limits()
    n, side = limits.min_images_per_split, limits.min_side
    name = register_upload(_idx_files(_arrays(n, n, side=(side, side), classes=limits.min_train_classes)))
    assert dataset_status(name)[0] is True
    dataset = load_dataset(name)
    # The map's range agrees: a split this small is mapped whole, and both methods run on it.
    assert map_size_range(n) == (n, n)
    for method in ("pca", "tsne"):
        result = embedding(dataset.x_train, dataset.y_train, dataset.value_max, n=n, method=method)
        assert result.coords.shape == (n, 2) and np.isfinite(result.coords).all()
    assert map_size_range(60_000) == (100, 3000)


def test_a_local_folder_with_no_test_images_is_refused_where_training_loads_it(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    for name, array in zip(IDX_NAMES, _arrays(30, 0), strict=True):
        write_idx(folder / name, array)
    with pytest.raises(InvalidDataFile, match="the test split has 0 image"):
        load_dataset("mnist", local_path=folder)


def _plant(files: dict[str, bytes], info: str, folder_name: str = "00112233445566ff") -> str:
    folder = uploads_dir() / folder_name
    folder.mkdir(parents=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    (folder / "info.json").write_text(info)
    return "upload-" + folder.name


@pytest.mark.parametrize(
    "info, reason",
    [
        (
            {"image_shape": [1, 1, 1], "num_classes": 10, "files": [], "n_train": 30, "n_test": 10},
            "the images are 1x1 pixels",
        ),
        (
            {"image_shape": [4, 5000, 1], "num_classes": 10, "files": [], "n_train": 30, "n_test": 10},
            "the images are 4x5000 pixels",
        ),
        ({"image_shape": [8, 8, 1], "num_classes": 10, "files": [], "n_train": 0, "n_test": 10}, "training split"),
        ("[" * 5000, "cannot be read"),
        ({"image_shape": "8x8"}, "cannot be read"),
    ],
)
def test_a_bad_upload_planted_in_the_cache_is_listed_as_unavailable_with_its_reason(isolated_cache, info, reason):
    name = _plant({}, info if isinstance(info, str) else json.dumps(info))
    assert name in [row.name for row in list_datasets()]  # listed, so a page holding its name finds it
    available, detail = dataset_status(name)
    assert available is False and reason in detail


def test_a_planted_upload_with_an_old_record_is_refused_when_loaded(isolated_cache):
    # A record without counts (as kept before they were recorded) passes the listing; loading applies the check.
    arrays = _arrays(2, 10)
    # Under the name its content gives it, so only the dataset check can refuse it.
    fingerprint = make_dataset("x", arrays[:2], arrays[2:], DIGIT_CLASS_NAMES, 255, "").fingerprint
    record = json.dumps({"image_shape": [8, 8, 1], "num_classes": 10, "files": []})
    name = _plant(dict(_idx_files(arrays)), record, fingerprint[:16])
    assert dataset_status(name)[0] is True
    with pytest.raises(InvalidDataFile, match="the training split has 2 image"):
        load_dataset(name)

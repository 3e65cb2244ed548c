"""IDX and npz readers: good files load exactly, every malformed file gets a readable InvalidDataFile."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from engine.datasets import find_idx_files, load_idx_pair, load_npz, read_idx
from engine.errors import InvalidDataFile
from tests.datasets.helpers import idx_bytes, make_images, write_idx


@pytest.mark.parametrize("gz", [False, True])
def test_read_idx_round_trip(tmp_path, gz):
    images, _ = make_images(5, size=7)
    path = write_idx(tmp_path / "images", images, gz=gz)  # no .gz suffix: gzip is found by its magic bytes
    result = read_idx(path)
    assert result.dtype == np.uint8
    assert result.shape == (5, 7, 7)
    np.testing.assert_array_equal(result, images)


def test_read_idx_wrong_magic(tmp_path):
    path = tmp_path / "bad"
    path.write_bytes(b"\x12\x34\x08\x01" + (3).to_bytes(4, "big") + b"abc")
    with pytest.raises(InvalidDataFile) as caught:
        read_idx(path)
    message = str(caught.value)
    assert str(path) in message and "0x12 0x34" in message and "two zero bytes" in message


def test_read_idx_rejects_non_uint8_type(tmp_path):
    path = tmp_path / "floats"
    path.write_bytes(idx_bytes(np.zeros((2, 3), dtype=np.float32), type_code=0x0D))
    with pytest.raises(InvalidDataFile) as caught:
        read_idx(path)
    message = str(caught.value)
    assert "0x0d" in message and "float" in message and "0x08" in message


def test_read_idx_truncated(tmp_path):
    images, _ = make_images(4, size=5)
    path = tmp_path / "short"
    path.write_bytes(idx_bytes(images)[:-7])
    with pytest.raises(InvalidDataFile, match="truncated") as caught:
        read_idx(path)
    assert "100 bytes" in str(caught.value) and "93 bytes" in str(caught.value)


def test_read_idx_trailing_bytes(tmp_path):
    images, _ = make_images(4, size=5)
    path = tmp_path / "long"
    path.write_bytes(gzip.compress(idx_bytes(images) + b"\x00\x00"))
    with pytest.raises(InvalidDataFile, match="extra data"):
        read_idx(path)


def test_read_idx_damaged_gzip_and_missing_file(tmp_path):
    path = tmp_path / "damaged.gz"
    path.write_bytes(gzip.compress(idx_bytes(np.zeros((50, 9), np.uint8)))[:-10])
    with pytest.raises(InvalidDataFile, match="gzip"):
        read_idx(path)
    with pytest.raises(InvalidDataFile, match="not found"):
        read_idx(tmp_path / "absent")


def test_load_idx_pair_good(tmp_path):
    images, labels = make_images(12, size=6)
    x, y = load_idx_pair(write_idx(tmp_path / "i", images), write_idx(tmp_path / "l", labels, gz=True))
    assert x.shape == (12, 6, 6) and y.dtype == np.int64
    np.testing.assert_array_equal(y, labels)


def test_load_idx_pair_count_mismatch(tmp_path):
    images, labels = make_images(12, size=6)
    with pytest.raises(InvalidDataFile) as caught:
        load_idx_pair(write_idx(tmp_path / "i", images), write_idx(tmp_path / "l", labels[:11]))
    assert "12 images" in str(caught.value) and "11 labels" in str(caught.value)


def test_load_idx_pair_labels_out_of_range(tmp_path):
    images, labels = make_images(12, size=6)
    labels = labels.copy()
    labels[3] = 10
    labels[4] = 200
    with pytest.raises(InvalidDataFile) as caught:
        load_idx_pair(write_idx(tmp_path / "i", images), write_idx(tmp_path / "l", labels))
    assert "0..9" in str(caught.value) and "10, 200" in str(caught.value)


def test_load_idx_pair_swapped_files(tmp_path):
    images, labels = make_images(12, size=6)
    with pytest.raises(InvalidDataFile, match="swapped"):
        load_idx_pair(write_idx(tmp_path / "l", labels), write_idx(tmp_path / "i", images))


def test_find_idx_files_name_variants(tmp_path):
    images, labels = make_images(3, size=4)
    write_idx(tmp_path / "train-images.idx3-ubyte", images)
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", labels, gz=True)
    write_idx(tmp_path / "t10k-images.idx3-ubyte.gz", images, gz=True)
    assert set(find_idx_files(tmp_path)) == {"train_images", "train_labels", "test_images"}
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", labels)
    found = find_idx_files(tmp_path)
    assert found["test_labels"].name == "t10k-labels-idx1-ubyte"
    assert found["test_images"].name == "t10k-images.idx3-ubyte.gz"
    assert find_idx_files(tmp_path / "nowhere") == {}


def _save_npz(path, **overrides):
    x_train, y_train = make_images(20, size=8)
    x_test, y_test = make_images(6, size=8, seed=3)
    arrays = {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}
    arrays.update(overrides)
    np.savez(path, **arrays)
    return arrays


def test_load_npz_good(tmp_path):
    arrays = _save_npz(tmp_path / "mnist.npz", y_train=make_images(20)[1].astype(np.int32))
    (x_train, y_train), (x_test, y_test) = load_npz(tmp_path / "mnist.npz")
    assert x_train.dtype == np.uint8 and y_train.dtype == np.int64
    np.testing.assert_array_equal(x_test, arrays["x_test"])
    assert x_train.shape == (20, 8, 8) and len(y_test) == 6


def test_load_npz_refuses_pickles(tmp_path):
    labels = np.empty(20, dtype=object)
    labels[:] = [str(i % 10) for i in range(20)]
    np.savez(
        tmp_path / "p.npz",
        x_train=make_images(20)[0],
        y_train=labels,
        x_test=make_images(6)[0],
        y_test=make_images(6)[1],
    )
    with pytest.raises(InvalidDataFile, match="pickles are refused") as caught:
        load_npz(tmp_path / "p.npz")
    assert "y_train" in str(caught.value)


@pytest.mark.parametrize(
    "overrides, expected",
    [
        ({"x_train": np.zeros((20, 64), np.uint8)}, "shaped (count, height, width)"),
        ({"y_test": np.zeros((6, 10), np.uint8)}, "shaped (count,)"),
        ({"x_train": np.zeros((20, 8, 8), np.float32)}, "integer pixel values"),
        ({"x_test": np.full((6, 8, 8), 300, np.int32)}, "0..255"),
        ({"y_train": np.zeros(19, np.uint8)}, "20 images but 'y_train' holds 19"),
        ({"x_test": np.zeros((6, 9, 9), np.uint8)}, "same size"),
    ],
)
def test_load_npz_rejects_bad_arrays(tmp_path, overrides, expected):
    _save_npz(tmp_path / "bad.npz", **overrides)
    with pytest.raises(InvalidDataFile) as caught:
        load_npz(tmp_path / "bad.npz")
    assert expected in str(caught.value) and "bad.npz" in str(caught.value)


def test_load_npz_missing_key_and_not_an_archive(tmp_path):
    np.savez(tmp_path / "partial.npz", x_train=np.zeros((2, 3, 3), np.uint8))
    with pytest.raises(InvalidDataFile, match="missing y_train, x_test, y_test"):
        load_npz(tmp_path / "partial.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip at all")
    with pytest.raises(InvalidDataFile, match="npz"):
        load_npz(tmp_path / "junk.npz")

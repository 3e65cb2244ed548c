"""Uploaded datasets: checked like a local folder, kept under their fingerprint, reopened by name, refused when
misnamed, too large, a decompression bomb, or edited after upload."""

from __future__ import annotations

import gzip
import io
import zipfile

import numpy as np
import pytest

from engine.datasets import clear_dataset_cache, dataset_status, list_datasets, load_dataset
from engine.datasets.identity import CUSTOM
from engine.datasets.uploads import register_upload, uploads_dir
from engine.errors import DatasetUnavailable, InvalidDataFile
from tests.datasets.helpers import idx_bytes, make_images

IDX_NAMES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def _idx_upload(gz: bool = True) -> tuple[list[tuple[str, bytes]], dict]:
    x_train, y_train = make_images(40, size=12, seed=3)
    x_test, y_test = make_images(20, size=12, seed=4)
    arrays = dict(zip(IDX_NAMES, (x_train, y_train, x_test, y_test), strict=True))
    files = []
    for name, array in arrays.items():
        data = idx_bytes(array)
        files.append((name + ".gz", gzip.compress(data)) if gz else (name, data))
    return files, arrays


def test_an_idx_upload_is_registered_listed_and_reopened_by_name(isolated_cache):
    files, arrays = _idx_upload()
    name = register_upload(files)
    assert name.startswith("upload-") and name in [info.name for info in list_datasets()]
    assert dataset_status(name)[0] is True
    clear_dataset_cache()  # as a fresh server process would: only the cache folder is left
    dataset = load_dataset(name)
    assert np.array_equal(dataset.x_train[..., 0], arrays["train-images-idx3-ubyte"])
    assert np.array_equal(dataset.y_test, arrays["t10k-labels-idx1-ubyte"])
    assert dataset.identity == CUSTOM and name == "upload-" + dataset.fingerprint[:16]
    # The raw files of the same arrays are the same dataset: one name, one folder.
    raw_files, _ = _idx_upload(gz=False)
    assert register_upload(raw_files) == name
    assert len([p for p in uploads_dir().iterdir() if not p.name.startswith(".")]) == 1


def test_an_npz_upload_loads(isolated_cache):
    x, y = make_images(30, size=9)
    buffer = io.BytesIO()
    np.savez(buffer, x_train=x, y_train=y, x_test=x[:10], y_test=y[:10])
    dataset = load_dataset(register_upload([("mine.npz", buffer.getvalue())]))
    assert dataset.image_shape == (9, 9, 1)


@pytest.mark.parametrize(
    "files, message",
    [
        ([], "No files were uploaded"),
        ([("../../etc/passwd.npz", b"x")], "is not one this page reads"),
        ([(".hidden.npz", b"x")], "is not one this page reads"),
        ([("notes.txt", b"x")], "is not one this page reads"),
        ([("a.npz", b"PK not a zip")], "a.npz: expected an npz archive"),
        ([("train-images-idx3-ubyte", b"\0\0\x08\x03")], "only some IDX files"),
    ],
)
def test_bad_uploads_are_refused_and_leave_nothing(isolated_cache, files, message):
    with pytest.raises(InvalidDataFile, match=message) as caught:
        register_upload(files)
    assert "incoming" not in str(caught.value)  # the private folder's path is never shown
    assert not uploads_dir().exists() or list(uploads_dir().iterdir()) == []


def test_an_upload_over_the_cap_is_refused_before_reading(isolated_cache, monkeypatch):
    monkeypatch.setenv("DIGIT_LAB_MAX_UPLOAD_MB", "1")
    with pytest.raises(InvalidDataFile, match="over this server's 1,048,576-byte limit"):
        register_upload([("big.npz", b"\0" * (2 << 20))])


def test_a_gzip_bomb_is_refused_at_the_decoded_cap(isolated_cache, monkeypatch):
    monkeypatch.setenv("DIGIT_LAB_HOSTED", "1")
    monkeypatch.setenv("DIGIT_LAB_MAX_DECODED_MB", "1")
    files, _ = _idx_upload()
    # A valid header declaring 2 MB of zeros, which gzip squeezes to a few kB.
    bomb = bytes([0, 0, 8, 3]) + b"".join(int(d).to_bytes(4, "big") for d in (2000, 32, 32)) + bytes(2000 * 1024)
    files[0] = (files[0][0], gzip.compress(bomb))
    with pytest.raises(InvalidDataFile, match="decompresses to over 1,048,576 bytes"):
        register_upload(files)


def test_a_zip_bomb_npz_is_refused_from_its_directory(isolated_cache, monkeypatch):
    monkeypatch.setenv("DIGIT_LAB_HOSTED", "1")
    monkeypatch.setenv("DIGIT_LAB_MAX_DECODED_MB", "1")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for key in ("x_train", "y_train", "x_test", "y_test"):
            payload = io.BytesIO()
            np.save(payload, np.zeros((3000, 28, 28), dtype=np.uint8))
            archive.writestr(f"{key}.npy", payload.getvalue())
    with pytest.raises(InvalidDataFile, match="'x_train' unpacks to 2,352,128 bytes"):
        register_upload([("bomb.npz", buffer.getvalue())])


def test_an_upload_edited_after_registering_is_refused(isolated_cache):
    files, _ = _idx_upload(gz=False)
    name = register_upload(files)
    clear_dataset_cache()
    folder = uploads_dir() / name.removeprefix("upload-")
    labels = folder / "t10k-labels-idx1-ubyte"
    data = bytearray(labels.read_bytes())
    data[-1] = (data[-1] + 1) % 10
    labels.write_bytes(bytes(data))
    with pytest.raises(InvalidDataFile, match="changed after upload"):
        load_dataset(name)


def test_an_unknown_upload_name_says_to_upload_again(isolated_cache):
    with pytest.raises(DatasetUnavailable, match="upload the files again"):
        load_dataset("upload-0123456789abcdef")
    with pytest.raises(DatasetUnavailable, match="unknown dataset"):
        load_dataset("upload-../../etc")


def test_uploading_the_same_files_again_repairs_an_upload_edited_on_disk(isolated_cache):
    files, arrays = _idx_upload(gz=False)
    name = register_upload(files)
    clear_dataset_cache()
    folder = uploads_dir() / name.removeprefix("upload-")
    labels = folder / "t10k-labels-idx1-ubyte"
    labels.write_bytes(labels.read_bytes()[:-1] + bytes([(labels.read_bytes()[-1] + 1) % 10]))
    with pytest.raises(InvalidDataFile, match="changed after upload"):
        load_dataset(name)
    assert register_upload(files) == name  # the same files, uploaded again
    repaired = load_dataset(name)
    assert np.array_equal(repaired.y_test, arrays["t10k-labels-idx1-ubyte"])
    assert sorted(p.name for p in uploads_dir().iterdir()) == [folder.name]  # nothing aside is left behind


def test_two_files_for_one_part_are_refused_naming_both(isolated_cache):
    files, _ = _idx_upload(gz=False)
    labels = dict(files)["train-labels-idx1-ubyte"]
    with pytest.raises(InvalidDataFile, match="'train-labels-idx1-ubyte' and 'train-labels.idx1-ubyte'"):
        register_upload([*files, ("train-labels.idx1-ubyte", labels)])
    assert not uploads_dir().exists() or list(uploads_dir().iterdir()) == []

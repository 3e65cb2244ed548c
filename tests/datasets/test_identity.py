"""Dataset identity by checksum: decoded-array checksums agree across gz, raw IDX and npz; files offered as one
dataset that are another load as that one with a warning; custom data says so; named folders never fall back."""

from __future__ import annotations

import gzip
import hashlib
import shutil
from pathlib import Path

import numpy as np
import pytest

from engine.datasets import load_dataset
from engine.datasets import mnist_like as mnist_like_module
from engine.datasets.identity import CUSTOM, KNOWN, PUBLISHED, content_checksum, identify
from engine.errors import DatasetUnavailable
from tests.datasets.helpers import write_idx_folder

FASHION = Path("/usr/share/datasets/fashion-mnist")
needs_fashion = pytest.mark.skipif(
    not (FASHION / "train-images-idx3-ubyte.gz").exists(), reason="Debian's dataset-fashion-mnist is not installed"
)


def _independent_checksum(folder: Path) -> str:
    """The documented recipe, from the files' bytes alone: SHA-256 of each IDX payload after its header, then of
    the four hex digests joined by commas (no engine code involved)."""
    parts = []
    for stem, header in (("train-images-idx3-ubyte", 16), ("train-labels-idx1-ubyte", 8)) + (
        ("t10k-images-idx3-ubyte", 16),
        ("t10k-labels-idx1-ubyte", 8),
    ):
        raw = gzip.decompress((folder / f"{stem}.gz").read_bytes())
        parts.append(hashlib.sha256(raw[header:]).hexdigest())
    return hashlib.sha256(",".join(parts).encode()).hexdigest()


@needs_fashion
def test_the_carried_fashion_checksum_is_the_debian_files_by_the_documented_recipe():
    assert KNOWN["fashion-mnist"].decoded_sha256 == _independent_checksum(FASHION)


@needs_fashion
def test_gz_raw_and_npz_copies_of_fashion_mnist_agree_and_are_published(tmp_path, monkeypatch):
    raw = tmp_path / "raw"
    raw.mkdir()
    for gz in FASHION.glob("*.gz"):
        (raw / gz.name.removesuffix(".gz")).write_bytes(gzip.decompress(gz.read_bytes()))
    from engine.datasets.idx import load_idx_pair

    train = load_idx_pair(raw / "train-images-idx3-ubyte", raw / "train-labels-idx1-ubyte")
    test = load_idx_pair(raw / "t10k-images-idx3-ubyte", raw / "t10k-labels-idx1-ubyte")
    npz = tmp_path / "fashion-mnist.npz"
    np.savez(npz, x_train=train[0], y_train=train[1], x_test=test[0], y_test=test[1])
    loaded = [load_dataset("fashion-mnist", local_path=where) for where in (FASHION, raw, npz)]
    assert {d.identity for d in loaded} == {PUBLISHED}
    assert len({d.fingerprint for d in loaded}) == 1  # the same arrays, so the same cached runs


@needs_fashion
def test_fashion_files_offered_as_mnist_are_named_fashion_mnist_with_a_warning(monkeypatch):
    monkeypatch.setenv(mnist_like_module.MNIST_ENV, str(FASHION))
    dataset = load_dataset("mnist")
    assert dataset.name == "fashion-mnist" and dataset.class_names[0] == "T-shirt/top"
    assert dataset.warnings and dataset.warnings[0].startswith("These are Fashion-MNIST files, not MNIST")
    assert "Fashion-MNIST" in dataset.provenance and "LeCun" not in dataset.provenance


def test_custom_files_say_so_on_the_card_and_in_the_provenance(tmp_path, no_keras_cache):
    write_idx_folder(tmp_path / "custom")
    fashion = load_dataset("fashion-mnist", local_path=tmp_path / "custom")
    assert fashion.identity == CUSTOM and fashion.provenance.startswith("These arrays are custom")
    mnist = load_dataset("mnist", local_path=tmp_path / "custom")
    # No decoded MNIST checksum is carried, so the engine cannot call a re-encoded copy custom; it says so.
    assert mnist.identity.startswith("unverified") and "mnist.npz" not in mnist.identity


def test_published_file_hashes_identify_mnist(tmp_path, monkeypatch):
    # The real mnist.npz is not on this machine: plant the hash of a stand-in file, computed here with hashlib.
    stand_in = tmp_path / "mnist.npz"
    stand_in.write_bytes(b"stand-in for the published archive")
    digest = hashlib.sha256(stand_in.read_bytes()).hexdigest()
    monkeypatch.setitem(KNOWN["mnist"].file_hashes, "mnist.npz", ("sha256", digest))
    assert identify("mnist", "0" * 64, [stand_in]).status == PUBLISHED
    assert identify("fashion-mnist", "0" * 64, [stand_in]).same_as == "mnist"
    stand_in.write_bytes(b"edited")
    assert identify("mnist", "0" * 64, [stand_in]).status.startswith("unverified")


def test_bundled_digits_are_the_published_copy():
    assert load_dataset("digits").identity == PUBLISHED


def test_checksum_of_arrays_outside_uint8_is_empty_not_wrapped():
    x = np.zeros((2, 3, 3), dtype=np.int64)
    y = np.array([0, 300])
    assert content_checksum(x, y, x, y) == ""


@pytest.mark.parametrize(
    "prepare, missing",
    [
        (lambda folder: None, "holds no IDX files"),
        (lambda folder: (folder / "t10k-labels-idx1-ubyte.gz").unlink(), "t10k-labels-idx1-ubyte"),
    ],
    ids=["empty", "incomplete"],
)
@needs_fashion
def test_a_named_folder_that_cannot_be_used_is_an_error_never_a_fallback(tmp_path, monkeypatch, prepare, missing):
    folder = tmp_path / "named"
    folder.mkdir()
    if missing != "holds no IDX files":
        for gz in FASHION.glob("*.gz"):
            shutil.copy(gz, folder / gz.name)
    prepare(folder)
    # Debian's complete copy is right there; it must not be used instead of the folder the user named.
    monkeypatch.setenv(mnist_like_module.FASHION_MNIST_ENV, str(folder))
    with pytest.raises(DatasetUnavailable) as caught:
        load_dataset("fashion-mnist")
    message = str(caught.value)
    assert str(folder) in message and missing in message and "$DIGIT_LAB_FASHION_MNIST_DIR" in message

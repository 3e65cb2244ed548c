"""The dataset registry: cheap listing and status, loading each source, memoising, and offline failures."""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import subprocess
import sys
import threading
import urllib.error
from pathlib import Path

import numpy as np
import pytest

from engine.datasets import (
    DatasetInfo,
    clear_dataset_cache,
    dataset_status,
    list_datasets,
    load_dataset,
    mnist_like,
    network,
    registry,
)
from engine.errors import DatasetUnavailable, InvalidDataFile
from tests.datasets.helpers import write_idx_folder

REPO_ROOT = Path(__file__).resolve().parents[2]


def _offline(*_args, **_kwargs):
    raise socket.gaierror(-2, "Name or service not known")


def _files_under(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


def test_import_is_cheap_and_lists_without_loading():
    code = (
        "import sys, json, engine.datasets as d; infos = d.list_datasets(); d.dataset_status('digits');"
        "print(json.dumps([sorted(m for m in ('tensorflow', 'keras', 'sklearn', 'ucimlrepo', 'pandas', 'streamlit')"
        " if m in sys.modules), [i.name for i in infos]]))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    heavy, names = json.loads(out.stdout.strip().splitlines()[-1])
    assert heavy == []
    assert names == ["digits", "uci-optdigits", "mnist", "fashion-mnist"]


def test_dataset_info_fields():
    infos = {info.name: info for info in list_datasets()}
    assert isinstance(infos["mnist"], DatasetInfo)
    assert infos["mnist"].image_shape == (28, 28, 1) and infos["digits"].image_shape == (8, 8, 1)
    assert all(info.num_classes == 10 and info.how_to_get and info.description for info in infos.values())
    assert mnist_like.MNIST_ENV in infos["mnist"].how_to_get
    with pytest.raises(dataclasses.FrozenInstanceError):
        infos["mnist"].name = "other"


def test_unknown_name_lists_valid_names():
    with pytest.raises(DatasetUnavailable) as caught:
        load_dataset("emnist")
    message = str(caught.value)
    assert "emnist" in message
    assert all(name in message for name in ("digits", "uci-optdigits", "mnist", "fashion-mnist"))
    with pytest.raises(DatasetUnavailable):
        dataset_status("emnist")


def test_digits_split_values_and_sharing():
    data = load_dataset("digits")
    assert (len(data.y_train), len(data.y_test)) == (1437, 360)
    assert data.image_shape == (8, 8, 1) and data.x_train.dtype == np.uint8 and data.y_train.dtype == np.int64
    assert data.x_train.min() == 0 and data.x_train.max() == 16 and data.value_max == 16
    assert data.class_names == tuple(str(d) for d in range(10))
    # Stratified: each class's share of the test set matches its share of the whole within one sample.
    all_counts = np.bincount(np.concatenate([data.y_train, data.y_test]), minlength=10)
    test_counts = np.bincount(data.y_test, minlength=10)
    assert np.all(np.abs(test_counts - all_counts * 360 / 1797) <= 1)
    assert "scikit-learn" in data.source and "Alpaydin" in data.provenance
    assert load_dataset("digits") is data  # memoised, shared
    for array in (data.x_train, data.y_train, data.x_test, data.y_test):
        assert not array.flags.writeable
    with pytest.raises(ValueError):
        data.x_train[0, 0, 0, 0] = 1


def test_digits_refuses_local_path(tmp_path):
    with pytest.raises(DatasetUnavailable, match="takes no local path"):
        load_dataset("digits", local_path=tmp_path)


def test_concurrent_loads_share_one_dataset(monkeypatch):
    calls = []
    original = registry._SOURCES["digits"]

    def counting_load(local_path):
        calls.append(local_path)
        return original.load(local_path)

    monkeypatch.setitem(registry._SOURCES, "digits", registry._Source(original.info, original.status, counting_load))
    results = []
    threads = [threading.Thread(target=lambda: results.append(load_dataset("digits"))) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1
    assert len(results) == 4 and all(result is results[0] for result in results)


@pytest.mark.skipif(
    not mnist_like.DEBIAN_FASHION_MNIST_DIR.is_dir(), reason="Debian package dataset-fashion-mnist not installed"
)
def test_fashion_mnist_from_debian_package(no_keras_cache, monkeypatch):
    monkeypatch.setitem(network.FETCHERS, "fashion-mnist", _offline)
    available, detail = dataset_status("fashion-mnist")
    assert available and "dataset-fashion-mnist" in detail
    data = load_dataset("fashion-mnist")
    assert (len(data.x_train), len(data.x_test)) == (60000, 10000)
    assert data.image_shape == (28, 28, 1) and data.x_train.dtype == np.uint8 and data.value_max == 255
    assert data.num_classes == 10 and data.class_names[0] == "T-shirt/top" and data.class_names[9] == "Ankle boot"
    assert set(np.unique(data.y_test)) == set(range(10))
    assert str(mnist_like.DEBIAN_FASHION_MNIST_DIR) in data.source and "Xiao" in data.provenance


def test_mnist_from_local_idx_folder(tmp_path, no_keras_cache, monkeypatch):
    monkeypatch.setitem(network.FETCHERS, "mnist", _offline)
    folder = tmp_path / "mnist-files"
    written = write_idx_folder(folder)
    data = load_dataset("mnist", local_path=folder)
    assert (len(data.x_train), len(data.x_test)) == (30, 10)
    assert data.image_shape == (28, 28, 1) and data.value_max == 255
    np.testing.assert_array_equal(data.x_train[..., 0], written["x_train"])
    np.testing.assert_array_equal(data.y_test, written["y_test"])
    assert str(folder) in data.source and "LeCun" in data.provenance
    assert load_dataset("mnist", local_path=str(folder)) is data  # same key for str and Path


def test_mnist_from_env_var_folder(tmp_path, no_keras_cache, monkeypatch):
    monkeypatch.setitem(network.FETCHERS, "mnist", _offline)
    folder = tmp_path / "env-mnist"
    write_idx_folder(folder, n_train=20, n_test=5, gz=False)
    assert dataset_status("mnist")[0] is False
    monkeypatch.setenv(mnist_like.MNIST_ENV, str(folder))
    available, detail = dataset_status("mnist")
    assert available and mnist_like.MNIST_ENV in detail
    data = load_dataset("mnist")
    assert (len(data.y_train), len(data.y_test)) == (20, 5)
    assert mnist_like.MNIST_ENV in data.source


def test_mnist_from_local_npz_file(tmp_path, no_keras_cache):
    rng = np.random.default_rng(0)
    path = tmp_path / "mnist.npz"
    np.savez(
        path,
        x_train=rng.integers(0, 256, (12, 28, 28), dtype=np.uint8),
        y_train=np.arange(12) % 10,
        x_test=rng.integers(0, 256, (4, 28, 28), dtype=np.uint8),
        y_test=np.arange(4),
    )
    data = load_dataset("mnist", local_path=path)
    assert (len(data.y_train), len(data.y_test)) == (12, 4)
    assert load_dataset("mnist", local_path=tmp_path).x_train.shape == (12, 28, 28, 1)  # folder holding mnist.npz


def test_mnist_local_path_without_data(tmp_path, no_keras_cache):
    with pytest.raises(DatasetUnavailable) as caught:
        load_dataset("mnist", local_path=tmp_path)
    assert "train-images-idx3-ubyte" in str(caught.value) and "mnist.npz" in str(caught.value)


def test_mnist_malformed_local_file_is_an_error(tmp_path, no_keras_cache, monkeypatch):
    folder = tmp_path / "broken"
    write_idx_folder(folder, gz=False)
    (folder / "t10k-labels-idx1-ubyte").write_bytes(b"\x00\x00\x08\x01" + (10).to_bytes(4, "big") + b"\x01" * 4)
    monkeypatch.setenv(mnist_like.MNIST_ENV, str(folder))
    with pytest.raises(InvalidDataFile, match="truncated"):
        load_dataset("mnist")


def test_mnist_offline_error_is_readable(isolated_cache, no_keras_cache, monkeypatch):
    seen_timeouts = []

    def offline_fetch():
        seen_timeouts.append(socket.getdefaulttimeout())
        _offline()

    monkeypatch.setitem(network.FETCHERS, "mnist", offline_fetch)
    before = socket.getdefaulttimeout()
    with pytest.raises(DatasetUnavailable) as caught:
        load_dataset("mnist")
    message = str(caught.value)
    assert message.startswith("mnist is not available offline")
    assert "gaierror" in message and mnist_like.MNIST_ENV in message and "'digits'" in message
    assert str(no_keras_cache / ".keras" / "datasets" / "mnist.npz") in message  # the Keras cache it looked in
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    assert seen_timeouts == [network.NETWORK_TIMEOUT_S] and socket.getdefaulttimeout() == before
    assert _files_under(isolated_cache) == []
    available, detail = dataset_status("mnist")
    assert not available and "not found offline" in detail


def test_uci_optdigits_offline_error_is_readable(isolated_cache, monkeypatch):
    unreachable = urllib.error.URLError("offline")
    monkeypatch.setitem(network.FETCHERS, "uci-optdigits", lambda: (_ for _ in ()).throw(unreachable))
    with pytest.raises(DatasetUnavailable) as caught:
        load_dataset("uci-optdigits")
    message = str(caught.value)
    assert message.startswith("uci-optdigits is not available offline")
    cache_file = isolated_cache / "datasets" / "uci-optdigits.npz"
    assert str(cache_file) in message and "URLError" in message
    assert "connect" in message and "'digits'" in message and "copy" in message
    assert _files_under(isolated_cache) == []
    # The failure is remembered: the next load answers at once without trying the network again...
    calls = []
    monkeypatch.setitem(network.FETCHERS, "uci-optdigits", lambda: calls.append(1) or _offline())
    with pytest.raises(DatasetUnavailable, match="URLError.*not retried in this process until asked"):
        load_dataset("uci-optdigits")
    assert calls == []
    # ...until the user asks for a retry.
    network.forget_failure("uci-optdigits")
    with pytest.raises(DatasetUnavailable, match="gaierror"):
        load_dataset("uci-optdigits")
    assert calls == [1]
    assert dataset_status("uci-optdigits")[0] is False


def _fake_optdigits(n=100, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 17, size=(n, 64)), np.arange(n) % 10


def test_uci_optdigits_from_cached_npz(isolated_cache, monkeypatch):
    monkeypatch.setitem(network.FETCHERS, "uci-optdigits", _offline)
    x, y = _fake_optdigits()
    folder = isolated_cache / "datasets"
    folder.mkdir(parents=True)
    np.savez(folder / "uci-optdigits.npz", X=x, y=y)
    assert dataset_status("uci-optdigits") == (True, f"cached at {folder / 'uci-optdigits.npz'}")
    data = load_dataset("uci-optdigits")
    assert (len(data.y_train), len(data.y_test)) == (80, 20)
    assert data.image_shape == (8, 8, 1) and data.value_max == 16 and data.x_train.max() <= 16
    assert "cache file" in data.source and "10.24432/C50P49" in data.provenance
    # The split keeps every cached image exactly once.
    rows = {row.tobytes() for row in np.concatenate([data.x_train, data.x_test]).reshape(100, 64).astype(np.int64)}
    assert rows == {row.tobytes() for row in x.astype(np.int64)}


def test_uci_optdigits_download_is_cached_then_reused(isolated_cache, monkeypatch):
    monkeypatch.setitem(network.FETCHERS, "uci-optdigits", lambda: _fake_optdigits(50))
    downloaded = load_dataset("uci-optdigits")
    assert (len(downloaded.y_train), len(downloaded.y_test)) == (40, 10) and "download" in downloaded.source
    assert [p.name for p in _files_under(isolated_cache)] == ["uci-optdigits.npz"]
    clear_dataset_cache()
    monkeypatch.setitem(network.FETCHERS, "uci-optdigits", _offline)
    cached = load_dataset("uci-optdigits")
    assert "cache file" in cached.source and cached.fingerprint == downloaded.fingerprint


def test_uci_optdigits_failed_save_leaves_no_file(isolated_cache, monkeypatch):
    monkeypatch.setitem(network.FETCHERS, "uci-optdigits", lambda: _fake_optdigits(50))

    def half_write(handle, **arrays):
        handle.write(b"PK\x03\x04 half")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "savez_compressed", half_write)
    data = load_dataset("uci-optdigits")
    assert len(data.y_train) == 40 and "not cached" in data.source
    assert _files_under(isolated_cache) == []


def test_uci_optdigits_bad_cache_file(isolated_cache):
    folder = isolated_cache / "datasets"
    folder.mkdir(parents=True)
    np.savez(folder / "uci-optdigits.npz", X=np.full((10, 64), 40), y=np.arange(10))
    with pytest.raises(InvalidDataFile, match="0..16") as caught:
        load_dataset("uci-optdigits")
    assert "Delete" in str(caught.value)
    labels = np.empty(10, dtype=object)
    labels[:] = list(range(10))
    np.savez(folder / "uci-optdigits.npz", X=np.zeros((10, 64)), y=labels)
    with pytest.raises(InvalidDataFile, match="pickles are refused"):
        load_dataset("uci-optdigits")


def test_status_digits_available_mnist_not(tmp_path, no_keras_cache, monkeypatch):
    monkeypatch.setenv(mnist_like.MNIST_ENV, str(tmp_path / "empty"))
    (tmp_path / "empty").mkdir()
    assert dataset_status("digits")[0] is True
    available, detail = dataset_status("mnist")
    assert available is False and "no IDX files" in detail


def test_real_keras_fetch_offline_gives_readable_error(tmp_path):
    """Runs the real keras.datasets.mnist.load_data in a fresh process with an empty HOME (no Keras cache)."""
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("KERAS_HOME", mnist_like.MNIST_ENV)}
    env.update(HOME=str(home), DIGIT_LAB_CACHE=str(tmp_path / "cache"), TF_CPP_MIN_LOG_LEVEL="3")
    code = (
        "import json\nfrom engine.datasets import load_dataset\nfrom engine.errors import DatasetUnavailable\n"
        "try:\n    d = load_dataset('mnist')\n    print(json.dumps({'loaded': d.source}))\n"
        "except DatasetUnavailable as e:\n    print(json.dumps({'error': str(e)}))\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=240
    )
    assert run.returncode == 0, run.stderr[-2000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    if "loaded" in result:
        pytest.skip(f"this machine reached the network: {result['loaded']}")
    message = result["error"]
    assert message.startswith("mnist is not available offline") and "Keras download" in message
    assert "Traceback" not in message and "'digits'" in message and mnist_like.MNIST_ENV in message


@pytest.mark.parametrize("name,module", [("mnist", "mnist"), ("fashion-mnist", "fashion_mnist")])
def test_a_download_comes_through_the_fetchers_table(tmp_path, no_keras_cache, monkeypatch, name, module):
    """Loaders look their fetch up in `network.FETCHERS` at call time, so replacing the entry is enough."""
    monkeypatch.setattr(mnist_like, "DEBIAN_FASHION_MNIST_DIR", tmp_path / "no-debian-package")
    x_train, y_train = np.zeros((20, 28, 28), dtype=np.uint8), np.arange(20) % 10
    x_test, y_test = np.full((5, 28, 28), 255, dtype=np.uint8), np.arange(5)
    monkeypatch.setitem(network.FETCHERS, name, lambda: ((x_train, y_train), (x_test, y_test)))
    data = load_dataset(name)
    assert (len(data.y_train), len(data.y_test)) == (20, 5) and data.x_test.max() == 255
    assert data.source == f"Keras download (keras.datasets.{module}.load_data)"

"""Pixel scaling of uploads: a 0..16 upload (the bundled digits saved as a uint8 npz) is divided by 16 under auto,
with the reason said; 'type' keeps 255; the divisor is part of the fingerprint; the CLI's `upload` verb registers
files with a chosen scaling. The oracle is scikit-learn's own digits divided by 16."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from sklearn.datasets import load_digits

from engine.cli import main
from engine.datasets import clear_dataset_cache, list_datasets, load_dataset, normalised
from engine.datasets.scaling import choose_scaling
from engine.datasets.uploads import register_upload, rescale_upload
from engine.errors import InvalidDataFile
from engine.exploration import dataset_card


def _digits_npz() -> tuple[bytes, np.ndarray, np.ndarray]:
    digits = load_digits()
    images, labels = digits.images.astype(np.uint8), digits.target
    buffer = io.BytesIO()
    np.savez(buffer, x_train=images[:1400], y_train=labels[:1400], x_test=images[1400:], y_test=labels[1400:])
    return buffer.getvalue(), digits.images[:1400], digits.images[1400:]


def test_digits_saved_as_uint8_npz_are_divided_by_16_under_auto(isolated_cache):
    data, train, test = _digits_npz()
    name = register_upload([("digits.npz", data)])  # auto is the default
    clear_dataset_cache()
    dataset = load_dataset(name)
    assert dataset.value_max == 16
    np.testing.assert_allclose(normalised(dataset.x_train[..., 0], dataset.value_max), train / 16, rtol=1e-6)
    np.testing.assert_allclose(normalised(dataset.x_test[..., 0], dataset.value_max), test / 16, rtol=1e-6)
    assert "divided by 16 (auto): the largest pixel value is 16" in dataset.pixel_scaling
    card = dict(dataset_card(dataset))
    assert card["raw value range"] == "0 .. 16 (uint8)" and card["pixel scaling"] == dataset.pixel_scaling
    # The same files under 'type' are another dataset: divided by 255, under another fingerprint and name.
    typed = load_dataset(rescale_upload(name, "type"))
    assert typed.value_max == 255 and typed.fingerprint != dataset.fingerprint and typed.name != name
    assert "the pixels reach only 16 (choose 'observed' to divide by 16)" in typed.pixel_scaling
    np.testing.assert_array_equal(typed.x_train, dataset.x_train)


def test_a_standard_divisor_leaves_the_fingerprint_as_it_was(isolated_cache):
    # Full-range data: auto, type and observed all divide by 255, and the name is the one uploads always had.
    rng = np.random.default_rng(1)
    x = rng.integers(0, 256, size=(30, 8, 8), dtype=np.uint8)
    x[0, 0, 0] = 255
    y = np.arange(30) % 10
    buffer = io.BytesIO()
    np.savez(buffer, x_train=x, y_train=y, x_test=x[:10], y_test=y[:10])
    names = {register_upload([("a.npz", buffer.getvalue())], scaling) for scaling in ("auto", "type", "observed")}
    assert len(names) == 1


@pytest.mark.parametrize(
    "asked, top, divisor, said",
    [
        ("auto", 16, 16, "divided by 16 (auto)"),
        ("auto", 63, 63, "divided by 63 (auto)"),
        ("auto", 64, 255, "divided by 255 (auto): the largest pixel value is 64"),
        ("auto", 200, 255, "choose 'observed' to divide by 200"),
        ("observed", 200, 200, "divided by 200, the largest pixel value in the files, as chosen"),
        ("type", 16, 255, "the pixels reach only 16"),
        ("auto", 0, 255, "every pixel is 0"),
        ("observed", 0, 255, "every pixel is 0"),
    ],
)
def test_the_divisor_and_its_reason(asked, top, divisor, said):
    images = np.zeros((3, 4, 4), dtype=np.uint8)
    images[1, 2, 3] = top
    chosen = choose_scaling(asked, images, np.zeros((3, 4, 4), dtype=np.uint8))
    assert chosen.divisor == divisor and said in chosen.reason


def test_an_unknown_scaling_is_refused(isolated_cache):
    data, _, _ = _digits_npz()
    with pytest.raises(InvalidDataFile, match="pixel scaling 'max' is not one of auto, type, observed"):
        register_upload([("digits.npz", data)], "max")


def test_the_cli_upload_verb_registers_with_the_chosen_scaling(isolated_cache, tmp_path, capsys):
    data, _, _ = _digits_npz()
    path = tmp_path / "digits.npz"
    path.write_bytes(data)
    assert main(["upload", str(path), "--json"]) == 0
    auto = json.loads(capsys.readouterr().out)
    assert auto["value_range"] == [0.0, 16.0] and "(auto)" in auto["pixel_scaling"]
    assert main(["upload", str(path), "--scaling", "type", "--json"]) == 0
    typed = json.loads(capsys.readouterr().out)
    assert typed["value_range"] == [0.0, 255.0] and typed["name"] != auto["name"]
    assert {auto["name"], typed["name"]} <= {info.name for info in list_datasets()}
    assert main(["upload", str(tmp_path)]) == 2
    assert "not a regular file" in capsys.readouterr().err

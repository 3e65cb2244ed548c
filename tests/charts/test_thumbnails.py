"""Hover pictures for 2-D maps: each thumbnail decodes (PIL) back to the dataset's own image, the Vega-Lite spec
carries one per point, the cap spreads them evenly, and a selection payload reads back as indices."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from PIL import Image

from charts.thumbnails import (
    PNG_PREFIX,
    hover_thumbnails,
    picked_indices,
    spread_positions,
    thumbnail_map_spec,
    thumbnail_scale,
    thumbnail_uri,
)
from engine.datasets import load_dataset


def decode(uri: str) -> np.ndarray:
    """A thumbnail's pixels as uint8 (H x W), read by PIL from the data URI."""
    assert uri.startswith(PNG_PREFIX)
    image = Image.open(io.BytesIO(base64.b64decode(uri[len(PNG_PREFIX) :])))
    assert image.format == "PNG" and image.mode == "L"
    return np.asarray(image)


def expected_pixels(image: np.ndarray, value_max: float) -> np.ndarray:
    """The oracle: the raw image on 0..255 (0 black, value_max white), each pixel a scale x scale block."""
    grey = np.round(image.reshape(image.shape[0], image.shape[1]).astype(np.float64) / value_max * 255)
    scale = thumbnail_scale(*grey.shape)
    return np.kron(grey, np.ones((scale, scale))).astype(np.uint8)


def test_a_digits_thumbnail_decodes_to_the_dataset_image_blown_up():
    ds = load_dataset("digits")
    for row in (0, 17, 1436):
        pixels = decode(thumbnail_uri(ds.x_train[row], ds.value_max))
        assert pixels.shape == (48, 48)  # 8x8, each pixel 6x6: at least 48 CSS pixels a side
        np.testing.assert_array_equal(pixels, expected_pixels(ds.x_train[row], ds.value_max))
        assert pixels[::6, ::6].max() == round(ds.x_train[row].max() / 16 * 255)


def test_a_28_pixel_image_is_doubled_and_small():
    image = np.zeros((28, 28, 1), dtype=np.uint8)
    image[5:20, 12:15] = 255  # a stroke
    image[3, 3] = 128
    uri = thumbnail_uri(image, 255)
    pixels = decode(uri)
    assert pixels.shape == (56, 56) and pixels[6, 6] == 128 and pixels[10, 24] == 255 and pixels[0, 0] == 0
    assert len(uri) < 1000  # a data URI, not a picture file: small enough for thousands of points


def test_the_spec_carries_one_thumbnail_per_point_matching_its_index():
    ds = load_dataset("digits")
    indices = np.array([3, 40, 41, 700, 1200])
    coords = np.arange(10, dtype=np.float64).reshape(5, 2)
    labels = ds.y_train[indices]
    names = [str(i) for i in range(10)]
    pictures = hover_thumbnails(ds.x_train[indices], ds.value_max, most=100)
    spec = thumbnail_map_spec(
        coords, indices, labels, names, pictures, title="t", x_title="PC 1", y_title="PC 2", index_title="train #"
    )
    rows = spec["data"]["values"]
    assert [row["index"] for row in rows] == indices.tolist()
    assert [row["class"] for row in rows] == [names[c] for c in labels]
    assert [(row["x"], row["y"]) for row in rows] == [tuple(c) for c in coords]
    for row in rows:
        np.testing.assert_array_equal(decode(row["image"]), expected_pixels(ds.x_train[row["index"]], ds.value_max))
    assert spec["encoding"]["tooltip"][0] == {"field": "image", "type": "nominal"}  # the picture field
    assert spec["params"][0]["select"] == {"type": "point", "fields": ["index"]}
    assert "shape" not in spec["encoding"]


def test_mistakes_and_extra_fields_reach_the_tooltip():
    spec = thumbnail_map_spec(
        np.zeros((2, 2)),
        np.array([5, 9]),
        np.array([0, 1]),
        ["zero", "one"],
        [None, None],
        title="t",
        x_title="x",
        y_title="y",
        extra={"predicted": ["zero", "seven"]},
        wrong=[False, True],
    )
    rows = spec["data"]["values"]
    assert [row["answer"] for row in rows] == ["right", "wrong"] and rows[1]["predicted"] == "seven"
    assert all("image" not in row for row in rows)  # no picture: the tooltip shows the text alone
    assert spec["encoding"]["shape"]["scale"]["range"] == ["circle", "cross"]
    assert {"field": "predicted", "type": "nominal"} in spec["encoding"]["tooltip"]


def test_the_cap_spreads_pictures_evenly_and_keeps_their_images():
    ds = load_dataset("digits")
    pictures = hover_thumbnails(ds.x_test[:100], ds.value_max, most=10)
    given = [i for i, p in enumerate(pictures) if p is not None]
    assert len(pictures) == 100 and len(given) == 10 and given[0] == 0 and given[-1] == 99
    assert max(np.diff(given)) - min(np.diff(given)) <= 1  # evenly spread, not the first ten
    for i in given:
        np.testing.assert_array_equal(decode(pictures[i]), expected_pixels(ds.x_test[i], ds.value_max))
    assert spread_positions(5, 10).tolist() == [0, 1, 2, 3, 4] and spread_positions(5, 0).size == 0


@pytest.mark.parametrize(
    ("selection", "expected"),
    [
        ({"picked": [{"index": 4}, {"index": 12}, {"index": 4}]}, [4, 12]),  # as the chart sends a shift-click
        ({"picked": [{"index": 3.0}]}, [3]),
        ({"picked": []}, []),
        ({}, []),
        (None, []),
        ({"picked": [{"index": "7"}, {"index": True}, {"index": 2.5}, "x", {"other": 1}]}, []),
    ],
)
def test_picked_indices_reads_the_point_selection(selection, expected):
    assert picked_indices(selection) == expected

"""What a drawing canvas sends, checked before it is kept or decoded (`engine.drawing`): its PNG and its strokes."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest
from PIL import Image

from engine.drawing import MAX_DRAWING_OBJECTS_BYTES, MAX_DRAWING_SIDE, drawing_objects, drawing_pixels
from engine.errors import InvalidDataFile
from tests.crafted_files import png_header_claiming


def test_a_drawings_png_is_checked_before_it_is_decoded():

    rgba = np.zeros((280, 280, 4), dtype=np.uint8)
    rgba[40:240, 120:160] = 255
    buffer = io.BytesIO()
    Image.fromarray(rgba).save(buffer, format="PNG")
    assert np.array_equal(drawing_pixels(buffer.getvalue()), rgba)

    with pytest.raises(InvalidDataFile, match=f"{MAX_DRAWING_SIDE + 1}x280 px"):
        drawing_pixels(png_header_claiming(MAX_DRAWING_SIDE + 1, 280))
    jpeg = io.BytesIO()
    Image.fromarray(rgba[..., :3]).save(jpeg, format="JPEG")
    for bad, message in (
        (jpeg.getvalue(), "must be a PNG, got JPEG"),
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 40, "not a readable PNG"),
        (b"", "at most"),
        ("text", "at most"),
        (png_header_claiming(280, 280), "not a readable PNG"),  # a sane header, no pixel data
        (png_header_claiming(50_000, 50_000), "far larger than"),  # PIL's own guard answers first
    ):
        with pytest.raises(InvalidDataFile, match=message):
            drawing_pixels(bad)


def test_a_drawings_strokes_are_kept_only_as_bounded_plain_json():
    strokes = {"version": "6", "objects": [{"type": "path", "path": [["M", 1, 2], ["L", 3, 4]]}]}
    assert drawing_objects(strokes) is strokes
    too_big = {"objects": [{"type": "path", "path": "x" * MAX_DRAWING_OBJECTS_BYTES}]}
    for bad, message in (
        (too_big, "at most 2 MB are kept"),
        ([1, 2], "must be a JSON object"),
        ({"objects": [math.nan]}, "not plain JSON"),
        ({"objects": {1, 2}}, "not plain JSON"),
    ):
        with pytest.raises(InvalidDataFile, match=message):
            drawing_objects(bad)

"""The checks of what a drawing canvas sends (the visitor's browser chooses these bytes): its PNG
(`drawing_pixels`, size and header checked before decoding) and its fabric.js strokes (`drawing_objects`, bounded
JSON). `engine.inspection` turns the checked pixels into a model input."""

from __future__ import annotations

import io
import json

import numpy as np
from PIL import Image

from engine.errors import InvalidDataFile

MAX_DRAWING_SIDE = 4 * 280  # the canvas is 280 px; a high-density screen sends it at up to 4x
MAX_DRAWING_BYTES = 8 * 2**20  # a PNG of the largest canvas, uncompressed, fits


def drawing_pixels(png: object) -> np.ndarray:
    """A drawing canvas's PNG (sent by the visitor's browser) as an RGBA uint8 array, checked before it is decoded.

    The bytes are the browser's to choose: a PNG that says it is 50,000 px square is a few kB yet decodes to
    gigabytes, so its size in bytes and the width and height in its header are checked first."""
    if not isinstance(png, bytes | bytearray) or not 0 < len(png) <= MAX_DRAWING_BYTES:
        raise InvalidDataFile(f"the drawing must be a PNG of at most {MAX_DRAWING_BYTES // 2**20} MB")
    try:
        image = Image.open(io.BytesIO(png))  # reads the header only
        width, height = image.size
        if image.format != "PNG":
            raise InvalidDataFile(f"the drawing must be a PNG, got {image.format}")
        if not (0 < width <= MAX_DRAWING_SIDE and 0 < height <= MAX_DRAWING_SIDE):
            raise InvalidDataFile(
                f"the drawing is {width}x{height} px; the canvas sends at most {MAX_DRAWING_SIDE}x{MAX_DRAWING_SIDE}"
            )
        return np.asarray(image.convert("RGBA"))
    except InvalidDataFile:
        raise
    except Image.DecompressionBombError:  # PIL's own guard, for headers far beyond ours
        raise InvalidDataFile(f"the drawing claims to be far larger than {MAX_DRAWING_SIDE} px a side") from None
    except Exception as error:  # PIL raises many kinds for a damaged file
        raise InvalidDataFile(f"the drawing is not a readable PNG ({type(error).__name__})") from None


MAX_DRAWING_OBJECTS_BYTES = 2 * 2**20  # a page of hand strokes is tens of kB


def drawing_objects(objects: object) -> dict:
    """A canvas's fabric.js objects (sent by the visitor's browser), to be kept for the session and sent back to
    the canvas: a JSON object of bounded size, so one visitor cannot park hundreds of megabytes on the server."""
    if not isinstance(objects, dict):
        raise InvalidDataFile("the drawing's strokes must be a JSON object")
    try:
        size = len(json.dumps(objects, allow_nan=False))
    except (TypeError, ValueError, RecursionError):
        raise InvalidDataFile("the drawing's strokes are not plain JSON") from None
    if size > MAX_DRAWING_OBJECTS_BYTES:
        raise InvalidDataFile(
            f"the drawing's strokes take {size / 2**20:.1f} MB; "
            f"at most {MAX_DRAWING_OBJECTS_BYTES // 2**20} MB are kept"
        )
    return objects

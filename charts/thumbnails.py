"""Pictures in a 2-D map's hover: each image as a small PNG data URI, and a Vega-Lite scatter whose tooltip shows it.

Plotly's hover label cannot hold an image; Vega-Lite's tooltip (the tooltip handler Streamlit's Vega-Lite charts
use) draws a field named "image" holding a URL as a picture, and a data URI is a URL. `thumbnail_uri` is the one
helper that makes those pictures; `thumbnail_map_spec` builds the chart as a plain Vega-Lite dict (no Streamlit).
Text in a Vega-Lite chart is drawn as text and its tooltip escapes HTML, so class names are passed raw.
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Mapping, Sequence

import numpy as np

from charts.data import CLASS_COLOURS

PNG_PREFIX = "data:image/png;base64,"
THUMBNAIL_MIN_SIDE = 48  # CSS pixels: an 8x8 digit drawn at its own size in a tooltip is a speck


def thumbnail_scale(height: int, width: int, min_side: int = THUMBNAIL_MIN_SIDE) -> int:
    """How many PNG pixels each image pixel becomes, so the longer side is at least `min_side`."""
    return max(1, math.ceil(min_side / max(height, width, 1)))


def thumbnail_uri(image: np.ndarray, value_max: float, min_side: int = THUMBNAIL_MIN_SIDE) -> str:
    """A raw image (H x W, or H x W x 1) as a grayscale PNG data URI: 0 black, `value_max` white (as every image in
    the dashboard), each pixel a whole square block so the digit stays sharp. About 150 to 600 bytes."""
    from PIL import Image

    array = np.asarray(image, dtype=np.float64)
    array = array.reshape(array.shape[0], array.shape[1])
    grey = np.clip(np.round(array / float(value_max) * 255.0), 0, 255).astype(np.uint8)
    height, width = grey.shape
    scale = thumbnail_scale(height, width, min_side=min_side)
    grey = np.repeat(np.repeat(grey, scale, axis=0), scale, axis=1)
    buffer = io.BytesIO()
    Image.fromarray(grey, mode="L").save(buffer, format="PNG", optimize=True)
    return PNG_PREFIX + base64.b64encode(buffer.getvalue()).decode("ascii")


def thumbnail_map_spec(
    coords: np.ndarray,
    indices: np.ndarray,
    labels: np.ndarray,
    class_names: Sequence[str],
    thumbnails: Sequence[str | None],
    *,
    title: str,
    x_title: str,
    y_title: str,
    index_title: str = "image #",
    extra: Mapping[str, Sequence] | None = None,
    wrong: Sequence[bool] | None = None,
    height: int = 480,
) -> dict:
    """A Vega-Lite scatter of a 2-D map: one point per row of `coords`, coloured by class, its tooltip the picture
    `thumbnails[i]` (None: no picture for that point) above its index, class and the `extra` fields. `wrong` draws
    those points as crosses. A click (shift-click for more) selects points: the selection parameter "picked"
    hands their `index` back to the page."""
    coords = np.asarray(coords, dtype=np.float64)
    extra = dict(extra or {})
    rows = []
    for i in range(len(coords)):
        row = {
            "x": float(coords[i, 0]),
            "y": float(coords[i, 1]),
            "index": int(indices[i]),
            "class": str(class_names[int(labels[i])]),
        }
        if thumbnails[i] is not None:
            row["image"] = thumbnails[i]
        for name, values in extra.items():
            row[name] = values[i]
        if wrong is not None:
            row["answer"] = "wrong" if wrong[i] else "right"
        rows.append(row)
    tooltip = [
        {"field": "image", "type": "nominal"},  # the tooltip handler draws this field as a picture
        {"field": "index", "type": "quantitative", "title": index_title},
        {"field": "class", "type": "nominal"},
        *({"field": name, "type": "nominal"} for name in extra),
    ]
    encoding: dict = {
        "x": {"field": "x", "type": "quantitative", "title": x_title, "scale": {"zero": False}},
        "y": {"field": "y", "type": "quantitative", "title": y_title, "scale": {"zero": False}},
        "color": {
            "field": "class",
            "type": "nominal",
            "title": "Class",
            "scale": {
                "domain": [str(name) for name in class_names],
                "range": [CLASS_COLOURS[i % len(CLASS_COLOURS)] for i in range(len(class_names))],
            },
        },
        "tooltip": tooltip,
        "opacity": {"condition": {"param": "picked", "empty": True, "value": 0.85}, "value": 0.25},
    }
    if wrong is not None:
        encoding["shape"] = {
            "field": "answer",
            "type": "nominal",
            "title": "Answer",
            "scale": {"domain": ["right", "wrong"], "range": ["circle", "cross"]},
        }
    return {
        "title": title,
        "height": height,
        "data": {"values": rows},
        "mark": {"type": "point", "filled": True, "size": 45},
        "params": [{"name": "picked", "select": {"type": "point", "fields": ["index"]}}],
        "encoding": encoding,
    }


def picked_indices(selection: object, name: str = "picked") -> list[int]:
    """The `index` of every point a Vega-Lite chart's point selection `name` holds (in the order given)."""
    chosen = []
    entries = selection.get(name) if isinstance(selection, dict) else None
    for entry in entries or ():
        value = entry.get("index") if hasattr(entry, "get") else None
        if isinstance(value, int | float) and not isinstance(value, bool) and float(value).is_integer():
            chosen.append(int(value))
    return list(dict.fromkeys(chosen))


def spread_positions(n: int, most: int) -> np.ndarray:
    """Up to `most` of the positions 0..n-1, evenly spread (all of them when n <= most)."""
    if n <= most:
        return np.arange(n)
    if most <= 0:
        return np.arange(0)
    return np.unique(np.linspace(0, n - 1, most).round().astype(int))


def hover_thumbnails(images: Sequence[np.ndarray] | np.ndarray, value_max: float, most: int) -> list[str | None]:
    """One entry per image: its `thumbnail_uri` for up to `most` evenly spread images, None for the rest."""
    thumbnails: list[str | None] = [None] * len(images)
    for position in spread_positions(len(images), most):
        thumbnails[int(position)] = thumbnail_uri(images[int(position)], value_max)
    return thumbnails

"""Pixel scaling of uploaded data: what raw pixels are divided by to become the 0..1 a model trains on, and why.

An upload arrives as uint8 (0..255), but not every upload uses that range: the UCI digits count set pixels 0..16,
and read as 0..255 they look black and train worse (97 % -> 92 % on the bundled digits). The person uploading
chooses one of `PIXEL_SCALINGS`, kept with the upload:

- ``type``: divide by 255, the uint8 type's range (what every upload was before this choice existed);
- ``observed``: divide by the largest pixel value in the files (train and test, so no pixel exceeds 1);
- ``auto``: ``observed`` when that largest value is at most `AUTO_OBSERVED_AT_MOST` (a quarter of 255), else
  ``type``. A brightest pixel at a quarter of the type's range is not an 8-bit image that happens to be dark: it
  is data on another scale (0..16 counts, 4- or 6-bit images). Between that and 255 the data may simply be dim, so
  auto keeps 255 and says so, and ``observed`` is one choice away.

The divisor becomes the dataset's `value_max`; when it is not 255 the dataset's fingerprint includes it, so runs on
the same files scaled differently are never confused.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.errors import InvalidDataFile

PIXEL_SCALINGS = ("auto", "type", "observed")
DEFAULT_SCALING = "auto"
TYPE_VALUE_MAX = 255  # uploads are read as uint8 (IDX unsigned bytes; an npz's integers must fit 0..255)
AUTO_OBSERVED_AT_MOST = TYPE_VALUE_MAX // 4  # 63: at most 6 of the 8 bits used


@dataclass(frozen=True)
class PixelScaling:
    """The divisor chosen for some images, from what was asked and the largest value found."""

    asked: str  # one of PIXEL_SCALINGS
    divisor: int  # raw pixels are divided by this (the dataset's value_max)
    observed_max: int  # the largest raw pixel value in the images
    reason: str  # one plain sentence: what is used and why


def check_scaling(asked: object) -> str:
    """`asked` if it is one of `PIXEL_SCALINGS`, else `InvalidDataFile` naming the choices."""
    if asked not in PIXEL_SCALINGS:
        raise InvalidDataFile(
            f"pixel scaling {str(asked)[:40]!r} is not one of {', '.join(PIXEL_SCALINGS)}: auto (the largest value "
            f"when it is at most {AUTO_OBSERVED_AT_MOST}, else {TYPE_VALUE_MAX}), type ({TYPE_VALUE_MAX}) or "
            "observed (the largest value found)."
        )
    return str(asked)


def choose_scaling(asked: str, *images: np.ndarray) -> PixelScaling:
    """The divisor for `images` (uint8) under the scaling `asked`, with the sentence that explains it."""
    asked = check_scaling(asked)
    top = max((int(np.max(x)) for x in images if x.size), default=0)
    whole = f"0..{TYPE_VALUE_MAX}, the uint8 type's range"
    if top == 0:
        # Nothing to divide by: every pixel is 0, whatever was asked.
        return PixelScaling(asked, TYPE_VALUE_MAX, 0, f"divided by {TYPE_VALUE_MAX} ({whole}): every pixel is 0.")
    if asked == "type":
        note = f"; the pixels reach only {top} (choose 'observed' to divide by {top})" if top < TYPE_VALUE_MAX else ""
        return PixelScaling(asked, TYPE_VALUE_MAX, top, f"divided by {TYPE_VALUE_MAX} ({whole}), as chosen{note}.")
    if asked == "observed":
        return PixelScaling(asked, top, top, f"divided by {top}, the largest pixel value in the files, as chosen.")
    if top <= AUTO_OBSERVED_AT_MOST:
        return PixelScaling(
            asked,
            top,
            top,
            f"divided by {top} (auto): the largest pixel value is {top}, at most a quarter of {whole}, so the data "
            f"is read as 0..{top} (like the UCI digits' 0..16 counts); choose 'type' to divide by {TYPE_VALUE_MAX}.",
        )
    note = f"; choose 'observed' to divide by {top}" if top < TYPE_VALUE_MAX else ""
    return PixelScaling(
        asked,
        TYPE_VALUE_MAX,
        top,
        f"divided by {TYPE_VALUE_MAX} (auto): the largest pixel value is {top}, so the data is read as {whole}{note}.",
    )

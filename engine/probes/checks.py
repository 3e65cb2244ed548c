"""The probes' input checks: an image handed to a probe (`validate_probe_images`), and a probe record read back from
beside a run (`validate_probe_record`, then each probe's own fields with `probe_numbers`). Both kinds of input are
untrusted: the first comes from a visitor or a command line, the second from a folder anyone with access to the
cache can edit."""

from __future__ import annotations

import numpy as np

from engine.errors import InvalidDataFile, InvalidProbeRecord
from engine.limits import ProbeLimits

_MISSING = object()


def validate_probe_images(images: object, image_hw: tuple[int, int], value_max: float) -> np.ndarray:
    """An image handed to a probe (an --image .npy, a drawn or uploaded array), as float64 (N, H, W).

    It must be one raw image (H, W) or a stack (N, H, W) of the run's image size, finite, numeric and within the
    dataset's own value range 0..value_max (as the dataset stores it, not rescaled to 0..1).
    """
    array = np.asarray(images)
    if array.dtype.kind not in "biuf":
        raise InvalidDataFile(f"the image array holds {array.dtype} values; it needs plain numbers")
    if array.ndim == 2:
        array = array[None]
    h, w = image_hw
    if array.ndim != 3 or array.shape[1:] != (h, w):
        raise InvalidDataFile(f"the model takes images of {h}x{w} (an H x W or N x H x W array), got {array.shape}")
    most = ProbeLimits().max_explain_images
    if not 1 <= len(array) <= most:
        raise InvalidDataFile(f"give 1 to {most} images at once, got {len(array)}")
    array = array.astype(np.float64)
    if not np.isfinite(array).all():
        raise InvalidDataFile("the image array holds NaN or infinite values")
    if array.min() < 0 or array.max() > value_max:
        raise InvalidDataFile(
            f"pixel values must lie in this dataset's range 0..{value_max:g} (as it stores them), got "
            f"{array.min():g}..{array.max():g}"
        )
    return array


def validate_probe_record(record: object, *, probe: str, params: dict, run_digest: str, version: int) -> dict:
    """The `result` of a stored probe record, after checking that the record is what was asked for.

    Probe results kept beside a run (`engine.probes.stored`) are read back from a folder anyone with access to the
    cache can edit, so the record must name the probe, its parameters, the exact run files it was computed from
    (the run manifest's digest: a run retrained under the same key has other weights) and the current format.
    Raises `InvalidProbeRecord`; each probe then checks its own fields with `probe_numbers`.
    """
    if not isinstance(record, dict):
        raise InvalidProbeRecord(f"the record is not a JSON object (found {type(record).__name__})")
    expected = {"version": version, "probe": probe, "params": params, "run_digest": run_digest}
    for name, value in expected.items():
        if record.get(name, _MISSING) != value:
            raise InvalidProbeRecord(f"the record's {name} is not this probe's ({str(record.get(name))[:60]!r})")
    result = record.get("result")
    if not isinstance(result, dict):
        raise InvalidProbeRecord("the record holds no result object")
    return result


def probe_numbers(
    value: object,
    what: str,
    *,
    shape: tuple[int | None, ...],
    whole: bool = False,
    low: float | None = None,
    high: float | None = None,
) -> np.ndarray:
    """A stored probe's list of numbers as an array of `shape` (None = any length), finite, whole when asked,
    within low..high; raises `InvalidProbeRecord` naming `what`."""

    def flat(item: object) -> bool:  # numbers only: no bools, strings, None or nested objects sneak in
        if isinstance(item, list):
            return all(flat(inner) for inner in item)
        return isinstance(item, int | float) and not isinstance(item, bool)

    if not isinstance(value, list) or not flat(value):
        raise InvalidProbeRecord(f"{what} is not a list of numbers")
    array = np.asarray(value, dtype=np.float64)
    fits = array.ndim == len(shape) and all(
        want is None or got == want for got, want in zip(array.shape, shape, strict=True)
    )
    if not fits:
        raise InvalidProbeRecord(f"{what} has shape {array.shape}, expected {shape}")
    if not np.isfinite(array).all():
        raise InvalidProbeRecord(f"{what} holds NaN or infinite values")
    if whole and not np.array_equal(array, np.round(array)):
        raise InvalidProbeRecord(f"{what} holds fractions where whole numbers belong")
    if array.size and ((low is not None and array.min() < low) or (high is not None and array.max() > high)):
        raise InvalidProbeRecord(f"{what} lies outside {low}..{high}")
    return array.astype(np.int64) if whole else array

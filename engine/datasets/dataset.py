"""The one `Dataset` value every source produces, and its content fingerprint."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np


@dataclass(frozen=True, eq=False)
class Dataset:
    """Train and test images with labels, shaped `(n, height, width, 1)`, in their raw value range.

    Arrays are kept raw (uint8 0..255 for MNIST, 0..16 for the UCI digits) so the data pages show what the
    source holds; `normalised()` in `transforms` gives the 0..1 floats a model trains on.
    """

    name: str  # registry name, e.g. "digits"
    x_train: np.ndarray  # (n_train, h, w, 1), raw values
    y_train: np.ndarray  # (n_train,), int64 class indices 0..num_classes-1
    x_test: np.ndarray  # (n_test, h, w, 1)
    y_test: np.ndarray  # (n_test,)
    class_names: tuple[str, ...]  # display name of class i
    value_max: float  # largest raw pixel value the source can hold (255 or 16); the minimum is 0
    source: str  # where the arrays came from this time: "keras download", "cache/datasets/...", a local path
    provenance: str  # one paragraph: who made the data, how it was split, licence/citation pointers
    transforms: tuple[str, ...] = field(default=())  # what was applied after loading, in order, for display
    identity: str = ""  # what the checksums say the arrays are: "the published files", "custom (...)", ...
    warnings: tuple[str, ...] = field(default=())  # said wherever the dataset is used, and stored with its runs
    pixel_scaling: str = ""  # why raw pixels are divided by value_max, when someone chose it (uploads); "" = source's
    # The divisor the source's pixels are defined on (255 for an upload's uint8); None = value_max itself. When
    # value_max differs, the fingerprint includes it: the same pixels scaled otherwise train other runs.
    standard_value_max: float | None = None

    def __post_init__(self) -> None:
        for part in ("x_train", "x_test"):
            array = getattr(self, part)
            if array.ndim != 4 or array.shape[-1] != 1:
                raise ValueError(f"{self.name}: {part} must be shaped (n, h, w, 1), got {array.shape}")
        if self.x_train.shape[1:] != self.x_test.shape[1:]:
            raise ValueError(
                f"{self.name}: train images {self.x_train.shape[1:]} differ from test {self.x_test.shape[1:]}"
            )
        if len(self.x_train) != len(self.y_train) or len(self.x_test) != len(self.y_test):
            raise ValueError(f"{self.name}: image and label counts differ")

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(int(d) for d in self.x_train.shape[1:])  # type: ignore[return-value]

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def value_range(self) -> tuple[float, float]:
        return (0.0, float(self.value_max))

    @cached_property
    def fingerprint(self) -> str:
        """SHA-256 of the arrays (bytes, shapes and dtypes), class names, and the divisor when it is not the
        source's standard one: any pixel change, or another pixel scaling, changes it.

        It keys the run store, so two datasets with equal content share cached runs whatever their source.
        """
        digest = hashlib.sha256()
        for array in (self.x_train, self.y_train, self.x_test, self.y_test):
            contiguous = np.ascontiguousarray(array)
            digest.update(f"{contiguous.dtype.str}{contiguous.shape}".encode())
            digest.update(contiguous.data)
        digest.update("\x1f".join(self.class_names).encode())
        if self.standard_value_max is not None and self.value_max != self.standard_value_max:
            digest.update(f"\x1fdivided by {float(self.value_max)!r}".encode())
        return digest.hexdigest()

    def summary(self) -> dict:
        """Plain, JSON-ready description for cards, the CLI and run metadata."""
        return {
            "name": self.name,
            "image_shape": list(self.image_shape),
            "num_classes": self.num_classes,
            "class_names": list(self.class_names),
            "n_train": int(len(self.x_train)),
            "n_test": int(len(self.x_test)),
            "value_range": list(self.value_range),
            "source": self.source,
            "provenance": self.provenance,
            "transforms": list(self.transforms),
            "identity": self.identity,
            "warnings": list(self.warnings),
            "pixel_scaling": self.pixel_scaling,
            "fingerprint": self.fingerprint,
        }

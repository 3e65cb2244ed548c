"""What each named source is: its class names, its provenance paragraph, and building its `Dataset` value.

Every loader (bundled, UCI, MNIST-like) ends in `make_dataset`, so all sources give the same dtypes and shapes
and the same read-only arrays.
"""

from __future__ import annotations

import numpy as np

from engine.datasets.dataset import Dataset

DIGIT_CLASS_NAMES = tuple(str(d) for d in range(10))
FASHION_CLASS_NAMES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)

PROVENANCE = {
    "digits": (
        "scikit-learn's bundled copy of the test part of the UCI 'Optical Recognition of Handwritten Digits' "
        "data by E. Alpaydin and C. Kaynak (1998; UCI ML Repository id 80, DOI 10.24432/C50P49): 1,797 images "
        "of 8x8 cells, each cell counting the set pixels (0..16) in a 4x4 block of a 32x32 bitmap of a digit "
        "written by one of 43 people. Split here 80/20, stratified by class, with random_state=42 "
        "(1,437 train / 360 test)."
    ),
    "uci-optdigits": (
        "The UCI 'Optical Recognition of Handwritten Digits' data set by E. Alpaydin and C. Kaynak (1998), "
        "UCI ML Repository id 80, DOI 10.24432/C50P49, licence CC BY 4.0: 5,620 images of 8x8 cells counting "
        "set pixels (0..16) in 4x4 blocks of 32x32 bitmaps, from 43 writers. Fetched with ucimlrepo and split "
        "here 80/20 at random (not stratified, not by writer) with random_state=42, as seed document 002 did: "
        "4,496 train / 1,124 test."
    ),
    "mnist": (
        "MNIST by Y. LeCun, C. Cortes and C. J. C. Burges (LeCun et al., 1998, 'Gradient-based learning applied "
        "to document recognition', Proc. IEEE), derived from NIST Special Databases 1 and 3: 70,000 grayscale "
        "28x28 digit images (0..255), centred by centre of mass. The official split is used: 60,000 train / "
        "10,000 test, written by different people. Licence CC BY-SA 3.0."
    ),
    "fashion-mnist": (
        "Fashion-MNIST by H. Xiao, K. Rasul and R. Vollgraf (Zalando Research; Xiao et al., 2017, "
        "'Fashion-MNIST: a Novel Image Dataset for Benchmarking Machine Learning Algorithms', arXiv:1708.07747): "
        "70,000 grayscale 28x28 images (0..255) of Zalando article photos in 10 clothing classes, a drop-in "
        "replacement for MNIST. The official split is used: 60,000 train / 10,000 test. Licence MIT."
    ),
}


def _readonly(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array


def make_dataset(
    name: str,
    train: tuple[np.ndarray, np.ndarray],
    test: tuple[np.ndarray, np.ndarray],
    class_names: tuple[str, ...],
    value_max: float,
    source: str,
    identity: str = "",
    warnings: tuple[str, ...] = (),
    provenance: str | None = None,
    pixel_scaling: str = "",
    standard_value_max: float | None = None,
) -> Dataset:
    """Add the channel axis, fix dtypes (uint8 images, int64 labels) and make every array read-only.

    Read-only because one loaded Dataset is shared by every dashboard session; a stray in-place edit would
    silently change everyone's data (and invalidate the fingerprint).
    """

    def images(x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        if x.dtype != np.uint8:
            x = x.astype(np.uint8)
        return _readonly(x.reshape(x.shape + (1,)) if x.ndim == 3 else x)

    def labels(y: np.ndarray) -> np.ndarray:
        return _readonly(np.asarray(y).astype(np.int64, copy=True).reshape(-1))

    return Dataset(
        name=name,
        x_train=images(train[0]),
        y_train=labels(train[1]),
        x_test=images(test[0]),
        y_test=labels(test[1]),
        class_names=class_names,
        value_max=value_max,
        source=source,
        provenance=provenance if provenance is not None else _provenance(name, identity),
        identity=identity,
        warnings=tuple(warnings),
        pixel_scaling=pixel_scaling,
        standard_value_max=standard_value_max,
    )


def _provenance(name: str, identity: str) -> str:
    """The published set's paragraph, said to describe the published set only when the checksums do not match."""
    paragraph = PROVENANCE.get(name, "")
    if identity and not identity.startswith("the published") and paragraph:
        return f"These arrays are {identity}. The published {name} set is described here: {paragraph}"
    return paragraph

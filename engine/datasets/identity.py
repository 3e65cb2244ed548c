"""Which dataset some arrays really are, by checksum: the published MNIST, Fashion-MNIST and UCI digits, or none.

The checksum is of the decoded arrays, not of a file, so gzipped IDX, raw IDX and an npz of the same data agree:
each part (train images, train labels, test images, test labels) is hashed as its uint8 bytes in C order, which
are exactly the payload of its IDX file after the header (16 bytes for images, 8 for labels: `tail -c +17
train-images-idx3-ubyte | sha256sum` reproduces the first part); the dataset's checksum is the SHA-256 of the
four part digests joined by commas.

Where no decoded checksum could be obtained honestly (MNIST: its files are not on the machine this version was
made on and cannot be downloaded there), the published checksums of the canonical *files* identify it instead,
and a copy matching neither is reported as unverified rather than as custom.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.datasets.catalog import DIGIT_CLASS_NAMES, FASHION_CLASS_NAMES

PUBLISHED = "the published files (checksum verified)"
CUSTOM = "custom (not the published files)"


@dataclass(frozen=True)
class KnownData:
    """A published dataset's checksums, and where each number comes from."""

    name: str  # registry name
    title: str  # how a warning names it
    class_names: tuple[str, ...]
    decoded_sha256: str = ""  # `content_checksum` of its arrays; "" where none could be obtained honestly
    file_hashes: dict[str, tuple[str, str]] = field(default_factory=dict)  # file name -> (algorithm, hex digest)
    source: str = ""  # where the numbers come from


KNOWN: dict[str, KnownData] = {
    known.name: known
    for known in (
        KnownData(
            "mnist",
            "MNIST",
            DIGIT_CLASS_NAMES,
            decoded_sha256="",  # not carried: no trustworthy published value; see file_hashes
            file_hashes={
                # keras/src/datasets/mnist.py (Keras 3.15), the file_hash Keras checks after downloading mnist.npz.
                "mnist.npz": ("sha256", "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"),
                # torchvision/datasets/mnist.py (MNIST.resources): the MD5s of LeCun's original gzipped files.
                "train-images-idx3-ubyte.gz": ("md5", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
                "train-labels-idx1-ubyte.gz": ("md5", "d53e105ee54ea40749a09fcbcd1e9432"),
                "t10k-images-idx3-ubyte.gz": ("md5", "9fb629c4189551a2d022fa330f9573f3"),
                "t10k-labels-idx1-ubyte.gz": ("md5", "ec29112dd5afa0611ce80d1b7f02629c"),
            },
            source="file hashes published in Keras' and torchvision's source; decoded-array checksum not carried",
        ),
        KnownData(
            "fashion-mnist",
            "Fashion-MNIST",
            FASHION_CLASS_NAMES,
            # Computed from Debian's dataset-fashion-mnist files (/usr/share/datasets/fashion-mnist), whose
            # decoded arrays are the published ones; `tests/datasets/test_identity.py` recomputes it there.
            decoded_sha256="65fb0cdbb001cd1976bc7395c0c16ac3e99fb19c91684d10d4faab5475df4aa8",
            file_hashes={
                # torchvision/datasets/mnist.py (FashionMNIST.resources): Zalando's gzipped files. Debian
                # recompressed its copies, so theirs differ: the decoded checksum is what identifies them.
                "train-images-idx3-ubyte.gz": ("md5", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
                "train-labels-idx1-ubyte.gz": ("md5", "25c81989df183df01b3e8a0aad5dffbe"),
                "t10k-images-idx3-ubyte.gz": ("md5", "bef4ecab320f06d8554ea6380940ec79"),
                "t10k-labels-idx1-ubyte.gz": ("md5", "bb300cfdad3c16e7a12a480ee83cd310"),
            },
            source="decoded arrays of the Debian package; Zalando's file MD5s from torchvision's source",
        ),
        KnownData(
            "digits",
            "the UCI digits bundled with scikit-learn",
            DIGIT_CLASS_NAMES,
            # scikit-learn's load_digits() split 80/20 (stratified, random_state=42) as `bundled` does.
            decoded_sha256="f1cd99bca7253235130386b35378655b5d6247b24d88aee624bfbcf249e7109f",
            source="computed from scikit-learn's bundled copy (1,797 images) split as the engine splits it",
        ),
    )
}


@dataclass(frozen=True)
class Identity:
    """What a loaded dataset's checksums say about it."""

    status: str  # PUBLISHED, CUSTOM, or an "unverified (...)" sentence
    same_as: str = ""  # registry name of another known dataset the arrays (or files) are, if any

    @property
    def is_other_dataset(self) -> bool:
        return bool(self.same_as)


def content_checksum(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray) -> str:
    """SHA-256 over the four decoded arrays as uint8 C-order bytes (images without a channel axis)."""
    digests = []
    for array in (x_train, y_train, x_test, y_test):
        array = np.asarray(array)
        if array.ndim == 4 and array.shape[-1] == 1:
            array = array[..., 0]
        # Labels 0..255 and pixels 0..255 fit uint8 exactly; anything else is not a known dataset anyway.
        if array.size and (array.min() < 0 or array.max() > 255):
            return ""
        digests.append(hashlib.sha256(np.ascontiguousarray(array, dtype=np.uint8).data).hexdigest())
    return hashlib.sha256(",".join(digests).encode()).hexdigest()


def file_digest(path: Path, algorithm: str) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, algorithm).hexdigest()


def _files_match(known: KnownData, files: Iterable[Path]) -> bool:
    """True when the files given include a complete published set: mnist.npz alone, or all four .gz files."""
    matched = set()
    for path in files:
        expected = known.file_hashes.get(path.name)
        if expected is not None:
            try:
                if file_digest(path, expected[0]) == expected[1]:
                    matched.add(path.name)
            except OSError:
                continue
    gz = {name for name in known.file_hashes if name.endswith(".gz")}
    npz = {name for name in known.file_hashes if name.endswith(".npz")}
    return bool((npz and npz <= matched) or (gz and gz <= matched))


def identify(name: str, checksum: str, files: Iterable[Path] = ()) -> Identity:
    """What arrays with `checksum` (from `files`, if any) are, for a dataset requested as `name`."""
    files = list(files)
    wanted = KNOWN.get(name)
    if wanted is not None and checksum and checksum == wanted.decoded_sha256:
        return Identity(PUBLISHED)
    for other in KNOWN.values():
        if other.name != name and checksum and checksum == other.decoded_sha256:
            return Identity(CUSTOM, same_as=other.name)
    if wanted is not None and files and _files_match(wanted, files):
        return Identity(PUBLISHED)
    for other in KNOWN.values():
        if other.name != name and files and _files_match(other, files):
            return Identity(CUSTOM, same_as=other.name)
    if wanted is not None and not wanted.decoded_sha256:
        return Identity(
            f"unverified (not the published {wanted.title} files; no checksum of the decoded {wanted.title} "
            "arrays is carried, so a faithful re-encoding cannot be told from a custom set)"
        )
    return Identity(CUSTOM)


def other_dataset_warning(asked: str, same_as: str, where: str) -> str:
    """The sentence said when files offered as one dataset are another known one."""
    asked_title = KNOWN[asked].title if asked in KNOWN else asked
    return (
        f"These are {KNOWN[same_as].title} files, not {asked_title}: their checksum is the published "
        f"{KNOWN[same_as].title}'s ({where}). They are loaded and named as {KNOWN[same_as].title}."
    )

"""Readers for the two local file formats MNIST-like data arrives in: IDX files (gzipped or not) and Keras's npz.

`read_idx` parses one IDX file, `load_idx_pair` one images+labels pair, `find_idx_files` locates the four files
of a train/test set in a folder under their usual names, and `load_npz` reads a Keras-style `mnist.npz`.
Every malformed input raises `InvalidDataFile` naming the file, what was expected, what was found and what to
do, because these files are copied around by hand and the person at the keyboard has to fix them.
"""

from __future__ import annotations

import gzip
import io
import math
import zipfile
import zlib
from pathlib import Path

import numpy as np

from engine.errors import InvalidDataFile
from engine.limits import input_limits
from engine.npy_header import check_npy_header
from engine.textfiles import open_regular_file

GZIP_MAGIC = b"\x1f\x8b"

# IDX type codes (third byte of the magic number); only unsigned bytes are images we can show and train on.
IDX_TYPE_NAMES = {
    0x08: "unsigned byte",
    0x09: "signed byte",
    0x0B: "short (int16)",
    0x0C: "int (int32)",
    0x0D: "float (float32)",
    0x0E: "double (float64)",
}
IDX_UBYTE = 0x08
MAX_IDX_DIMS = 3  # image files: count, rows, columns; label files: count

# The four parts of a train/test set and the file names they are published under (LeCun's site uses hyphens,
# some mirrors a dot before "idx"); each may also be gzipped. Earlier names win when several are present.
IDX_PARTS = ("train_images", "train_labels", "test_images", "test_labels")
_PART_STEMS = {
    "train_images": ("train-images-idx3-ubyte", "train-images.idx3-ubyte"),
    "train_labels": ("train-labels-idx1-ubyte", "train-labels.idx1-ubyte"),
    "test_images": ("t10k-images-idx3-ubyte", "t10k-images.idx3-ubyte"),
    "test_labels": ("t10k-labels-idx1-ubyte", "t10k-labels.idx1-ubyte"),
}

NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")


def idx_file_names(part: str) -> tuple[str, ...]:
    """Every file name `find_idx_files` accepts for one part, plain names first."""
    stems = _PART_STEMS[part]
    return stems + tuple(stem + ".gz" for stem in stems)


def _read_bytes(path: Path) -> bytes:
    """The file's content, un-gzipped when it starts with the gzip magic bytes (whatever its suffix)."""
    cap = input_limits().max_decoded_bytes
    try:
        size = path.stat().st_size
        if path.is_dir():
            raise InvalidDataFile(f"{path}: is a folder, not an IDX file.")
        if size > cap:
            raise InvalidDataFile(f"{path}: is {size:,} bytes, over the {cap:,}-byte limit for one data file.")
        # A FIFO or a device (a user's path, or a file planted among kept uploads) is refused, never waited on;
        # a user's link to a real file is followed.
        with open_regular_file(path, follow_links=True) as handle:
            raw = handle.read(cap + 1)  # never more than the cap, even if the file grew since the stat
    except FileNotFoundError:
        raise InvalidDataFile(f"{path}: file not found. Check the path, or copy the file there.") from None
    except OSError as error:
        raise InvalidDataFile(f"{path}: cannot be read ({error.strerror or error}). Check its permissions.") from None
    if raw[:2] != GZIP_MAGIC:
        if len(raw) > cap:
            raise InvalidDataFile(f"{path}: is over the {cap:,}-byte limit for one data file.")
        return raw
    try:
        # Read at most cap + 1 decompressed bytes: a small gzip can expand to gigabytes (a "gzip bomb").
        with gzip.GzipFile(fileobj=io.BytesIO(raw)) as unpacked:
            data = unpacked.read(cap + 1)
    except (OSError, EOFError, zlib.error) as error:
        raise InvalidDataFile(
            f"{path}: starts like a gzip file but cannot be decompressed ({error}); it is probably truncated "
            "or damaged. Download or copy it again."
        ) from None
    if len(data) > cap:
        raise InvalidDataFile(f"{path}: decompresses to over {cap:,} bytes, the limit for one data file.")
    return data


def read_idx(path: str | Path) -> np.ndarray:
    """Parse one IDX file (plain or gzipped) into a uint8 array shaped as its header declares.

    The header is two zero bytes, a type code (only 0x08, unsigned byte, is accepted), the number of
    dimensions, then each dimension as a big-endian uint32. The payload must be exactly as long as the
    dimensions say. The returned array is read-only (it views the file's bytes without a copy).
    """
    path = Path(path)
    data = _read_bytes(path)
    if len(data) < 4:
        raise InvalidDataFile(
            f"{path}: expected an IDX header of at least 4 bytes, found {len(data)} bytes. "
            "The file is empty or truncated; copy it again."
        )
    if data[0] != 0 or data[1] != 0:
        raise InvalidDataFile(
            f"{path}: not an IDX file: expected the magic number to start with two zero bytes, found "
            f"0x{data[0]:02x} 0x{data[1]:02x}. Point to the original MNIST-style "
            "'...-idx3-ubyte' / '...-idx1-ubyte' files (gzipped or not)."
        )
    type_code, ndim = data[2], data[3]
    if type_code != IDX_UBYTE:
        kind = IDX_TYPE_NAMES.get(type_code, "an unknown type")
        raise InvalidDataFile(
            f"{path}: expected IDX type code 0x08 (unsigned byte), found 0x{type_code:02x} ({kind}). "
            "Only 8-bit image and label files are supported; convert the data to uint8 IDX or an npz file."
        )
    if ndim == 0:
        raise InvalidDataFile(
            f"{path}: expected at least 1 dimension in the IDX header, found 0. The file is damaged; copy it again."
        )
    if ndim > MAX_IDX_DIMS:
        raise InvalidDataFile(
            f"{path}: the IDX header declares {ndim} dimensions; image files have 3 (count, rows, columns) and label "
            "files 1. The file is damaged or not an MNIST-style IDX file."
        )
    header_len = 4 + 4 * ndim
    if len(data) < header_len:
        raise InvalidDataFile(
            f"{path}: the header declares {ndim} dimensions ({header_len} header bytes) but the file has only "
            f"{len(data)} bytes. The file is truncated; copy it again."
        )
    dims = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected = math.prod(dims)  # Python integers: a product of four-byte sizes cannot overflow to 0 here
    found = len(data) - header_len
    if found != expected:
        problem = "truncated" if found < expected else "followed by extra data"
        shape = " x ".join(str(d) for d in dims)
        raise InvalidDataFile(
            f"{path}: the header declares shape {shape} = {expected:,} bytes of data, found {found:,} bytes; "
            f"the file is {problem}. Download or copy it again."
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header_len).reshape(dims)


def load_idx_pair(
    images_path: str | Path, labels_path: str | Path, num_classes: int = 10
) -> tuple[np.ndarray, np.ndarray]:
    """Read matching image and label IDX files: images `(n, h, w)` uint8, labels `(n,)` int64 in 0..num_classes-1."""
    images = read_idx(images_path)
    labels = read_idx(labels_path)
    if images.ndim != 3:
        raise InvalidDataFile(
            f"{images_path}: expected images shaped (count, height, width) (an idx3 file), found "
            f"{images.ndim} dimensions {images.shape}. Check that the images and labels files are not swapped."
        )
    if labels.ndim != 1:
        raise InvalidDataFile(
            f"{labels_path}: expected labels shaped (count,) (an idx1 file), found {labels.ndim} dimensions "
            f"{labels.shape}. Check that the images and labels files are not swapped."
        )
    if len(images) != len(labels):
        raise InvalidDataFile(
            f"{images_path} holds {len(images):,} images but {labels_path} holds {len(labels):,} labels; "
            "they must match. Check that both files come from the same set (train with train, t10k with t10k)."
        )
    _check_label_range(labels, num_classes, str(labels_path))
    return images, labels.astype(np.int64)


def find_idx_files(folder: str | Path) -> dict[str, Path]:
    """Locate the train/test image and label IDX files in `folder` under their usual names.

    Returns a dict with the keys of `IDX_PARTS` that were found (all four when the folder is complete);
    it only looks at names, so it is cheap enough for availability checks.
    """
    folder = Path(folder)
    found: dict[str, Path] = {}
    if not folder.is_dir():
        return found
    for part in IDX_PARTS:
        for name in idx_file_names(part):
            candidate = folder / name
            if candidate.is_file():
                found[part] = candidate
                break
    return found


def _check_label_range(labels: np.ndarray, num_classes: int, where: str) -> None:
    if labels.size == 0:
        return
    low, high = int(labels.min()), int(labels.max())
    if low < 0 or high >= num_classes:
        bad = np.unique(labels[(labels < 0) | (labels >= num_classes)])
        shown = ", ".join(str(int(v)) for v in bad[:10]) + (" ..." if len(bad) > 10 else "")
        raise InvalidDataFile(
            f"{where}: expected labels 0..{num_classes - 1}, found labels outside that range: {shown}. "
            "The labels file belongs to a different data set or is damaged."
        )


def _npz_images(array: np.ndarray, path: Path, key: str) -> np.ndarray:
    """Check one image array from an npz and return it as uint8 `(n, h, w)`."""
    if array.ndim == 4 and array.shape[-1] == 1:
        array = array[..., 0]  # a trailing channel axis of 1 is harmless; drop it so both layouts load
    if array.ndim != 3:
        raise InvalidDataFile(
            f"{path}: expected '{key}' shaped (count, height, width), found shape {array.shape}. "
            "Save the images as a 3-D uint8 array."
        )
    if array.dtype == np.uint8:
        return array
    if not np.issubdtype(array.dtype, np.integer):
        raise InvalidDataFile(
            f"{path}: expected '{key}' to hold integer pixel values 0..255 (uint8), found dtype {array.dtype}. "
            "Save the raw uint8 images, not normalised floats."
        )
    if array.size and (int(array.min()) < 0 or int(array.max()) > 255):
        raise InvalidDataFile(
            f"{path}: expected '{key}' pixel values in 0..255, found {int(array.min())}..{int(array.max())}. "
            "Save the raw uint8 images."
        )
    return array.astype(np.uint8)


def _npz_labels(array: np.ndarray, path: Path, key: str, num_classes: int) -> np.ndarray:
    if array.ndim != 1:
        raise InvalidDataFile(
            f"{path}: expected '{key}' shaped (count,), found shape {array.shape}. Save labels as a 1-D array."
        )
    if not np.issubdtype(array.dtype, np.integer):
        raise InvalidDataFile(
            f"{path}: expected '{key}' to hold integer class labels, found dtype {array.dtype}. "
            "Save labels as integers (not one-hot vectors or floats)."
        )
    _check_label_range(array, num_classes, f"{path} ('{key}')")
    return array.astype(np.int64)


def load_npz(
    path: str | Path, num_classes: int = 10
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Read a Keras-style `mnist.npz` (keys x_train, y_train, x_test, y_test) as
    `((x_train, y_train), (x_test, y_test))`.

    Images come back uint8 `(n, h, w)`, labels int64. Pickled (object) arrays are refused: loading a pickle
    from a file someone copied in can run arbitrary code.
    """
    path = Path(path)
    try:
        with open_regular_file(path, follow_links=True):
            pass  # a FIFO would make np.load wait forever, a device read forever: refused before it opens them
        archive = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise InvalidDataFile(f"{path}: file not found. Check the path, or copy the file there.") from None
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as error:
        raise InvalidDataFile(
            f"{path}: expected an npz archive (as written by numpy.savez), but it cannot be read ({error}). "
            "The file is damaged or not an npz; copy it again."
        ) from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise InvalidDataFile(
            f"{path}: expected an npz archive with arrays {', '.join(NPZ_KEYS)}, found a single .npy array. "
            "Save the four arrays with numpy.savez."
        )
    with archive:
        missing = [key for key in NPZ_KEYS if key not in archive.files]
        if missing:
            raise InvalidDataFile(
                f"{path}: expected arrays {', '.join(NPZ_KEYS)}, missing {', '.join(missing)} "
                f"(found: {', '.join(archive.files) or 'none'}). Save all four with numpy.savez."
            )
        arrays = {}
        cap = input_limits().max_decoded_bytes
        assert archive.zip is not None  # NpzFile drops its zip only when closed, after this `with`
        for key in NPZ_KEYS:
            # The zip directory states each member's unpacked size, and zipfile never reads past it: checking
            # it first refuses a "zip bomb" before a byte is inflated.
            try:
                unpacked = archive.zip.getinfo(f"{key}.npy").file_size
            except KeyError:
                unpacked = 0
            if unpacked > cap:
                raise InvalidDataFile(f"{path}: '{key}' unpacks to {unpacked:,} bytes, over the {cap:,}-byte limit.")
            # Its .npy header next, against that size: NumPy would allocate whatever shape the header declares.
            try:
                with archive.zip.open(f"{key}.npy") as member:
                    check_npy_header(member, unpacked, f"{path}: '{key}'", InvalidDataFile)
            except (OSError, zipfile.BadZipFile, EOFError, zlib.error) as error:
                raise InvalidDataFile(
                    f"{path}: '{key}' cannot be read ({error}); the archive is damaged. Copy the file again."
                ) from None
            try:
                arrays[key] = archive[key]
            except ValueError as error:
                if "pickle" in str(error).lower() or "object" in str(error).lower():
                    raise InvalidDataFile(
                        f"{path}: '{key}' is an object (pickled) array; pickles are refused because loading "
                        "them can run arbitrary code. Save plain numeric arrays (uint8 images, integer labels)."
                    ) from None
                raise InvalidDataFile(f"{path}: '{key}' cannot be read ({error}). Copy the file again.") from None
            except (OSError, zipfile.BadZipFile, EOFError, zlib.error) as error:
                raise InvalidDataFile(
                    f"{path}: '{key}' cannot be read ({error}); the archive is damaged. Copy the file again."
                ) from None
    x_train = _npz_images(arrays["x_train"], path, "x_train")
    x_test = _npz_images(arrays["x_test"], path, "x_test")
    y_train = _npz_labels(arrays["y_train"], path, "y_train", num_classes)
    y_test = _npz_labels(arrays["y_test"], path, "y_test", num_classes)
    for images_key, images, labels_key, labels in (
        ("x_train", x_train, "y_train", y_train),
        ("x_test", x_test, "y_test", y_test),
    ):
        if len(images) != len(labels):
            raise InvalidDataFile(
                f"{path}: '{images_key}' holds {len(images):,} images but '{labels_key}' holds {len(labels):,} "
                "labels; they must match."
            )
    if x_train.shape[1:] != x_test.shape[1:]:
        raise InvalidDataFile(
            f"{path}: train images are {x_train.shape[1]}x{x_train.shape[2]} but test images are "
            f"{x_test.shape[1]}x{x_test.shape[2]}; both must have the same size."
        )
    return (x_train, y_train), (x_test, y_test)

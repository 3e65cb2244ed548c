"""The `uci-optdigits` source: the full UCI optdigits set, fetched once with ucimlrepo and cached as an npz.

The cache file is checked on every read (shape, value ranges, no pickles) and written atomically, so a
failed or half-finished download never leaves a file that a later load would trust.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

from engine import settings
from engine.datasets.catalog import DIGIT_CLASS_NAMES, make_dataset
from engine.datasets.dataset import Dataset
from engine.datasets.identity import KNOWN, content_checksum, identify
from engine.datasets.network import DownloadFailed, fetch, short_reason
from engine.errors import DatasetUnavailable, InvalidDataFile
from engine.textfiles import open_regular_file

OPTDIGITS_CACHE_NAME = "uci-optdigits.npz"


def optdigits_cache_path() -> Path:
    return settings.datasets_dir() / OPTDIGITS_CACHE_NAME


def _check_optdigits(x: np.ndarray, y: np.ndarray, where: str, error: type[Exception]) -> tuple[np.ndarray, np.ndarray]:
    """Full optdigits arrays as uint8 `(n, 8, 8)` and int64 `(n,)`, or `error` saying what is wrong."""
    x, y = np.asarray(x), np.asarray(y).reshape(-1)
    if x.ndim == 2 and x.shape[1] == 64:
        x = x.reshape(-1, 8, 8)  # UCI lists the 64 cells row by row
    if x.ndim != 3 or x.shape[1:] != (8, 8):
        raise error(f"{where}: expected optdigits features shaped (n, 64) or (n, 8, 8), found {x.shape}.")
    if not np.issubdtype(x.dtype, np.integer) and not np.all(np.mod(x, 1) == 0):
        raise error(f"{where}: expected whole-number pixel counts 0..16, found dtype {x.dtype} with fractions.")
    if x.size and (x.min() < 0 or x.max() > 16):
        raise error(f"{where}: expected pixel counts 0..16, found {x.min()}..{x.max()}.")
    if len(y) != len(x):
        raise error(f"{where}: {len(x):,} images but {len(y):,} labels; they must match.")
    if not np.issubdtype(y.dtype, np.integer) and not np.all(np.mod(y, 1) == 0):
        raise error(f"{where}: expected integer labels 0..9, found dtype {y.dtype}.")
    if y.size and (y.min() < 0 or y.max() > 9):
        raise error(f"{where}: expected labels 0..9, found {y.min()}..{y.max()}.")
    return x.astype(np.uint8), y.astype(np.int64)


def _read_optdigits_npz(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Read the cache format: arrays X (n, 64) and y (n,), pickles refused."""
    hint = f"Delete {path} to fetch it again, or copy a good {OPTDIGITS_CACHE_NAME} there."
    try:
        with open_regular_file(path, follow_links=True):
            pass  # a FIFO planted in the cache would make np.load wait forever: refused before it opens it
        with np.load(path, allow_pickle=False) as archive:
            missing = [key for key in ("X", "y") if key not in archive.files]
            if missing:
                raise InvalidDataFile(f"{path}: expected arrays X and y, missing {', '.join(missing)}. {hint}")
            x, y = archive["X"], archive["y"]
    except InvalidDataFile:
        raise
    except FileNotFoundError:
        raise InvalidDataFile(f"{path}: file not found. Check the path.") from None
    except ValueError as error:
        if "pickle" in str(error).lower() or "object" in str(error).lower():
            raise InvalidDataFile(
                f"{path}: holds an object (pickled) array; pickles are refused because loading them can run "
                f"arbitrary code. {hint}"
            ) from None
        raise InvalidDataFile(f"{path}: not a readable npz archive ({error}). {hint}") from None
    except Exception as error:  # zip, zlib and OS errors all mean a damaged file
        raise InvalidDataFile(f"{path}: not a readable npz archive ({short_reason(error)}). {hint}") from None
    try:
        return _check_optdigits(x, y, str(path), InvalidDataFile)
    except InvalidDataFile as error:
        raise InvalidDataFile(f"{error} {hint}") from None


def _save_npz_atomically(path: Path, **arrays: np.ndarray) -> None:
    """Write to a temporary file in the same folder, then rename over `path`: readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # Closed by the `with` below; opened outside it because its name is needed after closing (rename or clean-up).
    handle = tempfile.NamedTemporaryFile(  # noqa: SIM115
        dir=path.parent, prefix=f".{path.name}.", suffix=".tmp", delete=False
    )
    try:
        with handle:
            # A file object, so numpy adds no ".npz" suffix. The ignore: mypy matches a `**` dict against every
            # keyword parameter, numpy's `allow_pickle: bool` too, though no array here is named so.
            np.savez_compressed(handle, **arrays)  # type: ignore[arg-type]
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(handle.name, path)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise


def status_optdigits(local_path: Path | None) -> tuple[bool, str]:
    if local_path is not None:
        path = local_path / OPTDIGITS_CACHE_NAME if local_path.is_dir() else local_path
        return (True, f"local file {path}") if path.is_file() else (False, f"{path} does not exist")
    cache = optdigits_cache_path()
    if cache.is_file():
        return True, f"cached at {cache}"
    return False, (
        f"not cached yet ({cache} is absent): needs one download from the UCI ML Repository, "
        f"or a copy of {OPTDIGITS_CACHE_NAME} in {cache.parent}"
    )


def load_uci_optdigits(local_path: Path | None) -> Dataset:
    if local_path is not None:
        path = local_path / OPTDIGITS_CACHE_NAME if local_path.is_dir() else local_path
        x, y = _read_optdigits_npz(path)
        source = f"local file {path}"
    else:
        cache = optdigits_cache_path()
        cached = True
        if cache.is_file():
            source = f"cache file {cache}"
        else:
            try:
                fetched = fetch("uci-optdigits")
            except DownloadFailed as error:
                raise DatasetUnavailable(
                    "uci-optdigits is not available offline. Tried: "
                    f"(1) cache file {cache}: not present; "
                    f"(2) download from the UCI ML Repository (ucimlrepo id=80): {error}. "
                    "To use it: connect to the internet once and load it again (it is then kept in that cache "
                    f"file); or copy an existing {OPTDIGITS_CACHE_NAME} into {cache.parent}; or use 'digits', "
                    "scikit-learn's bundled copy of part of the same UCI set (1,797 images), which needs no network."
                ) from None
            features, labels = fetched
            x, y = _check_optdigits(features, labels, "uci-optdigits download", DatasetUnavailable)
            source = f"UCI ML Repository download (ucimlrepo id=80), saved to {cache}"
            try:
                _save_npz_atomically(cache, X=x.reshape(len(x), 64), y=y)
            except OSError as error:
                source = f"UCI ML Repository download (ucimlrepo id=80); not cached: {short_reason(error)}"
                cached = False  # keep the downloaded arrays; next time it fetches again
        if cached:
            # Read back what was cached so a fresh download and a later cached load run the same code.
            x, y = _read_optdigits_npz(cache)
    from sklearn.model_selection import train_test_split

    # Not stratified, exactly as seed document 002 split it (4,496 / 1,124 for the full 5,620).
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.2, random_state=42)
    # No checksum of the full optdigits arrays is carried: the set could not be fetched where this version was made.
    identity = "unverified (no checksum of the UCI optdigits arrays is carried)"
    checksum = content_checksum(x_train, y_train, x_test, y_test)
    found = identify("uci-optdigits", checksum)
    warnings: tuple[str, ...] = ()
    if found.is_other_dataset:  # e.g. the 1,797 bundled digits saved under the optdigits name
        warnings = (f"These arrays are {KNOWN[found.same_as].title}, not the full UCI optdigits set ({source}).",)
    return make_dataset(
        "uci-optdigits",
        (x_train, y_train),
        (x_test, y_test),
        DIGIT_CLASS_NAMES,
        16,
        source,
        identity=identity,
        warnings=warnings,
    )

"""The registry of named datasets: what each is, whether it can be had offline, and loading it (memoised).

`list_datasets()` and `dataset_status()` only look at names and files, so the dashboard can list sources
without importing TensorFlow or scikit-learn. `load_dataset()` tries, for each source, the local places first
(explicit path, environment variable, package or cache folders) and the network last, and says exactly what it
tried when everything fails.

Each network fetch lives in one module-level function (`fetch_mnist`, `fetch_fashion_mnist`,
`fetch_uci_optdigits`) that runs the real Keras / ucimlrepo code; tests replace those functions to simulate
being offline.
"""

from __future__ import annotations

import os
import socket
import sys
import tempfile
import threading
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from engine import settings
from engine.datasets.dataset import Dataset
from engine.datasets.idx import IDX_PARTS, find_idx_files, idx_file_names, load_idx_pair, load_npz
from engine.errors import DatasetUnavailable, InvalidDataFile

DEFAULT_DATASET = "digits"

# Bounds every socket operation of a download, so an unreachable host fails instead of hanging the dashboard.
NETWORK_TIMEOUT_S = 20.0

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

MNIST_ENV = "DIGIT_LAB_MNIST_DIR"
FASHION_MNIST_ENV = "DIGIT_LAB_FASHION_MNIST_DIR"
# Debian's `dataset-fashion-mnist` package installs the original gzipped IDX files here.
DEBIAN_FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
OPTDIGITS_CACHE_NAME = "uci-optdigits.npz"

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


@dataclass(frozen=True)
class DatasetInfo:
    """What the dashboard shows about a source before (and without) loading it."""

    name: str
    title: str
    image_shape: tuple[int, int, int]
    num_classes: int
    description: str
    how_to_get: str  # how to make it available offline


# --------------------------------------------------------------------------------------------------------------
# Network fetches: the one place each source touches the network; tests monkeypatch these.


def fetch_mnist() -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Download MNIST with Keras (kept by Keras in ~/.keras/datasets/mnist.npz for next time)."""
    from keras.datasets import mnist

    return mnist.load_data()


def fetch_fashion_mnist() -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Download Fashion-MNIST with Keras (kept by Keras in ~/.keras/datasets/fashion-mnist/)."""
    from keras.datasets import fashion_mnist

    return fashion_mnist.load_data()


def fetch_uci_optdigits() -> tuple[np.ndarray, np.ndarray]:
    """Fetch the full UCI optdigits set (id 80) as features `(5620, 64)` and labels `(5620,)`."""
    from ucimlrepo import fetch_ucirepo

    repo = fetch_ucirepo(id=80)
    return repo.data.features.to_numpy(), repo.data.targets.to_numpy().ravel()


_NETWORK_LOCK = threading.Lock()


@contextmanager
def _network_timeout(seconds: float = NETWORK_TIMEOUT_S) -> Iterator[None]:
    """Set the process-wide default socket timeout for one fetch, then restore it.

    The default timeout is global, so fetches are serialised to keep one from restoring it under another.
    Keras prints its "Downloading data from ..." line on stdout; it goes to stderr so `--json` output stays
    one clean JSON value.
    """
    with _NETWORK_LOCK, redirect_stdout(sys.stderr):
        previous = socket.getdefaulttimeout()
        socket.setdefaulttimeout(seconds)
        try:
            yield
        finally:
            socket.setdefaulttimeout(previous)


def _short_reason(error: BaseException) -> str:
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    reason = f"{type(error).__name__}: {text}" if text else type(error).__name__
    return reason if len(reason) <= 200 else reason[:197] + "..."


# --------------------------------------------------------------------------------------------------------------
# Building the Dataset value.


def _readonly(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array


def _make_dataset(
    name: str,
    train: tuple[np.ndarray, np.ndarray],
    test: tuple[np.ndarray, np.ndarray],
    class_names: tuple[str, ...],
    value_max: float,
    source: str,
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
        provenance=PROVENANCE[name],
    )


# --------------------------------------------------------------------------------------------------------------
# digits (scikit-learn, bundled)


def _refuse_local_path(name: str, local_path: Path | None) -> None:
    if local_path is not None:
        raise DatasetUnavailable(
            f"{name} is bundled with scikit-learn and takes no local path (got {local_path}); load it without one."
        )


def _status_digits(local_path: Path | None) -> tuple[bool, str]:
    return True, "bundled with scikit-learn; always available offline"


def _load_digits(local_path: Path | None) -> Dataset:
    _refuse_local_path("digits", local_path)
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    bunch = load_digits()
    x = bunch.images.astype(np.uint8)  # the float64 values are whole counts 0..16
    y = bunch.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.2, stratify=y, random_state=42)
    return _make_dataset(
        "digits",
        (x_train, y_train),
        (x_test, y_test),
        DIGIT_CLASS_NAMES,
        16,
        "scikit-learn bundled data (sklearn.datasets.load_digits)",
    )


# --------------------------------------------------------------------------------------------------------------
# uci-optdigits (UCI ML Repository via ucimlrepo, cached as npz)


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
        raise InvalidDataFile(f"{path}: not a readable npz archive ({_short_reason(error)}). {hint}") from None
    try:
        return _check_optdigits(x, y, str(path), InvalidDataFile)
    except InvalidDataFile as error:
        raise InvalidDataFile(f"{error} {hint}") from None


def _save_npz_atomically(path: Path, **arrays: np.ndarray) -> None:
    """Write to a temporary file in the same folder, then rename over `path`: readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp", delete=False)
    try:
        with handle:
            np.savez_compressed(handle, **arrays)  # a file object, so numpy adds no ".npz" suffix
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(handle.name, path)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise


def _status_optdigits(local_path: Path | None) -> tuple[bool, str]:
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


def _load_uci_optdigits(local_path: Path | None) -> Dataset:
    if local_path is not None:
        path = local_path / OPTDIGITS_CACHE_NAME if local_path.is_dir() else local_path
        x, y = _read_optdigits_npz(path)
        source = f"local file {path}"
    else:
        cache = optdigits_cache_path()
        if cache.is_file():
            source = f"cache file {cache}"
        else:
            try:
                with _network_timeout():
                    fetched = fetch_uci_optdigits()
            except Exception as error:
                raise DatasetUnavailable(
                    "uci-optdigits is not available offline. Tried: "
                    f"(1) cache file {cache}: not present; "
                    f"(2) download from the UCI ML Repository (ucimlrepo id=80): {_short_reason(error)}. "
                    "To use it: connect to the internet once and load it again (it is then kept in that cache "
                    f"file); or copy an existing {OPTDIGITS_CACHE_NAME} into {cache.parent}; or use 'digits', "
                    "scikit-learn's bundled copy of part of the same UCI set (1,797 images), which needs no network."
                ) from None
            x, y = _check_optdigits(*fetched, "uci-optdigits download", DatasetUnavailable)
            source = f"UCI ML Repository download (ucimlrepo id=80), saved to {cache}"
            try:
                _save_npz_atomically(cache, X=x.reshape(len(x), 64), y=y)
            except OSError as error:
                source = f"UCI ML Repository download (ucimlrepo id=80); not cached: {_short_reason(error)}"
                cache = None  # keep the downloaded arrays; next time it fetches again
        if cache is not None:
            # Read back what was cached so a fresh download and a later cached load run the same code.
            x, y = _read_optdigits_npz(cache)
    from sklearn.model_selection import train_test_split

    # Not stratified, exactly as seed document 002 split it (4,496 / 1,124 for the full 5,620).
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.2, random_state=42)
    return _make_dataset("uci-optdigits", (x_train, y_train), (x_test, y_test), DIGIT_CLASS_NAMES, 16, source)


# --------------------------------------------------------------------------------------------------------------
# mnist and fashion-mnist: local IDX/npz folders, Keras's cache, then a Keras download


@dataclass(frozen=True)
class _MnistLike:
    name: str
    env_var: str
    npz_name: str  # an npz in Keras's layout accepted in local folders
    keras_cache: str  # relative to Keras's datasets folder: a file (npz) or a folder of IDX files
    fetch: str  # name of the module-level fetch function (looked up at call time so tests can replace it)
    class_names: tuple[str, ...]
    system_dirs: Callable[[], tuple[tuple[str, Path], ...]] = lambda: ()  # (label, folder) pairs


def _keras_datasets_dir() -> Path:
    """Where Keras keeps downloads: `$KERAS_HOME/datasets`, else `~/.keras/datasets` (`/tmp` when ~ is read-only)."""
    home = os.environ.get("KERAS_HOME")
    if home:
        return Path(home) / "datasets"
    base = Path(os.path.expanduser("~"))
    if not os.access(base, os.W_OK):
        base = Path("/tmp")
    return base / ".keras" / "datasets"


def _find_in(location: Path, family: _MnistLike) -> tuple[str, Path | dict[str, Path]] | str:
    """What loadable data `location` holds: ("idx", files) or ("npz", path), else a reason string.

    Looks at names only (cheap), so both status checks and loading use it.
    """
    if location.is_file():
        return ("npz", location)
    if not location.is_dir():
        return f"{location} does not exist"
    files = find_idx_files(location)
    if len(files) == len(IDX_PARTS):
        return ("idx", files)
    npz = location / family.npz_name
    if npz.is_file():
        return ("npz", npz)
    if files:
        missing = [idx_file_names(part)[0] + "[.gz]" for part in IDX_PARTS if part not in files]
        return f"{location} has only some IDX files (missing {', '.join(missing)}) and no {family.npz_name}"
    return f"{location} holds no IDX files and no {family.npz_name}"


def _read_found(found: tuple[str, Path | dict[str, Path]], family: _MnistLike):
    kind, where = found
    if kind == "npz":
        return load_npz(where, num_classes=len(family.class_names))
    train = load_idx_pair(where["train_images"], where["train_labels"], num_classes=len(family.class_names))
    test = load_idx_pair(where["test_images"], where["test_labels"], num_classes=len(family.class_names))
    if train[0].shape[1:] != test[0].shape[1:]:
        raise InvalidDataFile(
            f"{where['train_images']} holds {train[0].shape[1]}x{train[0].shape[2]} images but "
            f"{where['test_images']} holds {test[0].shape[1]}x{test[0].shape[2]}; both must be the same size."
        )
    return train, test


def _describe(found: tuple[str, Path | dict[str, Path]]) -> str:
    kind, where = found
    return f"{where} (npz)" if kind == "npz" else f"{where['train_images'].parent} (IDX files)"


def _candidates(family: _MnistLike, local_path: Path | None) -> list[tuple[str, Path | None, bool]]:
    """(label, location, lenient) in the order tried; a None location means 'not configured'.

    A lenient location that holds malformed files is noted and skipped (Keras re-downloads a damaged cache);
    elsewhere a malformed file is an error the user must fix.
    """
    if local_path is not None:
        return [("local path", local_path, False)]
    env = os.environ.get(family.env_var)
    found = [(f"${family.env_var}", Path(env).expanduser() if env else None, False)]
    found += [(label, folder, False) for label, folder in family.system_dirs()]
    found.append(("Keras cache", _keras_datasets_dir() / family.keras_cache, True))
    return found


def _status_mnist_like(family: _MnistLike, local_path: Path | None) -> tuple[bool, str]:
    reasons = []
    for label, location, _ in _candidates(family, local_path):
        if location is None:
            reasons.append(f"{label} not set")
            continue
        found = _find_in(location, family)
        if isinstance(found, tuple):
            return True, f"{label}: {_describe(found)}"
        reasons.append(f"{label}: {found}")
    if local_path is not None:
        return False, reasons[0]
    return False, "not found offline (" + "; ".join(reasons) + "); needs a download through Keras"


def _load_mnist_like(family: _MnistLike, local_path: Path | None) -> Dataset:
    tried = []
    for label, location, lenient in _candidates(family, local_path):
        if location is None:
            tried.append(f"{label}: not set")
            continue
        found = _find_in(location, family)
        if not isinstance(found, tuple):
            if local_path is not None:
                raise DatasetUnavailable(
                    f"{family.name}: nothing to load at the local path: {found}. Point it to a folder holding "
                    f"the four IDX files ({', '.join(idx_file_names(p)[0] for p in IDX_PARTS)}, each optionally "
                    f".gz) or {family.npz_name}, or to the npz file itself."
                )
            tried.append(f"{label}: {found}")
            continue
        try:
            train, test = _read_found(found, family)
        except InvalidDataFile as error:
            if not lenient:
                raise
            tried.append(f"{label}: {error}")
            continue
        return _make_dataset(family.name, train, test, family.class_names, 255, f"{label}: {_describe(found)}")
    fetch = globals()[family.fetch]
    try:
        with _network_timeout():
            train, test = fetch()
    except Exception as error:
        tried.append(f"Keras download: {_short_reason(error)}")
        steps = "; ".join(f"({i}) {t}" for i, t in enumerate(tried, start=1))
        raise DatasetUnavailable(
            f"{family.name} is not available offline. Tried: {steps}. To use it: connect to the internet once "
            f"and load it again (Keras keeps a copy in {_keras_datasets_dir()}); or copy {family.npz_name} or the "
            f"four IDX files ({', '.join(idx_file_names(p)[0] for p in IDX_PARTS)}, each optionally .gz) into a "
            f"folder and set {family.env_var} to it or give that folder as the local path; or use 'digits', "
            "which is bundled and works offline."
        ) from None
    x_train, y_train = np.asarray(train[0]), np.asarray(train[1])
    x_test, y_test = np.asarray(test[0]), np.asarray(test[1])
    if x_train.ndim != 3 or x_test.ndim != 3 or len(x_train) != len(y_train) or len(x_test) != len(y_test):
        raise DatasetUnavailable(
            f"{family.name}: the Keras download returned unexpected shapes {x_train.shape}/{y_train.shape}, "
            f"{x_test.shape}/{y_test.shape}; delete the files in {_keras_datasets_dir()} and try again."
        )
    source = f"Keras download (keras.datasets.{family.fetch.removeprefix('fetch_')}.load_data)"
    return _make_dataset(family.name, (x_train, y_train), (x_test, y_test), family.class_names, 255, source)


def _debian_fashion_dirs() -> tuple[tuple[str, Path], ...]:
    # Read at call time so tests can point it elsewhere.
    return (("Debian package dataset-fashion-mnist", DEBIAN_FASHION_MNIST_DIR),)


_MNIST = _MnistLike("mnist", MNIST_ENV, "mnist.npz", "mnist.npz", "fetch_mnist", DIGIT_CLASS_NAMES)
_FASHION = _MnistLike(
    "fashion-mnist",
    FASHION_MNIST_ENV,
    "fashion-mnist.npz",
    "fashion-mnist",
    "fetch_fashion_mnist",
    FASHION_CLASS_NAMES,
    _debian_fashion_dirs,
)

_IDX_NAMES = ", ".join(idx_file_names(p)[0] for p in IDX_PARTS)


@dataclass(frozen=True)
class _Source:
    info: DatasetInfo
    status: Callable[[Path | None], tuple[bool, str]]
    load: Callable[[Path | None], Dataset]


_SOURCES: dict[str, _Source] = {
    source.info.name: source
    for source in (
        _Source(
            DatasetInfo(
                name="digits",
                title="Digits (scikit-learn, 8x8)",
                image_shape=(8, 8, 1),
                num_classes=10,
                description="1,797 small 8x8 handwritten digits with pixel counts 0..16; bundled, loads instantly.",
                how_to_get="Nothing to do: it ships with scikit-learn and always works offline.",
            ),
            _status_digits,
            _load_digits,
        ),
        _Source(
            DatasetInfo(
                name="uci-optdigits",
                title="UCI Optical Digits (8x8)",
                image_shape=(8, 8, 1),
                num_classes=10,
                description="The full UCI optdigits set: 5,620 8x8 digits (0..16) from 43 writers, split 80/20.",
                how_to_get=(
                    "Load it once with an internet connection (it is then kept as "
                    f"{OPTDIGITS_CACHE_NAME} in the datasets cache folder), or copy an existing "
                    f"{OPTDIGITS_CACHE_NAME} (arrays X (n, 64) and y) into that folder."
                ),
            ),
            _status_optdigits,
            _load_uci_optdigits,
        ),
        _Source(
            DatasetInfo(
                name="mnist",
                title="MNIST (28x28)",
                image_shape=(28, 28, 1),
                num_classes=10,
                description="70,000 28x28 grayscale handwritten digits (0..255), official 60,000/10,000 split.",
                how_to_get=(
                    f"Load it once online (Keras keeps mnist.npz in ~/.keras/datasets), or put mnist.npz or the "
                    f"four IDX files ({_IDX_NAMES}, optionally .gz) in a folder and set {MNIST_ENV} to it or "
                    "give the folder as the local path."
                ),
            ),
            lambda local_path: _status_mnist_like(_MNIST, local_path),
            lambda local_path: _load_mnist_like(_MNIST, local_path),
        ),
        _Source(
            DatasetInfo(
                name="fashion-mnist",
                title="Fashion-MNIST (28x28)",
                image_shape=(28, 28, 1),
                num_classes=10,
                description="70,000 28x28 grayscale clothing images in 10 classes, official 60,000/10,000 split.",
                how_to_get=(
                    f"On Debian/Ubuntu install the package dataset-fashion-mnist (files in "
                    f"{DEBIAN_FASHION_MNIST_DIR}); or load it once online (Keras keeps it in "
                    f"~/.keras/datasets/fashion-mnist); or put the four IDX files ({_IDX_NAMES}, optionally .gz) "
                    f"in a folder and set {FASHION_MNIST_ENV} to it or give the folder as the local path."
                ),
            ),
            lambda local_path: _status_mnist_like(_FASHION, local_path),
            lambda local_path: _load_mnist_like(_FASHION, local_path),
        ),
    )
}


# --------------------------------------------------------------------------------------------------------------
# Public API


def _source(name: str) -> _Source:
    try:
        return _SOURCES[name]
    except KeyError:
        raise DatasetUnavailable(
            f"unknown dataset {name!r}; choose one of: {', '.join(_SOURCES)}."
        ) from None


def _as_path(local_path: str | Path | None) -> Path | None:
    if local_path is None or str(local_path) == "":
        return None
    return Path(local_path).expanduser()


def list_datasets() -> list[DatasetInfo]:
    """Every registered source, default first; loads nothing."""
    return [source.info for source in _SOURCES.values()]


_MEMO: dict[tuple[str, str | None], Dataset] = {}
_MEMO_LOCK = threading.Lock()
_KEY_LOCKS: dict[tuple[str, str | None], threading.Lock] = {}


def _memo_key(name: str, local_path: Path | None) -> tuple[str, str | None]:
    return (name, str(local_path.resolve()) if local_path is not None else None)


def dataset_status(name: str, local_path: str | Path | None = None) -> tuple[bool, str]:
    """Whether `name` can be loaded without the network, and where from (or what is missing). Loads nothing."""
    source = _source(name)
    path = _as_path(local_path)
    with _MEMO_LOCK:
        if _memo_key(name, path) in _MEMO:
            return True, "loaded in this process"
    return source.status(path)


def load_dataset(name: str = DEFAULT_DATASET, local_path: str | Path | None = None) -> Dataset:
    """The dataset `name`, loaded once per process and per local path, then shared (arrays are read-only).

    Raises `DatasetUnavailable` (unknown name, or nowhere to get it from) or `InvalidDataFile` (a local file
    is malformed). Failures are not memoised, so a retry after connecting or copying files works.
    """
    source = _source(name)
    path = _as_path(local_path)
    key = _memo_key(name, path)
    with _MEMO_LOCK:
        hit = _MEMO.get(key)
        if hit is not None:
            return hit
        key_lock = _KEY_LOCKS.setdefault(key, threading.Lock())
    # One lock per key: concurrent sessions asking for the same dataset load it once, others are not blocked.
    with key_lock:
        with _MEMO_LOCK:
            hit = _MEMO.get(key)
        if hit is not None:
            return hit
        dataset = source.load(path)
        with _MEMO_LOCK:
            _MEMO[key] = dataset
        return dataset


def clear_dataset_cache() -> None:
    """Forget every memoised dataset (tests; freeing memory)."""
    with _MEMO_LOCK:
        _MEMO.clear()

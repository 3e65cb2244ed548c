"""The `mnist` and `fashion-mnist` sources: local IDX/npz folders, Keras's download cache, then a Keras download.

Both share one loader, described per source by a `MnistLike` value. Finding data looks at file names only
(cheap), so the dashboard's status checks and the loader try the same places in the same order.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, cast

import numpy as np

from engine.datasets.catalog import DIGIT_CLASS_NAMES, FASHION_CLASS_NAMES, make_dataset
from engine.datasets.dataset import Dataset
from engine.datasets.identity import CUSTOM, KNOWN, PUBLISHED, content_checksum, identify, other_dataset_warning
from engine.datasets.idx import IDX_PARTS, find_idx_files, idx_file_names, load_idx_pair, load_npz
from engine.datasets.network import DownloadFailed, fetch, remembered_failure
from engine.datasets.scaling import TYPE_VALUE_MAX, choose_scaling
from engine.errors import DatasetUnavailable, InvalidDataFile

MNIST_ENV = "DIGIT_LAB_MNIST_DIR"
FASHION_MNIST_ENV = "DIGIT_LAB_FASHION_MNIST_DIR"
# Debian's `dataset-fashion-mnist` package installs the original gzipped IDX files here.
DEBIAN_FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")

IDX_NAMES = ", ".join(idx_file_names(p)[0] for p in IDX_PARTS)  # the four files a local folder must hold
# What `_find_in` found in a folder: one npz file, or the IDX files by part.
_Found = tuple[Literal["npz"], Path] | tuple[Literal["idx"], dict[str, Path]]
_Pair = tuple[np.ndarray, np.ndarray]  # (images, labels) of one split


@dataclass(frozen=True)
class MnistLike:
    name: str  # registry name, also the key of its download in `network.FETCHERS`
    env_var: str
    npz_name: str  # an npz in Keras's layout accepted in local folders
    keras_cache: str  # relative to Keras's datasets folder: a file (npz) or a folder of IDX files
    keras_module: str  # keras.datasets.<module> that downloads it, named in the loaded dataset's source
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


def _find_in(location: Path, family: MnistLike) -> _Found | str:
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


def _read_found(found: _Found, family: MnistLike) -> tuple[_Pair, _Pair]:
    if found[0] == "npz":
        return load_npz(found[1], num_classes=len(family.class_names))
    where = found[1]
    train = load_idx_pair(where["train_images"], where["train_labels"], num_classes=len(family.class_names))
    test = load_idx_pair(where["test_images"], where["test_labels"], num_classes=len(family.class_names))
    if train[0].shape[1:] != test[0].shape[1:]:
        raise InvalidDataFile(
            f"{where['train_images']} holds {train[0].shape[1]}x{train[0].shape[2]} images but "
            f"{where['test_images']} holds {test[0].shape[1]}x{test[0].shape[2]}; both must be the same size."
        )
    return train, test


def _describe(found: _Found) -> str:
    return f"{found[1]} (npz)" if found[0] == "npz" else f"{found[1]['train_images'].parent} (IDX files)"


@dataclass(frozen=True)
class _Place:
    """One place the loader looks, in order. `named`: the user named it (local path, environment variable), so
    if it cannot be used that is an error naming it, never a silent fall-back to another copy. `lenient`: damaged
    files there are noted and skipped (Keras re-downloads a damaged cache of its own)."""

    label: str
    location: Path | None  # None: not configured
    named: bool = False
    lenient: bool = False


def _candidates(family: MnistLike, local_path: Path | None) -> list[_Place]:
    if local_path is not None:
        return [_Place("--data-path", local_path, named=True)]
    env = os.environ.get(family.env_var)
    found = [_Place(f"${family.env_var}", Path(env).expanduser() if env else None, named=True)]
    found += [_Place(label, folder) for label, folder in family.system_dirs()]
    found.append(_Place("Keras cache", _keras_datasets_dir() / family.keras_cache, lenient=True))
    return found


def _unusable_named(family: MnistLike, place: _Place, reason: str) -> DatasetUnavailable:
    return DatasetUnavailable(
        f"{family.name}: the folder named by {place.label} cannot be used: {reason}. Put the four IDX files "
        f"({IDX_NAMES}, each optionally .gz) or {family.npz_name} there, or point {place.label} to the right "
        "folder (or the npz file itself); no other copy is used instead of one you named."
    )


def _used_files(found: _Found) -> list[Path]:
    return [found[1]] if found[0] == "npz" else list(found[1].values())


def _identified(family: MnistLike, train: _Pair, test: _Pair, source: str, files: list[Path]) -> Dataset:
    """The dataset as its checksums say it is: named as another known dataset (with a warning) when it is one."""
    checksum = content_checksum(train[0], train[1], test[0], test[1])
    identity = identify(family.name, checksum, files)
    if identity.is_other_dataset:
        other = KNOWN[identity.same_as]
        return make_dataset(
            other.name,
            train,
            test,
            other.class_names,
            255,
            source,
            identity=PUBLISHED,
            warnings=(other_dataset_warning(family.name, other.name, source),),
        )
    return make_dataset(family.name, train, test, family.class_names, 255, source, identity=identity.status)


def status_mnist_like(family: MnistLike, local_path: Path | None) -> tuple[bool, str]:
    reasons = []
    for place in _candidates(family, local_path):
        if place.location is None:
            reasons.append(f"{place.label} not set")
            continue
        found = _find_in(place.location, family)
        if isinstance(found, tuple):
            return True, f"{place.label}: {_describe(found)}"
        if place.named:
            return False, f"{place.label}: {found}"  # loading would stop here too, with this reason
        reasons.append(f"{place.label}: {found}")
    earlier = remembered_failure(family.name)
    if earlier is not None:
        reasons.append(f"Keras download: {earlier}")
        return False, "not found offline (" + "; ".join(reasons) + ")"
    return False, "not found offline (" + "; ".join(reasons) + "); needs a download through Keras"


def load_mnist_like(family: MnistLike, local_path: Path | None) -> Dataset:
    tried = []
    for place in _candidates(family, local_path):
        if place.location is None:
            tried.append(f"{place.label}: not set")
            continue
        found = _find_in(place.location, family)
        if not isinstance(found, tuple):
            if place.named:
                raise _unusable_named(family, place, found)
            tried.append(f"{place.label}: {found}")
            continue
        try:
            train, test = _read_found(found, family)
        except InvalidDataFile as error:
            if not place.lenient:
                raise  # it names the broken file and what is wrong with it: never skipped for another copy
            tried.append(f"{place.label}: {error}")
            continue
        return _identified(family, train, test, f"{place.label}: {_describe(found)}", _used_files(found))
    try:
        train, test = fetch(family.name)
    except DownloadFailed as error:
        tried.append(f"Keras download: {error}")
        steps = "; ".join(f"({i}) {t}" for i, t in enumerate(tried, start=1))
        raise DatasetUnavailable(
            f"{family.name} is not available offline. Tried: {steps}. To use it: connect to the internet once "
            f"and load it again (Keras keeps a copy in {_keras_datasets_dir()}); or copy {family.npz_name} or the "
            f"four IDX files ({IDX_NAMES}, each optionally .gz) into a folder and set {family.env_var} to it "
            "(then restart the dashboard: a running one does not see variables set after it started; on the "
            "command line, --data-path FOLDER works too); or use 'digits', which is bundled and works offline."
        ) from None
    x_train, y_train = np.asarray(train[0]), np.asarray(train[1])
    x_test, y_test = np.asarray(test[0]), np.asarray(test[1])
    if x_train.ndim != 3 or x_test.ndim != 3 or len(x_train) != len(y_train) or len(x_test) != len(y_test):
        raise DatasetUnavailable(
            f"{family.name}: the Keras download returned unexpected shapes {x_train.shape}/{y_train.shape}, "
            f"{x_test.shape}/{y_test.shape}; delete the files in {_keras_datasets_dir()} and try again."
        )
    source = f"Keras download (keras.datasets.{family.keras_module}.load_data)"
    return _identified(family, (x_train, y_train), (x_test, y_test), source, [])


def read_local(folder: Path, name: str, source: str, scaling: str = "type") -> Dataset:
    """A folder of IDX files or one npz read exactly as `--dataset mnist --data-path folder` reads it (10 digit
    classes), named `name`; files that are a known dataset take its class names, with a warning. Pixels are
    divided as `scaling` (one of `scaling.PIXEL_SCALINGS`) says, and the dataset says why."""
    found = _find_in(folder, MNIST)
    if not isinstance(found, tuple):
        npz = sorted(folder.glob("*.npz"))
        if len(npz) != 1:
            raise InvalidDataFile(
                f"{found}. Upload the four IDX files ({IDX_NAMES}, each optionally .gz) or one .npz file."
            )
        found = cast(_Found, ("npz", npz[0]))  # mypy would keep `str` in the type after assigning a tuple display
    train, test = _read_found(found, MNIST)
    pixels = choose_scaling(scaling, train[0], test[0])
    checksum = content_checksum(train[0], train[1], test[0], test[1])
    identity = identify("", checksum, _used_files(found))
    if identity.is_other_dataset:
        other = KNOWN[identity.same_as]
        return make_dataset(
            name,
            train,
            test,
            other.class_names,
            pixels.divisor,
            source,
            identity=f"the published {other.title} files (checksum verified)",
            warnings=(f"These are {other.title} files (their checksum is the published {other.title}'s).",),
            provenance=f"Uploaded files; their checksum is the published {other.title}'s.",
            pixel_scaling=pixels.reason,
            standard_value_max=TYPE_VALUE_MAX,
        )
    return make_dataset(
        name,
        train,
        test,
        DIGIT_CLASS_NAMES,
        pixels.divisor,
        source,
        identity=CUSTOM,
        provenance="Uploaded files: custom data (no published checksum matches them); classes are taken as digits 0-9.",
        pixel_scaling=pixels.reason,
        standard_value_max=TYPE_VALUE_MAX,
    )


def _debian_fashion_dirs() -> tuple[tuple[str, Path], ...]:
    # Read at call time so tests can point it elsewhere.
    return (("Debian package dataset-fashion-mnist", DEBIAN_FASHION_MNIST_DIR),)


MNIST = MnistLike("mnist", MNIST_ENV, "mnist.npz", "mnist.npz", "mnist", DIGIT_CLASS_NAMES)
FASHION_MNIST = MnistLike(
    "fashion-mnist",
    FASHION_MNIST_ENV,
    "fashion-mnist.npz",
    "fashion-mnist",
    "fashion_mnist",
    FASHION_CLASS_NAMES,
    _debian_fashion_dirs,
)

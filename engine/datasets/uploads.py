"""Datasets uploaded from the browser: checked like a `--data-path` folder, kept in the cache under their
fingerprint, and registered under a name (`upload-<16 hex>`) that a shared link can carry.

An upload is IDX files (raw or gzipped, under their usual names) or one npz in Keras' layout. The files are
written into a private folder, read by exactly the code that reads a local folder given on the command line
(`mnist_like.read_local`, with its precise `InvalidDataFile` messages), then renamed to
`<cache>/datasets/uploads/<fingerprint[:16]>/`. Reopening reads the same files and refuses them if their
fingerprint no longer matches the folder's name, so an edited upload is never served under an old name.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from engine import settings
from engine.datasets.checks import DataShape, check_arrays, data_shape, dataset_problems
from engine.datasets.dataset import Dataset
from engine.datasets.idx import IDX_PARTS, idx_file_names
from engine.datasets.mnist_like import read_local
from engine.datasets.scaling import DEFAULT_SCALING, TYPE_VALUE_MAX, check_scaling
from engine.errors import DatasetUnavailable, InvalidDataFile
from engine.limits import data_limits, input_limits
from engine.textfiles import load_json_file

UPLOAD_PREFIX = "upload-"
_UPLOAD_NAME = re.compile(r"upload-([0-9a-f]{16})")
INFO_NAME = "info.json"
log = logging.getLogger("digitlab.datasets")
_MAX_INFO_BYTES = 10_000  # an info.json names four files and a shape: a few hundred bytes
ACCEPTED_NAMES = tuple(name for part in IDX_PARTS for name in idx_file_names(part))
_PART_OF_NAME = {name: part for part in IDX_PARTS for name in idx_file_names(part)}


@dataclass(frozen=True)
class UploadInfo:
    """What the dataset list shows about an upload without loading it (from its info.json, checked)."""

    name: str
    image_shape: tuple[int, int, int]
    num_classes: int
    files: tuple[str, ...]
    problem: str = ""  # why it cannot be used ("" when it can): said as its status in every list
    scaling: str = "type"  # the pixel scaling chosen when it was uploaded (`scaling.PIXEL_SCALINGS`)
    value_max: int = TYPE_VALUE_MAX  # what that scaling divides its pixels by


def uploads_dir() -> Path:
    return settings.datasets_dir() / "uploads"


def is_upload_name(name: object) -> bool:
    return isinstance(name, str) and _UPLOAD_NAME.fullmatch(name) is not None


def _folder(name: str) -> Path:
    match = _UPLOAD_NAME.fullmatch(name)
    if match is None:
        raise DatasetUnavailable(f"{name!r} is not an uploaded dataset's name (upload- and 16 hex characters).")
    return uploads_dir() / match.group(1)


def _check_names(files: list[tuple[str, bytes]]) -> None:
    if not files:
        raise InvalidDataFile("No files were uploaded: choose the four IDX files (raw or .gz) or one .npz file.")
    names = [name for name, _ in files]
    for name in names:
        # Only known plain names ever become paths: no folders, no dot-files, nothing the user can steer elsewhere.
        if name not in ACCEPTED_NAMES and not (
            re.fullmatch(r"[A-Za-z0-9_-][A-Za-z0-9_.-]{0,100}\.npz", name) and ".." not in name
        ):
            raise InvalidDataFile(
                f"Uploaded file {name[:120]!r} is not one this page reads: upload the four IDX files under their "
                f"usual names ({', '.join(idx_file_names(part)[0] for part in IDX_PARTS)}, each optionally .gz) "
                "or one .npz file with x_train, y_train, x_test, y_test."
            )
    if len(set(names)) != len(names):
        raise InvalidDataFile("The same file name was uploaded twice; upload each file once.")
    npz = [name for name in names if name.endswith(".npz")]
    if npz and len(names) > 1:
        raise InvalidDataFile("Upload either one .npz file or the four IDX files, not both.")
    by_part: dict[str, list[str]] = {}
    for name in names:
        if name in _PART_OF_NAME:
            by_part.setdefault(_PART_OF_NAME[name], []).append(name)
    for part, given in by_part.items():
        if len(given) > 1:
            # A folder reader would take the first name and silently ignore the other: which one the user meant
            # cannot be known, so neither is guessed.
            raise InvalidDataFile(
                f"{' and '.join(repr(n) for n in given)} are both the {part.replace('_', ' ')} file; upload one of "
                "them only."
            )
    total = sum(len(data) for _, data in files)
    cap = input_limits().max_upload_bytes
    if total > cap:
        raise InvalidDataFile(f"The upload is {total:,} bytes, over this server's {cap:,}-byte limit.")


def register_upload(files: list[tuple[str, bytes]], scaling: str = DEFAULT_SCALING) -> str:
    """Check and keep uploaded files; return the registry name of the dataset they hold.

    `scaling` (one of `scaling.PIXEL_SCALINGS`) says what raw pixels are divided by; it is kept with the files, and
    a divisor other than 255 is part of the name (the fingerprint), so each scaling of the same files is its own
    dataset. Raises `InvalidDataFile` (a file is malformed, misnamed or too large, naming which) or `DatasetUnavailable`
    (the cache cannot be written); nothing is kept then.
    """
    _check_names(files)
    scaling = check_scaling(scaling)
    root = uploads_dir()
    try:
        root.mkdir(parents=True, exist_ok=True)
        incoming = Path(tempfile.mkdtemp(prefix=".incoming-", dir=root))
    except OSError as error:
        raise DatasetUnavailable(
            f"The upload cannot be kept: {root} cannot be written ({error.strerror or error}). Set "
            f"{settings.CACHE_ENV} to a writable folder."
        ) from None
    try:
        for name, data in files:
            (incoming / name).write_bytes(data)
        dataset = read_local(incoming, "upload", source="upload", scaling=scaling)
        check_arrays(dataset.x_train, dataset.y_train, dataset.x_test, dataset.y_test, "The upload")
        name = UPLOAD_PREFIX + dataset.fingerprint[:16]
        counts = data_shape(dataset.x_train, dataset.y_train, dataset.x_test, dataset.y_test)
        info = {
            "image_shape": list(dataset.image_shape),
            "num_classes": dataset.num_classes,
            "files": sorted(n for n, _ in files),
            # Recorded so the listing can apply the dataset check without loading the files.
            "n_train": counts.n_train,
            "n_test": counts.n_test,
            "train_classes": counts.train_classes,
            "scaling": scaling,
            "value_max": dataset.value_max,
        }
        (incoming / INFO_NAME).write_text(json.dumps(info))
        _swap_in(incoming, _folder(name))
    except OSError as error:
        shutil.rmtree(incoming, ignore_errors=True)
        raise DatasetUnavailable(f"The upload cannot be kept in {root}: {error.strerror or error}.") from None
    except InvalidDataFile as error:
        shutil.rmtree(incoming, ignore_errors=True)
        # The private folder's path means nothing to the person uploading: name their file instead.
        text = str(error).replace(f"{incoming}{os.sep}", "").replace(str(incoming), "The upload")
        raise InvalidDataFile(text) from None
    except BaseException:
        shutil.rmtree(incoming, ignore_errors=True)
        raise
    return name


def _swap_in(incoming: Path, final: Path) -> None:
    """Put the checked folder `incoming` at `final`, replacing whatever is there.

    Always replaced, never kept: a folder already under this name may have been edited on disk since (refused by
    fingerprint), and uploading the same files again is how it is repaired. The old folder is first renamed aside,
    so a reader sees either the old folder or the new one, complete, and never a half-written one.
    """
    if final.is_symlink() or final.is_file():
        os.unlink(final)  # a stray file or link in its place is never followed
    elif final.is_dir():
        retired = Path(tempfile.mkdtemp(prefix=".retired-", dir=final.parent))
        with contextlib.suppress(FileNotFoundError):  # another upload of the same files swapped it away first
            os.rename(final, retired / final.name)
        try:
            _rename_unless_there(incoming, final)
        finally:
            shutil.rmtree(retired, ignore_errors=True)
        return
    _rename_unless_there(incoming, final)


def _rename_unless_there(incoming: Path, final: Path) -> None:
    try:
        os.rename(incoming, final)
    except OSError as error:
        if error.errno not in (errno.ENOTEMPTY, errno.EEXIST):
            raise
        # A concurrent upload of the same files put its (equally checked) copy there first: that one stays.
        shutil.rmtree(incoming, ignore_errors=True)


def load_upload(name: str) -> Dataset:
    """The uploaded dataset `name`, re-read and re-checked from its folder in the cache."""
    folder = _folder(name)
    if folder.is_symlink() or not folder.is_dir():
        raise DatasetUnavailable(
            f"No uploaded dataset {name} is kept on this server (looked in {uploads_dir()}); upload the files again "
            "on the Data page."
        )
    info = _read_info(folder)
    if info.problem:  # what the listing says of it, so the page that opens it says the same
        raise InvalidDataFile(f"The upload {name} in {folder} is {info.problem}.")
    dataset = read_local(folder, name, source=f"upload kept in {folder}", scaling=info.scaling)
    if not dataset.fingerprint.startswith(folder.name):
        raise InvalidDataFile(
            f"The files of {name} in {folder} were changed after upload (their fingerprint no longer matches); "
            "upload them again."
        )
    return dataset


def rescale_upload(name: str, scaling: str) -> str:
    """The upload `name`'s files registered again with another pixel scaling; returns that dataset's name (the
    same name when the divisor does not change)."""
    folder = _folder(name)
    try:
        files = [(path.name, path.read_bytes()) for path in sorted(folder.iterdir()) if path.name != INFO_NAME]
    except OSError as error:
        raise DatasetUnavailable(
            f"The files of {name} cannot be read from {folder} ({error.strerror or error}); upload them again."
        ) from None
    return register_upload(files, scaling)


def upload_status(name: str) -> tuple[bool, str]:
    """Whether the upload `name` can be used, from its folder and recorded counts (nothing is loaded)."""
    folder = _folder(name)
    if not folder.is_dir() or folder.is_symlink():
        return False, f"not kept on this server ({folder} is absent); upload the files again on the Data page"
    info = _read_info(folder)
    if info.problem:
        return False, info.problem
    return True, f"uploaded, kept in {folder}"


def upload_info(name: str) -> UploadInfo:
    """What the upload `name`'s record says (its `problem` says why it cannot be used, if so); loads nothing."""
    return _read_info(_folder(name))


def _read_info(folder: Path) -> UploadInfo:
    """The upload in `folder` as its info.json records it, judged by the one dataset check; a damaged or refused
    record is returned with its `problem` said, so the listing shows it as unavailable instead of dropping it."""
    name = UPLOAD_PREFIX + folder.name
    try:
        raw = load_json_file(folder / INFO_NAME, max_bytes=_MAX_INFO_BYTES)  # a FIFO or a huge file: refused, not read
        shape = tuple(int(v) for v in raw["image_shape"])
        classes = int(raw["num_classes"])
        names = tuple(str(n)[:120] for n in raw["files"])[:4]
        # Uploads kept before the choice existed were all divided by 255: their names (fingerprints) say so.
        scaling = check_scaling(raw.get("scaling", "type"))
        value_max = int(raw.get("value_max", TYPE_VALUE_MAX))
        if not 0 < value_max <= TYPE_VALUE_MAX:
            raise ValueError(f"pixel divisor {value_max} is outside 1..{TYPE_VALUE_MAX}")
        if len(shape) != 3 or shape[2] != 1 or not 0 < classes <= 1000:
            raise ValueError(f"image shape {shape} with {classes} classes is not a dataset's")
        limits = data_limits()
        # Uploads kept before the counts were recorded are judged by their image size here, in full when loaded.
        counts = DataShape(
            int(raw.get("n_train", limits.min_images_per_split)),
            int(raw.get("n_test", limits.min_images_per_split)),
            shape[0],
            shape[1],
            int(raw.get("train_classes", limits.min_train_classes)),
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError, InvalidDataFile) as error:
        reason = getattr(error, "strerror", None) or str(error)[:200]
        log.warning("upload %s is unusable: its %s cannot be read (%s)", folder.name, INFO_NAME, reason)
        return UploadInfo(
            name,
            (0, 0, 1),
            10,
            (),
            problem=f"unusable: its record {folder / INFO_NAME} cannot be read ({reason}); upload the files again",
        )
    problems = dataset_problems(counts)
    problem = f"unusable: {'; '.join(problems)}; upload other files" if problems else ""
    return UploadInfo(name, shape, classes, names, problem, scaling, value_max)


def list_uploads() -> list[UploadInfo]:
    """Every upload folder in the cache, one folder scan, nothing loaded; an upload whose record is damaged or
    fails the dataset check is listed with its `problem`, so a name a page or link holds is always listed."""
    try:
        entries = sorted(os.scandir(uploads_dir()), key=lambda e: e.name)
    except OSError:
        return []
    return [
        _read_info(Path(entry.path))
        for entry in entries
        if re.fullmatch(r"[0-9a-f]{16}", entry.name) and entry.is_dir(follow_symlinks=False)
    ]

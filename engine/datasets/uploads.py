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
import json
import logging
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from engine import settings
from engine.datasets.dataset import Dataset
from engine.datasets.idx import IDX_PARTS, idx_file_names
from engine.datasets.mnist_like import read_local
from engine.errors import DatasetUnavailable, InvalidDataFile
from engine.limits import input_limits
from engine.textfiles import load_json_file

UPLOAD_PREFIX = "upload-"
_UPLOAD_NAME = re.compile(r"upload-([0-9a-f]{16})")
INFO_NAME = "info.json"
log = logging.getLogger("digitlab.datasets")
_MAX_INFO_BYTES = 10_000  # an info.json names four files and a shape: a few hundred bytes
ACCEPTED_NAMES = tuple(name for part in IDX_PARTS for name in idx_file_names(part))


@dataclass(frozen=True)
class UploadInfo:
    """What the dataset list shows about an upload without loading it (from its info.json, checked)."""

    name: str
    image_shape: tuple[int, int, int]
    num_classes: int
    files: tuple[str, ...]


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
    total = sum(len(data) for _, data in files)
    cap = input_limits().max_upload_bytes
    if total > cap:
        raise InvalidDataFile(f"The upload is {total:,} bytes, over this server's {cap:,}-byte limit.")


def register_upload(files: list[tuple[str, bytes]]) -> str:
    """Check and keep uploaded files; return the registry name of the dataset they hold.

    Raises `InvalidDataFile` (a file is malformed, misnamed or too large, naming which) or `DatasetUnavailable`
    (the cache cannot be written); nothing is kept then.
    """
    _check_names(files)
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
        dataset = read_local(incoming, "upload", source="upload")
        name = UPLOAD_PREFIX + dataset.fingerprint[:16]
        info = {
            "image_shape": list(dataset.image_shape),
            "num_classes": dataset.num_classes,
            "files": sorted(n for n, _ in files),
        }
        (incoming / INFO_NAME).write_text(json.dumps(info))
        final = _folder(name)
        if final.is_dir() and not final.is_symlink():
            shutil.rmtree(incoming, ignore_errors=True)  # the same content is kept already
        else:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(final)  # a stray file or link in its place is never followed
            os.rename(incoming, final)
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


def load_upload(name: str) -> Dataset:
    """The uploaded dataset `name`, re-read and re-checked from its folder in the cache."""
    folder = _folder(name)
    if folder.is_symlink() or not folder.is_dir():
        raise DatasetUnavailable(
            f"No uploaded dataset {name} is kept on this server (looked in {uploads_dir()}); upload the files again "
            "on the Data page."
        )
    dataset = read_local(folder, name, source=f"upload kept in {folder}")
    if not dataset.fingerprint.startswith(folder.name):
        raise InvalidDataFile(
            f"The files of {name} in {folder} were changed after upload (their fingerprint no longer matches); "
            "upload them again."
        )
    return dataset


def upload_status(name: str) -> tuple[bool, str]:
    folder = _folder(name)
    if folder.is_dir() and not folder.is_symlink():
        return True, f"uploaded, kept in {folder}"
    return False, f"not kept on this server ({folder} is absent); upload the files again on the Data page"


def list_uploads() -> list[UploadInfo]:
    """Every upload kept in the cache whose info.json is sound (one folder scan; nothing is loaded)."""
    found = []
    try:
        entries = sorted(os.scandir(uploads_dir()), key=lambda e: e.name)
    except OSError:
        return []
    for entry in entries:
        if not re.fullmatch(r"[0-9a-f]{16}", entry.name) or not entry.is_dir(follow_symlinks=False):
            continue
        try:
            raw = load_json_file(Path(entry.path) / INFO_NAME, max_bytes=_MAX_INFO_BYTES)
            shape = tuple(int(v) for v in raw["image_shape"])
            classes = int(raw["num_classes"])
            names = tuple(str(n)[:120] for n in raw["files"])[:4]
        except (OSError, ValueError, KeyError, TypeError) as problem:
            # Unreadable or edited: not listed (loading it by name still re-checks the files), and said in the log
            # like a damaged run, so an upload that vanished from the list can be traced.
            log.warning("upload %s is not listed: its %s is unusable (%s)", entry.name, INFO_NAME, problem)
            continue
        if len(shape) != 3 or not all(0 < v <= 4096 for v in shape) or not 0 < classes <= 1000:
            continue
        found.append(UploadInfo(UPLOAD_PREFIX + entry.name, shape, classes, names))
    return found

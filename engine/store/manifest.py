"""The manifest that makes a run folder self-checking: every file's size and SHA-256, plus a format version.

`manifest.json` lists every file of a run except itself, `meta.json` included, so a truncated array, an
edited meta or two swapped files are all caught. Hashes are remembered in-process, keyed on each file's
stat (path, inode, size, mtime_ns, ctime_ns), so re-checking a large, unchanged run costs only `stat` calls
while any rewrite of a file changes its key and forces a fresh hash.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import threading
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.errors import InvalidRunMeta
from engine.npy_header import read_npy_header
from engine.store.keys import is_run_id
from engine.store.meta_checks import validate_run_meta
from engine.textfiles import load_json, read_regular_file

MANIFEST_NAME = "manifest.json"
META_NAME = "meta.json"
MANIFEST_FORMAT = 1

# Enough for thousands of runs' files; bounded so a long-lived dashboard process cannot grow without limit.
_DIGEST_CACHE_SIZE = 8192
_digest_cache: OrderedDict[tuple, str] = OrderedDict()
_digest_lock = threading.Lock()  # Streamlit serves sessions from threads


class ManifestProblem(Exception):
    """Why a run folder failed verification; the text goes into the store's warning."""


@dataclass(frozen=True)
class Verified:
    meta: dict
    files: dict[str, dict]  # name -> {"size": int, "sha256": str}


def _stat_key(path: Path, st: os.stat_result) -> tuple:
    return (str(path), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def sha256_file(path: Path) -> str:
    """Hash a file's bytes (streamed, so large models do not need to fit in memory twice)."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def remember_digest(path: Path, digest: str) -> None:
    """Record a digest we just computed for a file whose bytes we know, so the next check skips hashing."""
    key = _stat_key(path, os.stat(path))
    with _digest_lock:
        _digest_cache[key] = digest
        _digest_cache.move_to_end(key)
        while len(_digest_cache) > _DIGEST_CACHE_SIZE:
            _digest_cache.popitem(last=False)


def cached_digest(path: Path, st: os.stat_result) -> str:
    """The file's SHA-256, from the in-process cache when its stat is unchanged since it was last hashed."""
    key = _stat_key(path, st)
    with _digest_lock:
        digest = _digest_cache.get(key)
        if digest is not None:
            _digest_cache.move_to_end(key)
            return digest
    digest = sha256_file(path)
    # Re-stat: if the file changed while we hashed it, do not file the hash under either key.
    if _stat_key(path, os.stat(path)) == key:
        with _digest_lock:
            _digest_cache[key] = digest
            while len(_digest_cache) > _DIGEST_CACHE_SIZE:
                _digest_cache.popitem(last=False)
    return digest


def clear_digest_cache() -> None:
    with _digest_lock:
        _digest_cache.clear()


class LinkRefused(ManifestProblem):
    """A symbolic link inside a run folder (or a folder about to become one); `path` is the link itself."""

    def __init__(self, path: Path, folder: Path) -> None:
        super().__init__(f"{path.relative_to(folder).as_posix()} is a symbolic link")
        self.path = path


def walk_files(folder: Path) -> Iterator[Path]:
    """Every file under `folder`, folder by folder in `os.walk` order; `LinkRefused` at the first symbolic link.

    Symlinks are refused outright: a link could point anywhere on the machine, and the cache must only
    ever hand out bytes that live inside it and were hashed there. The links of a folder are looked for before
    any of its files is yielded, so nothing beside a link is handled first.
    """
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        base = Path(dirpath)
        for name in dirnames + filenames:
            if (base / name).is_symlink():
                raise LinkRefused(base / name, folder)
        for name in filenames:
            yield base / name


def list_files(folder: Path) -> list[str]:
    """Every regular file under `folder` except the manifest, as sorted POSIX relative paths (no symlinks)."""
    names = []
    for path in walk_files(folder):
        rel = path.relative_to(folder).as_posix()
        if rel == MANIFEST_NAME:
            continue
        if not path.is_file():
            raise ManifestProblem(f"{rel} is not a regular file")
        names.append(rel)
    return sorted(names)


def build_manifest(folder: Path) -> dict[str, Any]:
    """Hash every file in a finished run folder and fsync it; return the manifest dict (not yet written)."""
    files = {}
    for rel in list_files(folder):
        path = folder / rel
        if rel.endswith(".npy"):
            _check_npy_header(path, rel)  # a pickled array is never stored
        with open(path, "rb") as handle:
            digest = hashlib.file_digest(handle, "sha256").hexdigest()
            # Data must be on disk before the rename publishes the folder, or a power cut could
            # leave a "complete" run with empty files.
            os.fsync(handle.fileno())
        files[rel] = {"size": path.stat().st_size, "sha256": digest}
    return {"format": MANIFEST_FORMAT, "files": files}


def manifest_bytes(manifest: dict[str, Any]) -> bytes:
    """The one way a manifest is written. `verify` accepts only these exact bytes: the manifest is the one file no
    checksum covers, so a byte added to it (a trailing tab) that JSON parsing would forgive is refused instead of
    served, and the run's digest (a hash of these bytes) names exactly one stored copy."""
    return json.dumps(manifest, sort_keys=True, indent=2).encode("utf-8")


def _read_bytes(path: Path, what: str) -> bytes:
    try:
        return read_regular_file(path)
    except FileNotFoundError:
        raise ManifestProblem(f"{what} is missing") from None
    except OSError as problem:  # a FIFO, a link, a device or a huge file in its place
        raise ManifestProblem(f"{what} cannot be read: it {problem.strerror or problem}") from None


def _parse_json(raw: bytes, what: str) -> Any:
    try:
        return load_json(raw)
    except ValueError:
        raise ManifestProblem(f"{what} is not valid JSON") from None


def _read_json(path: Path, what: str) -> Any:
    return _parse_json(_read_bytes(path, what), what)


def verify(folder: Path, *, full: bool) -> Verified:
    """Check a run folder against its manifest; raise `ManifestProblem` saying what is wrong.

    `full=False` checks presence and sizes only (for listing many runs cheaply); `full=True` also checks
    every SHA-256 (from the stat-keyed cache when possible).
    """
    check_run_folder(folder)
    manifest_raw = _read_bytes(folder / MANIFEST_NAME, MANIFEST_NAME)
    manifest = _parse_json(manifest_raw, MANIFEST_NAME)
    if not isinstance(manifest, dict):
        raise ManifestProblem(f"{MANIFEST_NAME} is not a JSON object")
    if manifest.get("format") != MANIFEST_FORMAT:
        raise ManifestProblem(
            f"{MANIFEST_NAME} has format {manifest.get('format')!r}, this version reads {MANIFEST_FORMAT}"
        )
    files = manifest.get("files")
    if not isinstance(files, dict) or not all(
        isinstance(entry, dict) and isinstance(entry.get("size"), int) and isinstance(entry.get("sha256"), str)
        for entry in files.values()
    ):
        raise ManifestProblem(f"{MANIFEST_NAME} has a malformed file list")
    if META_NAME not in files:
        raise ManifestProblem(f"{META_NAME} is not listed in {MANIFEST_NAME}")
    if manifest_raw != manifest_bytes(manifest):
        raise ManifestProblem(f"{MANIFEST_NAME} is not byte for byte what the store wrote (edited or reformatted)")

    on_disk = set(list_files(folder))
    missing = sorted(set(files) - on_disk)
    if missing:
        raise ManifestProblem(f"missing file(s): {', '.join(missing)}")
    extra = sorted(on_disk - set(files))
    if extra:
        raise ManifestProblem(f"file(s) not in the manifest: {', '.join(extra)}")

    # Sizes for every file first: a truncated file is then reported without hashing anything.
    stats = {}
    for name in sorted(files):
        st = os.stat(folder / name)
        if st.st_size != files[name]["size"]:
            raise ManifestProblem(f"{name} is {st.st_size} bytes, the manifest says {files[name]['size']}")
        stats[name] = st
    if full:
        for name in sorted(files):
            if cached_digest(folder / name, stats[name]) != files[name]["sha256"]:
                raise ManifestProblem(f"{name} does not match its SHA-256 in the manifest")
            if name.endswith(".npy"):
                _check_npy_header(folder / name, name)

    meta = _read_json(folder / META_NAME, META_NAME)
    try:
        validate_run_meta(meta, run_id=folder.name)
    except InvalidRunMeta as problem:
        raise ManifestProblem(str(problem)) from None
    return Verified(meta=meta, files=files)


def _check_npy_header(path: Path, name: str) -> None:
    """Refuse a .npy whose header declares an object (pickled) array, reading the header only: such a run is
    never handed out, even with a manifest made to match it (its readers would refuse the file anyway)."""
    try:
        with open(path, "rb") as handle:
            dtype = read_npy_header(handle)[1]  # the header only, no data
    except (OSError, ValueError) as error:
        raise ManifestProblem(f"{name} is not a readable .npy array ({error})") from None
    if dtype.hasobject:
        raise ManifestProblem(f"{name} holds a pickled (object) array, which Digit Lab never loads")


def check_run_folder(folder: Path) -> None:
    """The one rule for what a run folder may be: a real directory named by a run id, never a symbolic link.

    A linked folder could point anywhere on the machine (another user's files, a folder that changes under us),
    and the cache must only ever hand out bytes that live inside it; symlinked files inside are refused by
    `list_files`.
    """
    try:
        st = os.lstat(folder)
    except FileNotFoundError:
        raise ManifestProblem("the run folder is missing") from None
    if stat.S_ISLNK(st.st_mode):
        raise ManifestProblem("the run folder is a symbolic link")
    if not stat.S_ISDIR(st.st_mode):
        raise ManifestProblem("the run entry is not a folder")
    if not is_run_id(folder.name):
        raise ManifestProblem(f"{folder.name!r} is not a run id")

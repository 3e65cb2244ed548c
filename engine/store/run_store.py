"""`RunStore`: the content-addressed folder of trained runs, with atomic writes and per-run locks.

Layout under the root (`<cache>/runs` by default):

    <run_id>/         one published run: the trainer's files + meta.json + manifest.json
    .tmp/<run_id>.*   a run being written; renamed to <run_id>/ in one step once complete
    .trash/           corrupt or deleted runs on their way out (renamed first, then removed)
    .locks/<run_id>.lock
    .probes/<run_id>/ probe results computed from a run (engine.probes.stored), removed with the run

Everything sits on one filesystem so `os.rename` is atomic: readers see either no run or a complete one.
Dot-names can never be run ids, so listing cannot mistake the helpers for runs.
"""

from __future__ import annotations

import builtins
import contextlib
import json
import logging
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from engine import settings
from engine.errors import RunNotFound, StoreError
from engine.store.disk import refused_write, write_failure
from engine.store.keys import is_run_id
from engine.store.locking import RunLock
from engine.store.manifest import (
    MANIFEST_NAME,
    META_NAME,
    LinkRefused,
    ManifestProblem,
    build_manifest,
    manifest_bytes,
    remember_digest,
    verify,
    walk_files,
)
from engine.store.meta_checks import validate_run_meta
from engine.store.stored_run import StoredRun

log = logging.getLogger("digitlab.store")

TMP_DIR = ".tmp"
TRASH_DIR = ".trash"
LOCKS_DIR = ".locks"
PROBES_DIR = ".probes"
# A temp folder this old whose run lock is free was left by a killed process. Age alone is not enough:
# a long training can leave its temp folder untouched for hours while its lock proves it is alive.
STALE_AFTER_S = 3600.0
# A run's last use is recorded at most once a minute: a dashboard rerun reads the same run many times.
USE_RESOLUTION_S = 60.0


def _fsync_dir(path: Path) -> None:
    """Make a folder's entries (new files, a rename) durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_durable(path: Path, data: bytes) -> None:
    with open(path, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def _created_ts(run: StoredRun) -> float:
    """Sort key for listing: meta["created"] (ISO), else the folder's mtime."""
    created = run.meta.get("created")
    if isinstance(created, str):
        try:
            stamp = datetime.fromisoformat(created)
            if stamp.tzinfo is None:
                stamp = stamp.replace(tzinfo=UTC)
            return stamp.timestamp()
        except ValueError:
            pass
    try:
        return run.path.stat().st_mtime
    except OSError:
        return 0.0


@dataclass(frozen=True)
class RunProblem:
    """An entry in the store that is not a servable run, and why (shown beside listings, never served)."""

    run_id: str
    reason: str


@dataclass(frozen=True)
class StoreScan:
    runs: list[StoredRun]  # newest first
    problems: list[RunProblem]


@dataclass(frozen=True)
class RunUsage:
    run_id: str
    size_bytes: int
    last_used: float  # epoch seconds: the last time the store handed the run out (or wrote it)


class RunStore:
    """Get-or-create access to trained runs, safe across threads and processes sharing one cache folder."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = Path(root) if root is not None else settings.runs_dir()
        self._sweep_stale()

    # ------------------------------------------------------------------ reading

    def get(self, run_id: str) -> StoredRun | None:
        """The run if it exists and verifies; a corrupt one is logged, removed and reported as absent."""
        self._check_lookup_id(run_id)
        return self._get(run_id, locked=False)

    def __contains__(self, run_id: object) -> bool:
        return isinstance(run_id, str) and is_run_id(run_id) and self.get(run_id) is not None

    def list(self) -> list[StoredRun]:
        """Every complete run, newest first. Checks sizes only; `get` does the full hash check."""
        return self.scan().runs

    def scan(self) -> StoreScan:
        """Every complete run (newest first) and every entry that is not one, with the reason, so one bad run
        never hides the others: listings show the good runs and flag the rest."""
        runs, problems = [], []
        for path in self._run_dirs(include_links=True):
            try:
                checked = verify(path, full=False)
            except (ManifestProblem, OSError) as exc:
                # Not a warning: listing happens on every dashboard rerun, `get` reports and repairs it.
                log.debug("skipping run %s in listing: %s", path.name, exc)
                problems.append(RunProblem(path.name, str(exc)))
                continue
            runs.append(StoredRun(path.name, path, checked.meta))
        runs.sort(key=lambda run: (_created_ts(run), run.run_id), reverse=True)
        return StoreScan(runs, sorted(problems, key=lambda problem: problem.run_id))

    def usage(self) -> builtins.list[RunUsage]:  # `list` here is the method above
        """Each run's size and last use, from one walk of the store (what eviction needs, and no more).

        A run's size counts its probe records (`.probes/<run_id>/`) too: they are deleted with it, and a hosted
        cache budget that left them out could be outgrown by embedding maps and curves computed from kept runs."""
        found = []
        for path in self._run_dirs():
            total = 0
            for folder in (path, self.root / PROBES_DIR / path.name):
                if folder.is_symlink():  # a planted link: deleting the run only unlinks it, so it frees nothing
                    continue
                for dirpath, _dirnames, filenames in os.walk(folder):  # none there: no files; links: not followed
                    for name in filenames:
                        with contextlib.suppress(OSError):  # removed while we counted
                            total += os.lstat(os.path.join(dirpath, name)).st_size
            try:
                last_used = os.lstat(path).st_mtime
            except OSError:
                continue  # removed while we counted
            found.append(RunUsage(path.name, total, last_used))
        return found

    def size_bytes(self) -> int:
        """Bytes used by run folders (complete or not), i.e. what deleting them all would free."""
        return sum(entry.size_bytes for entry in self.usage())

    def _mark_used(self, path: Path) -> None:
        """Record a run's last use as its folder's modification time (its files, and so its manifest, are
        untouched). Skipped within `USE_RESOLUTION_S` of the last mark, and on a read-only cache."""
        with contextlib.suppress(OSError):
            now = time.time()
            if now - os.lstat(path).st_mtime > USE_RESOLUTION_S:
                os.utime(path, (now, now), follow_symlinks=False)

    # ------------------------------------------------------------------ writing

    def create(self, run_id: str, build: Callable[[Path], dict], lock_timeout: float = 600) -> tuple[StoredRun, bool]:
        """Return `(run, True)` if the run is stored, else build it once under the run's lock: `(run, False)`.

        `build(tmp_dir)` writes the run's files into `tmp_dir` and returns the meta dict. If it raises,
        nothing is stored and the exception propagates unchanged (disk-full/read-only errors become
        `StoreError`, since they are about this store's folder).
        """
        self._check_write_id(run_id)
        existing = self._get(run_id, locked=False)
        if existing is not None:
            return existing, True
        self._ensure_dirs()
        with self._acquire(run_id, lock_timeout):
            # Another process may have finished this run while we waited for the lock.
            existing = self._get(run_id, locked=True)
            if existing is not None:
                return existing, True
            self._remove_own_temps(run_id)
            tmp = self._make_temp(run_id)
            try:
                try:
                    meta = build(tmp)
                except OSError as exc:
                    if refused_write(exc):
                        raise self._write_error(run_id, exc) from exc
                    raise
                run = self._publish(run_id, tmp, meta)
            except BaseException:
                self._discard(tmp)
                raise
            return run, False

    def put(self, run_id: str, source_dir: Path, meta: dict, lock_timeout: float = 600) -> StoredRun:
        """Store copies of an already-built folder's files (e.g. from another worker); keeps an existing valid run.

        A `meta.json` / `manifest.json` in `source_dir` is ignored: the store writes its own from `meta`.
        """
        self._check_write_id(run_id)
        source_dir = Path(source_dir)
        if not source_dir.is_dir():
            raise StoreError(f"Cannot store run {run_id}: {source_dir} is not a folder")
        existing = self._get(run_id, locked=False)
        if existing is not None:
            return existing
        self._ensure_dirs()
        with self._acquire(run_id, lock_timeout):
            existing = self._get(run_id, locked=True)
            if existing is not None:
                return existing
            self._remove_own_temps(run_id)
            tmp = self._make_temp(run_id)
            try:
                self._copy_in(run_id, source_dir, tmp)
                return self._publish(run_id, tmp, meta)
            except BaseException:
                self._discard(tmp)
                raise

    def delete(self, run_id: str, lock_timeout: float = 30) -> None:
        """Remove a run (complete or not); `RunNotFound` if there is none."""
        self._check_lookup_id(run_id)
        path = self.root / run_id
        if not os.path.lexists(path):
            raise RunNotFound(f"No stored run has id {run_id} (looked in {self.root})")
        with self._acquire(run_id, lock_timeout):
            if not os.path.lexists(path):
                raise RunNotFound(f"No stored run has id {run_id} (looked in {self.root})")
            try:
                self._remove(path)
            except OSError as exc:
                raise StoreError(f"Could not delete run {run_id} from {self.root}: {exc.strerror or exc}") from exc
            # Its probe results (embedding map, robustness, calibration) go with it; they are only a shortcut.
            probes = self.root / PROBES_DIR / run_id
            if probes.is_symlink():
                probes.unlink(missing_ok=True)
            else:
                shutil.rmtree(probes, ignore_errors=True)

    # ------------------------------------------------------------------ internals

    def _check_lookup_id(self, run_id: object) -> None:
        # Links carry run ids: anything that is not one must never reach a path join.
        if not is_run_id(run_id):
            raise RunNotFound(f"{run_id!r} is not a run id (run ids are 20 lowercase hex characters)")

    def _check_write_id(self, run_id: object) -> None:
        if not is_run_id(run_id):
            raise StoreError(f"Refusing to store a run under {run_id!r}: run ids are 20 lowercase hex characters")

    def _run_dirs(self, include_links: bool = False) -> Iterator[Path]:
        """Run folders by name; symbolic links named like runs too when `include_links` (so they can be flagged)."""
        try:
            entries = list(os.scandir(self.root))
        except (FileNotFoundError, NotADirectoryError, PermissionError):
            return
        for entry in entries:
            if is_run_id(entry.name) and (
                entry.is_dir(follow_symlinks=False) or (include_links and entry.is_symlink())
            ):
                yield Path(entry.path)

    def _get(self, run_id: str, *, locked: bool) -> StoredRun | None:
        path = self.root / run_id
        if not os.path.lexists(path):
            return None
        try:
            run = StoredRun(run_id, path, verify(path, full=True).meta)
        except (ManifestProblem, OSError) as exc:
            problem = exc
        else:
            self._mark_used(path)
            return run
        if locked:
            log.warning("run %s is corrupt (%s); removing it so it is retrained", run_id, problem)
            self._quarantine(path)
            return None
        # Remove it only while holding its lock: otherwise we could race a process that is replacing it.
        lock = self._lock(run_id)
        try:
            got = lock.try_acquire()
        except OSError:
            got = False  # read-only cache: cannot lock, cannot remove either
        if not got:
            log.warning("run %s is corrupt (%s); leaving it to the process that holds its lock", run_id, problem)
            return None
        with lock:
            if not os.path.lexists(path):
                return None
            try:
                # Re-check: it may have been replaced by a good copy between our check and the lock.
                return StoredRun(run_id, path, verify(path, full=True).meta)
            except (ManifestProblem, OSError) as exc:
                problem = exc
            log.warning("run %s is corrupt (%s); removing it so it is retrained", run_id, problem)
            self._quarantine(path)
        return None

    def _lock(self, run_id: str) -> RunLock:
        return RunLock(self.root / LOCKS_DIR / f"{run_id}.lock", run_id)

    def _acquire(self, run_id: str, timeout: float) -> RunLock:
        lock = self._lock(run_id)
        try:
            lock.acquire(timeout)
        except OSError as exc:
            raise self._write_error(run_id, exc) from exc
        return lock

    def _ensure_dirs(self) -> None:
        try:
            for name in (TMP_DIR, TRASH_DIR, LOCKS_DIR):
                (self.root / name).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise self._write_error(None, exc) from exc

    def _make_temp(self, run_id: str) -> Path:
        try:
            return Path(tempfile.mkdtemp(prefix=f"{run_id}.", dir=self.root / TMP_DIR))
        except OSError as exc:
            raise self._write_error(run_id, exc) from exc

    def _copy_in(self, run_id: str, source_dir: Path, tmp: Path) -> None:
        try:
            for path in walk_files(source_dir):
                rel = path.relative_to(source_dir)
                if rel.as_posix() in (META_NAME, MANIFEST_NAME):
                    continue
                target = tmp / rel
                try:
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(path, target)
                except OSError as exc:
                    # Space and read-only errors can only come from the write side; others (a source file
                    # vanishing, unreadable) propagate as they are.
                    if refused_write(exc):
                        raise self._write_error(run_id, exc) from exc
                    raise
        except LinkRefused as exc:
            raise StoreError(f"Cannot store run {run_id}: {exc.path} is a symbolic link") from exc

    def _publish(self, run_id: str, tmp: Path, meta: dict) -> StoredRun:
        """Write meta + manifest into a finished temp folder, make it durable and rename it into place."""
        if not isinstance(meta, dict):
            raise TypeError(f"the build for run {run_id} must return the meta dict, got {type(meta).__name__}")
        meta = dict(meta)
        meta.setdefault("run_id", run_id)
        meta.setdefault("created", datetime.now(UTC).isoformat(timespec="microseconds"))
        meta_bytes = json.dumps(meta, sort_keys=True, indent=2).encode("utf-8")  # TypeError if not JSON-able
        # A meta the readers would refuse is never published: it would be a run nobody can list or open.
        published = json.loads(meta_bytes)  # what readers will see: the JSON round trip, not the dict passed in
        validate_run_meta(published, run_id=run_id)
        final = self.root / run_id
        try:
            _write_durable(tmp / META_NAME, meta_bytes)
            try:
                manifest = build_manifest(tmp)
            except ManifestProblem as exc:
                raise StoreError(f"Cannot store run {run_id}: {exc}") from exc
            _write_durable(tmp / MANIFEST_NAME, manifest_bytes(manifest))
            for dirpath, _dirnames, _filenames in os.walk(tmp):
                _fsync_dir(Path(dirpath))
            if os.path.lexists(final):
                # We hold the lock and `_get` found no valid run, so whatever is there is debris.
                self._quarantine(final)
            os.rename(tmp, final)
            _fsync_dir(self.root)
        except OSError as exc:
            raise self._write_error(run_id, exc) from exc
        for name, entry in manifest["files"].items():
            with contextlib.suppress(OSError):  # only a cache warm-up
                remember_digest(final / name, entry["sha256"])
        return StoredRun(run_id, final, published)

    def _write_error(self, run_id: str | None, exc: OSError) -> StoreError:
        what = f"run {run_id}" if run_id else "the run store"
        elsewhere = f"set {settings.CACHE_ENV} to a folder"
        return StoreError(write_failure(exc, self.root, what, elsewhere, free_hint=" (deleting old runs helps)"))

    def _discard(self, tmp: Path) -> None:
        shutil.rmtree(tmp, ignore_errors=True)

    def _remove(self, path: Path) -> None:
        """Rename out of sight first (atomic), then delete at leisure; raises OSError if the rename fails."""
        trash = self.root / TRASH_DIR
        trash.mkdir(parents=True, exist_ok=True)
        target = trash / f"{path.name}.{uuid.uuid4().hex[:8]}"
        os.rename(path, target)
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target, ignore_errors=True)
        else:
            target.unlink(missing_ok=True)

    def _quarantine(self, path: Path) -> None:
        try:
            self._remove(path)
        except FileNotFoundError:
            pass  # someone else already removed it
        except OSError as exc:
            log.warning("could not remove corrupt run %s: %s", path.name, exc)

    def _remove_own_temps(self, run_id: str) -> None:
        """Under the run's lock, any temp folder for it belongs to a writer that died: remove it now."""
        try:
            entries = list(os.scandir(self.root / TMP_DIR))
        except OSError:
            return
        for entry in entries:
            if entry.name.split(".", 1)[0] == run_id:
                shutil.rmtree(entry.path, ignore_errors=True)

    def _sweep_stale(self) -> None:
        """Remove temp folders of killed writers (old and unlocked) and leftovers in the trash."""
        now = time.time()
        for folder in (TMP_DIR, TRASH_DIR):
            try:
                entries = list(os.scandir(self.root / folder))
            except OSError:
                continue
            for entry in entries:
                try:
                    if now - entry.stat(follow_symlinks=False).st_mtime < STALE_AFTER_S:
                        continue
                except OSError:
                    continue
                owner = entry.name.split(".", 1)[0]
                if folder == TMP_DIR and is_run_id(owner):
                    lock = self._lock(owner)
                    try:
                        if not lock.try_acquire():
                            continue  # its writer is alive, just slow
                    except OSError:
                        continue
                    with lock:
                        shutil.rmtree(entry.path, ignore_errors=True)
                elif entry.is_dir(follow_symlinks=False):
                    shutil.rmtree(entry.path, ignore_errors=True)
                else:
                    with contextlib.suppress(OSError):
                        os.unlink(entry.path)

"""Probe results kept per run in the store, so a second CLI call or page render reads instead of recomputing.

Layout, beside the run folders (a run folder's manifest lists every file in it, so nothing may be added inside):

    <runs root>/.probes/<run_id>/<probe>-<digest of the parameters>.json

Each file is one record: the probe's name, its parameters, the format version, the digest of the run's
`manifest.json` (which names every byte of the run: a run retrained under the same key gets other weights and a
new digest) and the result. Records are untrusted on the way back: `engine.probes.checks.validate_probe_record`
checks the envelope and each probe's `from_dict` its fields; a record that fails is logged and recomputed, never
used. Writes go to a temporary file in the same folder, fsynced, then renamed, as the store's other writes. A cache
that cannot be written (hosted read-only mode, a full disk) still answers: the result is computed and returned
without being kept. `RunStore.delete` (hence eviction) removes a run's records with the run. Explanations of
single images are cheap and are not kept.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from engine.errors import StoreError
from engine.limits import ProbeLimits
from engine.probes.checks import validate_probe_record
from engine.store.disk import write_json_atomically
from engine.store.keys import canonical_json
from engine.store.run_store import PROBES_DIR
from engine.store.stored_run import StoredRun
from engine.textfiles import load_json, read_regular_file

log = logging.getLogger("digitlab.probes")

RECORD_VERSION = 1  # bump when a probe's result changes meaning: older records are then recomputed

T = TypeVar("T")


def probe_folder(run: StoredRun) -> Path:
    """Where the records of `run` live: beside its folder, under the store's `.probes`."""
    return run.path.parent / PROBES_DIR / run.run_id


def record_path(run: StoredRun, probe: str, params: dict) -> Path:
    digest = hashlib.sha256(canonical_json({"probe": probe, "params": params}).encode()).hexdigest()[:20]
    return probe_folder(run) / f"{probe}-{digest}.json"


def _read(path: Path, *, probe: str, params: dict, digest: str) -> dict | None:
    """The stored result dict, or None when there is none or it fails its checks (then it is logged)."""
    cap = ProbeLimits().max_stored_probe_bytes
    try:
        raw = read_regular_file(path, max_bytes=cap)
    except FileNotFoundError:
        return None
    except OSError as exc:
        log.warning("could not read the stored %s result %s (%s); computing it", probe, path, exc.strerror or exc)
        return None
    try:
        return validate_probe_record(
            load_json(raw), probe=probe, params=params, run_digest=digest, version=RECORD_VERSION
        )
    except (ValueError, StoreError) as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        log.warning("the stored %s result %s is unusable (%s); computing it again", probe, path, exc)
        return None


def _lookup(run: StoredRun, probe: str, params: dict, from_dict: Callable[[dict], T]) -> tuple[T | None, str | None]:
    """(the stored result when one is kept and passes its checks, else None; the run's digest, None when its
    manifest cannot be read). `params` are already canonical."""
    try:
        digest = run.digest()
    except OSError:
        return None, None
    path = record_path(run, probe, params)
    stored = _read(path, probe=probe, params=params, digest=digest)
    if stored is None:
        return None, digest
    try:
        return from_dict(stored), digest
    except (StoreError, ValueError, TypeError, KeyError) as exc:
        log.warning("the stored %s result %s is unusable (%s)", probe, path, exc)
        return None, digest


def stored_probe(run: StoredRun, probe: str, params: dict, from_dict: Callable[[dict], T]) -> T | None:
    """The probe's stored result for `run` with `params` when one is kept and passes its checks, else None; never
    computes (for a page that may show a result but must not pay for it)."""
    return _lookup(run, probe, json.loads(canonical_json(params)), from_dict)[0]


def cached_probe(
    run: StoredRun,
    probe: str,
    params: dict,
    compute: Callable[[], T],
    to_dict: Callable[[T], dict],
    from_dict: Callable[[dict], T],
) -> T:
    """The probe's result for `run` with `params` (plain JSON values): the stored record when it passes its checks,
    else `compute()`, stored for next time when the cache can be written."""
    params = json.loads(canonical_json(params))  # as it reads back: tuples become lists, keys sorted
    found, digest = _lookup(run, probe, params, from_dict)
    if found is not None:
        return found
    if digest is None:  # the run was removed meanwhile: answer, keep nothing
        log.warning("run %s has no readable manifest; %s computed without storing", run.run_id, probe)
        return compute()
    path = record_path(run, probe, params)
    result = compute()
    record = {"version": RECORD_VERSION, "probe": probe, "params": params, "run_digest": digest}
    try:
        write_json_atomically(path, {**record, "result": to_dict(result)}, allow_nan=False)
    except OSError as exc:  # read-only or full cache: the answer stands, only the shortcut is lost
        log.info("could not store the %s result of run %s (%s); it is recomputed next time", probe, run.run_id, exc)
    return result

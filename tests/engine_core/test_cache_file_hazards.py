"""Issue 23: files planted in the cache that would hang a reader. A FIFO makes a plain `open` wait for a writer
forever, a link to /dev/zero makes `read()` fill memory forever, a file of megabytes is read whole. Each reader of a
cache file (an upload's info, the training ledger, a job's records and log, a run's manifest and history, a probe
record, a sweep's request, a lock's note, a kept upload's data files) goes through `engine.textfiles`' regular-file
helpers, and answers promptly with its own error or a skipped record.

Every call runs in a daemon thread joined with a timeout, so a regression fails the test instead of hanging it."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from engine.textfiles import MAX_CACHE_FILE_BYTES, RefusedFile, load_json_file, read_regular_file

HAZARDS = ("fifo", "dev-zero-link", "oversized")


def plant(path: Path, hazard: str, cap: int = MAX_CACHE_FILE_BYTES) -> None:
    """Replace `path` by a hazard. The oversized file is valid JSON ("[]" padded with spaces), so only its size can
    refuse it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() or path.is_symlink():
        path.unlink()
    if hazard == "fifo":
        os.mkfifo(path)
    elif hazard == "dev-zero-link":
        os.symlink("/dev/zero", path)
    else:
        with open(path, "wb") as handle:
            handle.write(b"[]" + b" " * cap)


def prompt(call: Callable[[], object], timeout: float = 10.0) -> object:
    """`call()`'s value or raised exception, failing the test if it has not returned within `timeout` seconds."""
    outcome: list[object] = []

    def target() -> None:
        try:
            outcome.append(("value", call()))
        except BaseException as error:  # noqa: BLE001 - handed back to the test
            outcome.append(("raised", error))

    worker = threading.Thread(target=target, daemon=True)
    worker.start()
    worker.join(timeout)
    assert not worker.is_alive(), f"still reading after {timeout} s: it hangs"
    kind, value = outcome[0]  # type: ignore[misc]
    if kind == "raised":
        raise value  # type: ignore[misc]
    return value


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("DIGIT_LAB_CACHE", str(tmp_path))
    return tmp_path


@pytest.mark.parametrize("hazard", HAZARDS)
def test_the_helper_refuses_each_hazard_with_a_reason(tmp_path, hazard):
    path = tmp_path / "record.json"
    plant(path, hazard, cap=100)
    with pytest.raises(RefusedFile) as refused:
        prompt(lambda: read_regular_file(path, max_bytes=100))
    reason = {"fifo": "FIFO", "dev-zero-link": "symbolic link", "oversized": "100-byte limit"}[hazard]
    assert reason in str(refused.value)


def test_the_helper_reads_up_to_the_cap_and_follows_a_link_only_when_asked(tmp_path):
    real = tmp_path / "real.json"
    real.write_text('{"a": [1, 2]}')
    assert load_json_file(real, max_bytes=len('{"a": [1, 2]}')) == {"a": [1, 2]}
    link = tmp_path / "link.json"
    os.symlink(real, link)
    with pytest.raises(RefusedFile, match="symbolic link"):
        read_regular_file(link)
    assert read_regular_file(link, follow_links=True) == real.read_bytes()
    os.symlink("/dev/zero", tmp_path / "zero")
    with pytest.raises(RefusedFile, match="device"):  # followed, the target is still not a regular file
        prompt(lambda: read_regular_file(tmp_path / "zero", follow_links=True))
    with pytest.raises(FileNotFoundError):
        read_regular_file(tmp_path / "absent")


@pytest.mark.parametrize("hazard", HAZARDS)
def test_an_upload_whose_info_is_a_hazard_is_listed_unusable_and_the_others_are_not(cache, hazard):
    """Flagged, never read whole and never a hang: listed with why it cannot be used (so a page or link naming it
    says so), the good upload beside it untouched."""
    from engine.datasets.uploads import INFO_NAME, list_uploads

    uploads = cache / "datasets" / "uploads"
    good = uploads / ("a" * 16)
    good.mkdir(parents=True)
    (good / INFO_NAME).write_text(json.dumps({"image_shape": [8, 8, 1], "num_classes": 10, "files": ["a.npz"]}))
    plant(uploads / ("b" * 16) / INFO_NAME, hazard, cap=10_000)
    listed = {info.name: info.problem for info in prompt(list_uploads)}  # type: ignore[attr-defined]
    assert listed["upload-" + "a" * 16] == ""
    assert "cannot be read" in listed["upload-" + "b" * 16]


@pytest.mark.parametrize("hazard", HAZARDS)
def test_a_hazard_ledger_is_started_afresh(cache, hazard):
    from engine.training_queue import LEDGER_FILE, Ledger

    plant(cache / "queue" / LEDGER_FILE, hazard)
    ledger = Ledger(cache / "queue")
    assert prompt(ledger._read) == []
    assert prompt(ledger.usage).trainings == 0  # type: ignore[attr-defined]


@pytest.mark.parametrize("hazard", HAZARDS)
def test_a_job_whose_files_are_hazards_is_an_invalid_job_with_no_pid_and_no_log(cache, hazard):
    from engine.jobs.records import InvalidJob, job_dir, log_path, log_tail, read_pid, read_request, read_status

    job_id = "0123456789abcdef"
    for name in ("request.json", "status.json", "driver.pid"):
        plant(job_dir(job_id) / name, hazard, cap=2_000_000)
    plant(log_path(job_id), hazard, cap=10)  # the log is read from its end: only a FIFO or a link could hang
    for reader in (read_request, read_status):
        with pytest.raises(InvalidJob, match="cannot be read"):
            prompt(lambda reader=reader: reader(job_id))
    assert prompt(lambda: read_pid(job_id)) == 0
    if hazard != "oversized":  # an oversized log is still a log: its tail is what the panel shows
        assert prompt(lambda: log_tail(job_id)) == ""


def _two_runs(cache: Path):
    from engine.store import RunStore, run_key
    from tests.store.run_meta import run_meta

    def build(folder: Path) -> dict:
        (folder / "history.json").write_text(json.dumps({"epochs": [{"epoch": 1, "loss": 0.5}]}))
        return run_meta()

    store = RunStore()
    good, bad = run_key({"hazard": 1}), run_key({"hazard": 2})
    for key in (good, bad):
        store.create(key, build)
    return store, good, bad


@pytest.mark.parametrize("hazard", HAZARDS)
def test_a_run_whose_manifest_is_a_hazard_is_flagged_and_the_listing_goes_on(cache, hazard):
    from engine.store import RunStore
    from engine.store.manifest import MANIFEST_NAME, ManifestProblem, verify

    store, good, bad = _two_runs(cache)
    plant(store.root / bad / MANIFEST_NAME, hazard)
    with pytest.raises(ManifestProblem, match="manifest.json cannot be read"):
        prompt(lambda: verify(store.root / bad, full=False))
    scan = prompt(lambda: RunStore().scan())
    assert [run.run_id for run in scan.runs] == [good]  # type: ignore[attr-defined]
    assert prompt(lambda: RunStore().get(bad)) is None


@pytest.mark.parametrize("hazard", HAZARDS)
def test_a_history_replaced_by_a_hazard_after_the_run_was_opened_is_a_store_error(cache, hazard):
    from engine.errors import StoreError

    store, good, _ = _two_runs(cache)
    run = store.get(good)
    assert run is not None and run.history()["epochs"][0]["loss"] == 0.5
    plant(run.path / "history.json", hazard)
    # `StoredRun.file` already refuses what is not a regular file; the size is the reader's own cap
    with pytest.raises(StoreError, match="cannot be read|not valid JSON" if hazard == "oversized" else "has no file"):
        prompt(run.history)


@pytest.mark.parametrize("hazard", HAZARDS)
def test_a_probe_record_that_is_a_hazard_is_recomputed(tmp_path, hazard):
    from engine.limits import ProbeLimits
    from engine.probes.stored import _read

    path = tmp_path / "probe.json"
    plant(path, hazard, cap=ProbeLimits().max_stored_probe_bytes)
    assert prompt(lambda: _read(path, probe="p", params={}, digest="d")) is None


@pytest.mark.parametrize("hazard", HAZARDS)
def test_a_sweep_whose_request_is_a_hazard_is_an_invalid_sweep(cache, hazard):
    from engine.limits import sweep_limits
    from engine.sweeps.runner import SWEEP_ID_LENGTH, load_sweep, sweep_dir
    from engine.sweeps.space import InvalidSweep

    sweep_id = "c" * SWEEP_ID_LENGTH
    plant(sweep_dir(sweep_id) / "request.json", hazard, cap=sweep_limits().max_space_bytes * 2)
    (sweep_dir(sweep_id) / "study.db").write_bytes(b"")
    with pytest.raises(InvalidSweep, match="cannot be read"):
        prompt(lambda: load_sweep(sweep_id))


@pytest.mark.parametrize("hazard", ("fifo", "dev-zero-link"))
def test_a_lock_note_that_is_a_hazard_still_gives_a_busy_message(tmp_path, hazard):
    from engine.store.locking import RunLock

    lock = RunLock(tmp_path / "run.lock", "0123456789abcdef0123")
    plant(lock.note_path, hazard)
    assert "still holds its lock" in prompt(lambda: lock._busy_message(1.0))  # type: ignore[operator]


@pytest.mark.parametrize("hazard", ("fifo", "dev-zero-link"))
def test_a_kept_data_file_that_is_a_hazard_is_a_data_file_error(tmp_path, hazard):
    """A FIFO or a device among an upload's files, the UCI cache, or on a --data-path: refused, not waited on or read
    forever."""
    from engine.datasets.idx import load_npz, read_idx
    from engine.datasets.uci import _read_optdigits_npz
    from engine.errors import InvalidDataFile

    readers = (("train-images-idx3-ubyte", read_idx), ("mnist.npz", load_npz), ("optdigits.npz", _read_optdigits_npz))
    for name, reader in readers:
        plant(tmp_path / name, hazard)
        with pytest.raises(InvalidDataFile, match="cannot be read|regular file|device|FIFO"):
            prompt(lambda name=name, reader=reader: reader(tmp_path / name))


def test_a_command_line_file_swapped_for_a_fifo_after_its_check_is_refused_not_waited_on(tmp_path, monkeypatch):
    """`--spec`/`--space`/`--roster` files are stat-ed, then opened: a FIFO put in the file's place between the two
    must not block the command (a plain `open` waits for a writer forever)."""
    import engine.textfiles as textfiles
    from engine.errors import InvalidSpec

    regular = tmp_path / "spec.json"
    regular.write_text("{}")
    fifo = tmp_path / "swapped.json"
    os.mkfifo(fifo)
    real_stat = os.stat
    monkeypatch.setattr(textfiles.os, "stat", lambda path, *a, **k: real_stat(regular if path == str(fifo) else path))
    with pytest.raises(InvalidSpec, match="is not a regular file"):
        prompt(lambda: textfiles.small_json_file_text(str(fifo), "--spec", 1000, InvalidSpec))

"""Tests for the run store: keys, get-or-create, verification, locking across processes, failure cleanup, safety."""

from __future__ import annotations

import errno
import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from engine.errors import RunNotFound, StoreError
from engine.store import MANIFEST_FORMAT, RunStore, is_run_id, run_key
from engine.store import manifest as manifest_module
from engine.store import run_store as run_store_module
from engine.store.locking import RunLock
from tests.store.run_meta import run_meta

REPO = Path(__file__).resolve().parents[2]
KEY = run_key({"dataset": "digits", "architecture": "tiny", "epochs": 1})
OTHER_KEY = run_key({"dataset": "digits", "architecture": "tiny", "epochs": 2})


def make_builder(calls: list, **meta):
    """A build function that writes a small run's worth of files and counts its calls."""

    def build(folder: Path) -> dict:
        calls.append(folder)
        (folder / "history.json").write_text(json.dumps({"loss": [0.9, 0.5], "accuracy": [0.6, 0.8]}))
        rng = np.random.default_rng(len(calls))
        np.save(folder / "test_probabilities.npy", rng.random((4, 3), dtype=np.float32))
        # Same shape and dtype as the test probabilities, so swapping the two keeps every size intact.
        np.save(folder / "val_probabilities.npy", rng.random((4, 3), dtype=np.float32))
        np.save(folder / "test_labels.npy", np.array([0, 2, 1, 1], dtype=np.int64))
        return run_meta(**meta)

    return build


@pytest.fixture
def store(tmp_path: Path) -> RunStore:
    return RunStore(tmp_path / "runs")


def temp_entries(store: RunStore) -> list[str]:
    tmp = store.root / ".tmp"
    return sorted(os.listdir(tmp)) if tmp.exists() else []


def subprocess_env() -> dict:
    return {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}


# ---------------------------------------------------------------- keys


def test_run_key_is_stable_across_ordering_and_differs_by_payload():
    a = {"dataset": "mnist", "config": {"lr": 0.001, "epochs": 3, "layers": [8, 16]}, "seed": 0}
    b = {"seed": 0, "config": {"layers": [8, 16], "epochs": 3, "lr": 0.001}, "dataset": "mnist"}
    assert run_key(a) == run_key(b)
    assert is_run_id(run_key(a))
    assert run_key(a) != run_key({**a, "seed": 1})
    assert run_key(a) != run_key({**a, "config": {**a["config"], "lr": 0.0010000000000000002}})
    # Lists keep their order: layer order is part of the architecture.
    assert run_key(a) != run_key({**a, "config": {**a["config"], "layers": [16, 8]}})
    # numpy scalars hash like the Python numbers they hold.
    assert run_key({"lr": np.float64(0.1), "n": np.int64(3)}) == run_key({"lr": 0.1, "n": 3})
    with pytest.raises(ValueError):
        run_key({"lr": float("nan")})
    with pytest.raises(TypeError):
        run_key({"classes": {1, 2}})


def test_is_run_id_rejects_anything_but_20_lowercase_hex(store: RunStore):
    assert is_run_id("0123456789abcdef0123")
    for bad in [
        "../etc",
        "../../etc/passwd",
        "0123456789ABCDEF0123",
        "0123456789abcdef012",
        "0123456789abcdef01234",
        "0123456789abcdef0123\n",
        "0123456789abcdefg123",
        "",
        None,
        12345,
    ]:
        assert not is_run_id(bad), bad
    # Rejected before touching the disk: the root is not even created.
    with pytest.raises(RunNotFound, match="not a run id"):
        store.get("../etc")
    with pytest.raises(RunNotFound):
        store.delete("../etc")
    with pytest.raises(StoreError):
        store.create("../etc", make_builder([]))
    assert "../etc" not in store
    assert not store.root.exists()


def test_default_root_follows_the_cache_env_var(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("DIGIT_LAB_CACHE", str(tmp_path / "elsewhere"))
    assert RunStore().root == tmp_path / "elsewhere" / "runs"


# ---------------------------------------------------------------- get-or-create


def test_create_builds_once_then_reuses(store: RunStore):
    calls: list = []
    run, reused = store.create(KEY, make_builder(calls, epochs=1))
    assert (reused, len(calls)) == (False, 1)
    again, reused = store.create(KEY, make_builder(calls, epochs=1))
    assert (reused, len(calls)) == (True, 1)
    assert again == run == store.get(KEY)
    assert run.path == store.root / KEY
    assert run.meta["epochs"] == 1 and run.meta["run_id"] == KEY and "created" in run.meta
    assert run.history()["accuracy"] == [0.6, 0.8]
    assert run.test_probabilities().shape == (4, 3)
    assert run.test_labels().tolist() == [0, 2, 1, 1]
    assert run.array("val_probabilities.npy").dtype == np.float32
    assert KEY in store and OTHER_KEY not in store
    manifest = json.loads((run.path / "manifest.json").read_text())
    assert manifest["format"] == MANIFEST_FORMAT
    assert set(manifest["files"]) == {
        "history.json",
        "meta.json",
        "test_probabilities.npy",
        "val_probabilities.npy",
        "test_labels.npy",
    }
    assert temp_entries(store) == []
    # A different payload is a different run, built separately.
    other, reused = store.create(OTHER_KEY, make_builder(calls))
    assert (reused, len(calls), other.run_id) == (False, 2, OTHER_KEY)


def test_file_refuses_names_that_leave_the_run(store: RunStore):
    run, _ = store.create(KEY, make_builder([]))
    for bad in ["../x", "/etc/passwd", "a/../../b", "", "nope.npy"]:
        with pytest.raises(StoreError):
            run.file(bad)


# ---------------------------------------------------------------- corruption


def _truncate(run_dir: Path) -> str:
    path = run_dir / "test_probabilities.npy"
    path.write_bytes(path.read_bytes()[:-10])
    return "test_probabilities.npy"


def _edit_meta(run_dir: Path) -> str:
    path = run_dir / "meta.json"
    meta = json.loads(path.read_text())
    meta["epochs"] = 99
    path.write_text(json.dumps(meta))
    return "meta.json"


def _swap(run_dir: Path) -> str:
    a, b = run_dir / "test_probabilities.npy", run_dir / "val_probabilities.npy"
    tmp = run_dir / "swap"
    os.rename(a, tmp)
    os.rename(b, a)
    os.rename(tmp, b)
    return "probabilities.npy"


def _drop_manifest(run_dir: Path) -> str:
    (run_dir / "manifest.json").unlink()
    return "manifest.json"


def _pad_manifest(run_dir: Path) -> str:
    # Still the same JSON once parsed, so only a byte-exact check of the manifest (the one file no checksum
    # covers) catches it; the run's digest hashes these bytes, so it would name a copy the store never wrote.
    with open(run_dir / "manifest.json", "ab") as handle:
        handle.write(b"\t")
    return "manifest.json"


def _reformat_manifest(run_dir: Path) -> str:
    path = run_dir / "manifest.json"
    path.write_text(json.dumps(json.loads(path.read_text())))
    return "manifest.json"


def _remove_file(run_dir: Path) -> str:
    (run_dir / "test_labels.npy").unlink()
    return "test_labels.npy"


def _add_file(run_dir: Path) -> str:
    (run_dir / "planted.py").write_text("print('hi')")
    return "planted.py"


@pytest.mark.parametrize(
    "corrupt",
    [_truncate, _edit_meta, _swap, _drop_manifest, _pad_manifest, _reformat_manifest, _remove_file, _add_file],
)
def test_corrupt_run_is_detected_logged_removed_and_rebuilt(store: RunStore, caplog, corrupt):
    calls: list = []
    run, _ = store.create(KEY, make_builder(calls))
    assert store.get(KEY) is not None  # verified (and its hashes cached) before the damage
    what = corrupt(run.path)
    with caplog.at_level(logging.WARNING, logger="digitlab.store"):
        assert store.get(KEY) is None
    warnings = [r.getMessage() for r in caplog.records if r.name == "digitlab.store" and r.levelno == logging.WARNING]
    assert len(warnings) == 1 and KEY in warnings[0] and what in warnings[0], warnings
    assert not run.path.exists()  # moved aside, so the next create starts clean
    rebuilt, reused = store.create(KEY, make_builder(calls))
    assert (reused, len(calls)) == (False, 2)
    assert store.get(rebuilt.run_id) == rebuilt


def test_verification_hashes_once_but_rehashes_a_changed_file(store: RunStore, monkeypatch):
    run, _ = store.create(KEY, make_builder([]))
    manifest_module.clear_digest_cache()
    hashed: list[str] = []
    real = manifest_module.sha256_file
    monkeypatch.setattr(manifest_module, "sha256_file", lambda path: hashed.append(Path(path).name) or real(path))

    assert store.get(KEY) is not None
    assert len(hashed) == 5  # every file once
    for _ in range(3):
        assert store.get(KEY) is not None
    assert len(hashed) == 5  # unchanged files are not hashed again

    # Same size, new bytes, new mtime: must be hashed again and rejected.
    path = run.path / "test_probabilities.npy"
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    st = path.stat()
    path.write_bytes(bytes(data))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    assert store.get(KEY) is None
    assert hashed[5:] == ["test_probabilities.npy"]


# ---------------------------------------------------------------- failures


def test_build_raising_stores_nothing_and_propagates_unchanged(store: RunStore):
    error = ValueError("loss exploded")

    def build(folder: Path) -> dict:
        (folder / "model.keras").write_bytes(b"half a model")
        raise error

    with pytest.raises(ValueError) as caught:
        store.create(KEY, build)
    assert caught.value is error
    assert store.list() == [] and store.get(KEY) is None and KEY not in store
    assert temp_entries(store) == []
    assert not (store.root / KEY).exists()
    calls: list = []
    assert store.create(KEY, make_builder(calls))[1] is False and len(calls) == 1


def test_build_returning_non_dict_stores_nothing(store: RunStore):
    with pytest.raises(TypeError, match="meta dict"):
        store.create(KEY, lambda folder: None)
    assert store.list() == [] and temp_entries(store) == []


def test_read_only_root_gives_store_error_and_cleans_up(store: RunStore, monkeypatch):
    def refuse(src, dst):
        raise OSError(errno.EROFS, "Read-only file system", str(dst))

    monkeypatch.setattr(run_store_module.os, "rename", refuse)
    with pytest.raises(StoreError) as caught:
        store.create(KEY, make_builder([]))
    message = str(caught.value)
    assert str(store.root) in message and "DIGIT_LAB_CACHE" in message and "Read-only" in message
    assert temp_entries(store) == []
    monkeypatch.undo()
    assert store.list() == [] and store.get(KEY) is None


def test_full_disk_gives_store_error_and_cleans_up(store: RunStore, monkeypatch):
    def full(path, data):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(run_store_module, "_write_durable", full)
    with pytest.raises(StoreError, match="full") as caught:
        store.create(KEY, make_builder([]))
    assert "DIGIT_LAB_CACHE" in str(caught.value) and "Free some space" in str(caught.value)
    assert temp_entries(store) == [] and store.list() == []

    # The same disk filling up while the trainer writes its own files.
    def build(folder: Path) -> dict:
        (folder / "model.keras").write_bytes(b"x")
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(StoreError, match="full"):
        store.create(KEY, build)
    assert temp_entries(store) == [] and store.list() == []


def test_lock_timeout_raises_store_error_naming_the_holder(store: RunStore):
    calls: list = []
    store.create(OTHER_KEY, make_builder([]))  # makes the helper folders
    holder = RunLock(store.root / ".locks" / f"{KEY}.lock", KEY)
    assert holder.try_acquire()
    try:
        started = time.monotonic()
        with pytest.raises(StoreError) as caught:
            store.create(KEY, make_builder(calls), lock_timeout=0.3)
        assert 0.3 <= time.monotonic() - started < 5
    finally:
        holder.release()
    message = str(caught.value)
    assert f"pid {os.getpid()}," in message and KEY in message and "training run" in message
    assert calls == []
    assert store.create(KEY, make_builder(calls), lock_timeout=1)[1] is False  # free again


def test_lock_note_names_the_holder_only_while_it_holds(tmp_path: Path):
    path = tmp_path / "run.lock"
    lock = RunLock(path, KEY)
    assert lock.try_acquire()
    assert lock.note_path.read_text().split()[0] == str(os.getpid())
    assert not RunLock(path, KEY).try_acquire()  # a second lock object excludes even within one process
    lock.release()
    assert path.exists() and not lock.note_path.exists()  # the lock file stays; the note goes with the holder
    other = RunLock(path, KEY)
    assert other.try_acquire()
    other.release()


@pytest.mark.skipif(not Path("/proc/locks").exists(), reason="the kernel lock table is Linux's /proc/locks")
def test_lock_timeout_names_the_real_holder_not_a_stale_note(tmp_path: Path):
    finished = subprocess.Popen([sys.executable, "-c", "pass"])
    finished.wait(timeout=60)
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    path = tmp_path / "run.lock"
    holder = RunLock(path, KEY)
    assert holder.try_acquire()
    messages = []
    try:
        # As if an old trainer's note were still there (its process dead, or alive and doing something else)
        # while this process holds the lock now, and with no note at all.
        for note in (f"{finished.pid} {time.time() - 3600:.3f}\n", f"{alive.pid} {time.time() - 3600:.3f}\n", None):
            if note is None:
                holder.note_path.unlink()
            else:
                holder.note_path.write_text(note)
            with pytest.raises(StoreError) as caught:
                RunLock(path, KEY).acquire(timeout=0.2)
            messages.append(str(caught.value))
    finally:
        holder.release()
        alive.kill()
        alive.wait(timeout=60)
    for message in messages:
        # The kernel's lock table names the holder; the stale note's pid and its hour-old start never appear.
        assert message.startswith(f"Another process, pid {os.getpid()}, has been training run {KEY} for at least ")
        assert str(finished.pid) not in message and str(alive.pid) not in message


# ---------------------------------------------------------------- processes

RACE_SCRIPT = textwrap.dedent(
    """
    import json, os, sys, time
    from pathlib import Path
    from engine.store import RunStore
    from tests.store.run_meta import run_meta

    root, key, marker, go = sys.argv[1:5]

    def build(folder):
        with open(marker, "a") as handle:
            handle.write(f"{os.getpid()}\\n")
        time.sleep(1.0)
        (folder / "history.json").write_text("{}")
        return run_meta(built_by=os.getpid())

    while not Path(go).exists():
        time.sleep(0.01)
    run, reused = RunStore(Path(root)).create(key, build, lock_timeout=60)
    print(json.dumps({"run_id": run.run_id, "reused": reused, "built_by": run.meta["built_by"]}))
    """
)


def test_two_processes_racing_build_exactly_once(tmp_path: Path):
    root, marker, go = tmp_path / "runs", tmp_path / "marker", tmp_path / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", RACE_SCRIPT, str(root), KEY, str(marker), str(go)],
            cwd=REPO,
            env=subprocess_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    go.touch()
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        results.append(json.loads(out))
    assert len(marker.read_text().splitlines()) == 1
    assert results[0]["run_id"] == results[1]["run_id"] == KEY
    assert results[0]["built_by"] == results[1]["built_by"]
    assert sorted(r["reused"] for r in results) == [False, True]
    assert [run.run_id for run in RunStore(root).list()] == [KEY]


KILLED_SCRIPT = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from engine.store import RunStore

    root, key, started = sys.argv[1:4]

    def build(folder):
        (folder / "model.keras").write_bytes(b"partial model")
        Path(started).write_text("started")
        time.sleep(120)
        return {}

    RunStore(Path(root)).create(key, build)
    """
)


def test_writer_killed_inside_build_leaves_nothing_and_next_create_rebuilds(tmp_path: Path):
    root, started = tmp_path / "runs", tmp_path / "started"
    proc = subprocess.Popen(
        [sys.executable, "-c", KILLED_SCRIPT, str(root), KEY, str(started)],
        cwd=REPO,
        env=subprocess_env(),
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while not started.exists():
        assert proc.poll() is None, proc.stderr.read().decode()
        assert time.monotonic() < deadline, "writer never reached build"
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    proc.stderr.close()

    store = RunStore(root)
    assert len(temp_entries(store)) == 1  # the dead writer's half-written folder, young: kept by the sweep
    assert store.list() == [] and store.get(KEY) is None
    calls: list = []
    run, reused = store.create(KEY, make_builder(calls), lock_timeout=5)  # the kernel dropped the lock
    assert (reused, len(calls)) == (False, 1)
    assert temp_entries(store) == []  # the dead writer's folder went with it
    assert store.list() == [run]


def test_stale_temp_dirs_are_swept_unless_their_writer_holds_the_lock(tmp_path: Path):
    root = tmp_path / "runs"
    RunStore(root).create(OTHER_KEY, make_builder([]))
    tmp = root / ".tmp"
    old_dead, old_alive, young = tmp / f"{KEY}.aaa", tmp / f"{OTHER_KEY}.bbb", tmp / f"{KEY}.ccc"
    two_hours_ago = time.time() - 7200
    for folder in (old_dead, old_alive, young):
        folder.mkdir()
        (folder / "model.keras").write_bytes(b"x")
    for folder in (old_dead, old_alive):
        os.utime(folder, (two_hours_ago, two_hours_ago))
    holder = RunLock(root / ".locks" / f"{OTHER_KEY}.lock", OTHER_KEY)
    assert holder.try_acquire()
    try:
        RunStore(root)
    finally:
        holder.release()
    assert not old_dead.exists()
    assert old_alive.exists() and young.exists()


# ---------------------------------------------------------------- put / list / delete / size


def test_put_copies_a_folder_and_keeps_an_existing_run(store: RunStore, tmp_path: Path):
    source = tmp_path / "from_worker"
    source.mkdir()
    make_builder([])(source)
    (source / "meta.json").write_text('{"ignored": true}')
    run = store.put(KEY, source, run_meta(worker=1))
    assert run == store.get(KEY) and run.meta["worker"] == 1 and "ignored" not in run.meta
    assert (source / "test_labels.npy").exists()  # source left alone
    assert np.array_equal(run.test_labels(), np.load(source / "test_labels.npy"))
    again = store.put(KEY, source, run_meta(worker=2))
    assert again.meta["worker"] == 1
    assert temp_entries(store) == []

    linked = tmp_path / "linked"
    linked.mkdir()
    (linked / "history.json").symlink_to("/etc/hostname")
    with pytest.raises(StoreError, match="symbolic link"):
        store.put(OTHER_KEY, linked, {})
    assert OTHER_KEY not in store and temp_entries(store) == []


def test_list_delete_and_size(store: RunStore):
    assert store.list() == [] and store.size_bytes() == 0
    keys = [run_key({"n": n}) for n in range(3)]
    for n, key in enumerate(keys):
        store.create(key, make_builder([], created=f"2024-01-0{n + 1}T00:00:00+00:00"))
    (store.root / ".tmp" / f"{keys[0]}.leftover").mkdir()  # never listed
    assert [run.run_id for run in store.list()] == keys[::-1]  # newest first

    sizes = {run.run_id: run.size_bytes() for run in store.list()}
    on_disk = sum(f.stat().st_size for key in keys for f in (store.root / key).iterdir())
    assert store.size_bytes() == sum(sizes.values()) == on_disk > 0

    _truncate(store.root / keys[1])  # listing checks sizes without hashing
    assert [run.run_id for run in store.list()] == [keys[2], keys[0]]

    store.delete(keys[2])
    assert keys[2] not in store and not (store.root / keys[2]).exists()
    assert [run.run_id for run in store.list()] == [keys[0]]
    assert store.size_bytes() == on_disk - sizes[keys[2]] - 10
    with pytest.raises(RunNotFound):
        store.delete(keys[2])
    store.delete(keys[1])  # a corrupt run can be deleted too
    assert store.size_bytes() == sizes[keys[0]]


# ---------------------------------------------------------------- safety


def test_pickled_npy_is_refused(store: RunStore):
    def build(folder: Path) -> dict:
        np.save(folder / "test_probabilities.npy", np.array([{"evil": 1}, None], dtype=object), allow_pickle=True)
        return run_meta()

    with pytest.raises(StoreError, match="pickled"):  # never stored...
        store.create(KEY, build)
    assert store.scan().runs == [] and temp_entries(store) == []
    run, _ = store.create(KEY, make_builder([]))
    path = run.path / "test_probabilities.npy"
    np.save(path, np.array([{"evil": 1}, None], dtype=object), allow_pickle=True)
    # ...never served, even planted with a manifest made to match it...
    entries = json.loads((run.path / "manifest.json").read_text())
    entries["files"]["test_probabilities.npy"] = {
        "size": path.stat().st_size,
        "sha256": manifest_module.sha256_file(path),
    }
    (run.path / "manifest.json").write_bytes(manifest_module.manifest_bytes(entries))
    assert store.get(KEY) is None
    # ...and never unpickled by the reader either (defence in depth, for a run handed out before the edit).
    planted = run.path.parent / "planted"
    planted.mkdir()
    np.save(planted / "test_probabilities.npy", np.array([{"evil": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(StoreError, match="never unpickles") as caught:
        type(run)(KEY, planted, run.meta).test_probabilities()
    assert isinstance(caught.value.__cause__, ValueError)


def test_importing_the_store_does_not_import_keras():
    code = (
        "import sys, engine.store; "
        "bad = [m for m in ('keras', 'tensorflow', 'streamlit') if m in sys.modules]; "
        "assert not bad, bad"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=subprocess_env(), capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr


def test_load_model_loads_plain_layers_and_refuses_a_lambda(store: RunStore, tmp_path: Path):
    keras = pytest.importorskip("keras")

    plain_dir, lambda_dir = tmp_path / "plain", tmp_path / "lambda"
    plain_dir.mkdir()
    lambda_dir.mkdir()
    keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)]).save(plain_dir / "model.keras")
    keras.Sequential([keras.Input((3,)), keras.layers.Lambda(lambda x: x * 2.0)]).save(lambda_dir / "model.keras")

    plain = store.put(KEY, plain_dir, run_meta())
    model = plain.load_model()
    assert model.output_shape == (None, 2)

    planted = store.put(OTHER_KEY, lambda_dir, run_meta())
    assert store.get(OTHER_KEY) == planted  # a correct manifest does not make code safe to run
    with pytest.raises(StoreError, match="Lambda") as caught:
        planted.load_model()
    assert caught.value.__cause__ is not None


# ---------------------------------------------------------------- what a run folder may be


def test_a_run_folder_that_is_a_symlink_is_never_served_and_is_flagged(store: RunStore, tmp_path: Path):
    run, _ = store.create(OTHER_KEY, make_builder([]))
    elsewhere = tmp_path / "elsewhere"
    os.rename(run.path, elsewhere)  # a complete, self-consistent run folder, but outside the store...
    os.symlink(elsewhere, store.root / OTHER_KEY)  # ...reached through a link named like a run
    scan = store.scan()
    assert scan.runs == [] and [(p.run_id, p.reason) for p in scan.problems] == [
        (OTHER_KEY, "the run folder is a symbolic link")
    ]
    assert store.get(OTHER_KEY) is None
    assert elsewhere.is_dir() and (elsewhere / "meta.json").exists()  # only the link was removed, not its target


@pytest.mark.parametrize(
    "edit, reason",
    [
        (lambda meta: meta.pop("metrics"), "meta.json lacks metrics"),
        (lambda meta: meta["metrics"].pop("test_accuracy"), "meta.json lacks metrics.test_accuracy"),
        (lambda meta: meta["metrics"].update(test_accuracy="high"), "metrics.test_accuracy of type str"),
        (lambda meta: meta["parameters"].update(total=True), "parameters.total of type bool"),
        (lambda meta: meta["spec"]["conv_blocks"].append({"filters": "x"}), "malformed conv block 2"),
        (lambda meta: meta.update(run_id=KEY), "meta.json names run"),
        (lambda meta: meta.update(warnings=[1]), "warnings that are not a list of text"),
    ],
)
def test_a_run_whose_meta_lacks_what_readers_need_is_flagged_and_the_rest_listed(store: RunStore, edit, reason):
    good, _ = store.create(KEY, make_builder([]))
    bad, _ = store.create(OTHER_KEY, make_builder([]))
    meta = json.loads((bad.path / "meta.json").read_text())
    edit(meta)
    (bad.path / "meta.json").write_text(json.dumps(meta))
    # Re-write the manifest so the files are consistent with it: only the meta's content is wrong.
    manifest_module.clear_digest_cache()
    (bad.path / "manifest.json").unlink()
    manifest = manifest_module.build_manifest(bad.path)
    (bad.path / "manifest.json").write_bytes(manifest_module.manifest_bytes(manifest))
    scan = store.scan()
    assert [run.run_id for run in scan.runs] == [KEY]
    assert len(scan.problems) == 1 and scan.problems[0].run_id == OTHER_KEY and reason in scan.problems[0].reason
    assert store.get(OTHER_KEY) is None and store.get(KEY) == good


def test_a_meta_readers_would_refuse_is_never_published(store: RunStore):
    with pytest.raises(StoreError, match="meta.json lacks metrics"):
        store.create(KEY, lambda folder: {k: v for k, v in run_meta().items() if k != "metrics"})
    assert store.scan().runs == [] and store.scan().problems == [] and temp_entries(store) == []


def test_opening_a_run_records_its_last_use_without_touching_its_files(store: RunStore):
    run, _ = store.create(KEY, make_builder([]))
    long_ago = time.time() - 86_400
    os.utime(run.path, (long_ago, long_ago))
    before = {name: os.stat(run.path / name).st_mtime_ns for name in run.files()}
    assert store.get(KEY) is not None
    (usage,) = store.usage()
    assert usage.run_id == KEY and usage.last_used > long_ago + 3600
    assert {name: os.stat(run.path / name).st_mtime_ns for name in run.files()} == before
    assert store.get(KEY) is not None  # still verifies: the folder's time is not part of the manifest

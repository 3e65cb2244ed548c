"""Admission by memory: the estimate's arithmetic, the shared ledger across threads and processes, refusals,
holders that die, and a cache the queue cannot write."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from engine import memory_estimate
from engine.architectures import ConvBlock, DenseLayer, ModelSpec
from engine.errors import TrainingTooLarge
from engine.limits import HOST_MEMORY_MB, SERVER_BASELINE_MB, server_limits
from engine.memory_estimate import MemoryEstimate, training_size
from engine.training.config import TrainConfig
from engine.training_queue import TrainingQueue, training_queue

ROOT = Path(__file__).resolve().parents[2]
# Hand-built figures: a process's runtime share and one training's share, in MB.
NEED = MemoryEstimate(runtime_mb=300, training_mb=300)


def test_training_size_counts_images_parameters_and_activations_by_hand():
    # 8x8x1 -> conv 4 filters 3x3 'valid' (6x6x4) -> max pool (3x3x4) -> flatten 36 -> dense 8 -> dense 10.
    spec = ModelSpec(conv_blocks=(ConvBlock(4),), dense_layers=(DenseLayer(8),), input_shape=(8, 8, 1))
    size = training_size(spec, TrainConfig(batch_size=32, limit_train=500), n_train=1437, n_test=360)
    assert size.train_images == 500 and size.test_images == 360 and size.pixels == 64
    assert size.parameters == (9 + 1) * 4 + (36 + 1) * 8 + (8 + 1) * 10  # 426
    assert size.activations_per_image == 64 + 144 + 36 + 36 + 8 + 10
    assert size.data_mb == pytest.approx((500 + 360) * 64 * 4 / 1e6)
    assert size.activation_mb == pytest.approx(32 * 298 * 4 / 1e6)
    whole = training_size(spec, TrainConfig(batch_size=4096), n_train=1437, n_test=360)
    assert whole.train_images == 1437 and whole.batch_size == 1437  # a batch larger than the data is the data


def test_estimate_adds_the_margin_to_every_term():
    size = memory_estimate.TrainingSize(
        train_images=9_488, test_images=512, pixels=100, parameters=250_000, activations_per_image=2_500, batch_size=100
    )
    # By hand: 4 MB of data, 1 MB of parameters, 1 MB of activations per training batch, 5.12 MB per batch of 512.
    plain = (
        memory_estimate.DATA_FACTOR * 4
        + memory_estimate.PARAMETER_FACTOR * 1
        + memory_estimate.ACTIVATION_FACTOR * 1
        + memory_estimate.EVAL_FACTOR * 5.12
    )
    estimate = memory_estimate.estimate(size)
    margin = 1 + memory_estimate.SAFETY_MARGIN
    assert estimate.training_mb == pytest.approx(plain * margin, abs=0.1)
    assert estimate.runtime_mb == pytest.approx(memory_estimate.RUNTIME_MB * margin, abs=0.1)


def test_hosted_default_budget_is_the_host_minus_the_server_and_one_training_per_core(monkeypatch):
    monkeypatch.setenv("DIGIT_LAB_HOSTED", "1")
    limits = server_limits()
    assert limits.memory_budget_mb == HOST_MEMORY_MB - SERVER_BASELINE_MB
    assert limits.max_concurrent_trainings == len(os.sched_getaffinity(0))
    monkeypatch.setenv("DIGIT_LAB_MAX_TRAININGS", "0")
    assert server_limits().max_concurrent_trainings == 0  # the operator can still lift the count cap
    monkeypatch.setenv("DIGIT_LAB_MEMORY_MB", "900")
    monkeypatch.setenv("DIGIT_LAB_MAX_TRAININGS", "3")
    assert (server_limits().memory_budget_mb, server_limits().max_concurrent_trainings) == (900, 3)
    monkeypatch.delenv("DIGIT_LAB_HOSTED")
    monkeypatch.delenv("DIGIT_LAB_MEMORY_MB")
    monkeypatch.delenv("DIGIT_LAB_MAX_TRAININGS")
    assert (server_limits().memory_budget_mb, server_limits().max_concurrent_trainings) == (0, 2)


def run_together(queue: TrainingQueue, needs: list[MemoryEstimate], hold: float = 0.4):
    """Start one thread per need (in this order, 50 ms apart); return (peak running, positions seen per thread)."""
    running, peak, positions = [0], [0], {i: [] for i in range(len(needs))}
    lock = threading.Lock()

    def work(index):
        with queue.slot(on_wait=positions[index].append, need=needs[index], timeout=30):
            with lock:
                running[0] += 1
                peak[0] = max(peak[0], running[0])
            time.sleep(hold)
            with lock:
                running[0] -= 1

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(needs))]
    for thread in threads:
        thread.start()
        time.sleep(0.05)
    for thread in threads:
        thread.join(30)
    return peak[0], positions


def test_memory_budget_admits_what_fits_and_queues_the_rest(tmp_path):
    # Budget 1000: the first training adds runtime + training (600), the second only its own 300 (same process,
    # TensorFlow already charged): 900. A third would make 1200, so it waits until one ends.
    queue = TrainingQueue(tmp_path / "ledger", memory_budget_mb=1000)
    peak, positions = run_together(queue, [NEED, NEED, NEED])
    assert peak == 2
    assert positions[0] == [] and positions[2] and set(positions[2]) == {1}
    # After all ended, the process's runtime stays charged (TensorFlow stays loaded), nothing else.
    usage = queue.ledger.usage()
    assert (usage.memory_mb, usage.trainings) == (300, 0)


def test_a_larger_budget_runs_all_three_and_the_count_cap_still_applies(tmp_path):
    assert run_together(TrainingQueue(tmp_path / "a", memory_budget_mb=1200), [NEED] * 3)[0] == 3
    assert run_together(TrainingQueue(tmp_path / "b", capacity=1, memory_budget_mb=5000), [NEED] * 3)[0] == 1


def test_waiters_are_served_in_arrival_order_and_see_their_position(tmp_path):
    queue = TrainingQueue(tmp_path / "ledger", memory_budget_mb=700)  # one at a time (600, then +300 > 700)
    order = []

    def work(index):
        with queue.slot(on_wait=lambda p: positions[index].append(p), need=NEED, timeout=30):
            order.append(index)
            time.sleep(0.3)

    positions = {i: [] for i in range(3)}
    threads = [threading.Thread(target=work, args=(i,)) for i in range(3)]
    for thread in threads:
        thread.start()
        time.sleep(0.05)
    for thread in threads:
        thread.join(30)
    assert order == [0, 1, 2]
    assert 2 in positions[2] and positions[2][-1] == 1  # second in line, then next


def test_a_training_larger_than_the_budget_is_refused_at_once_with_both_numbers(tmp_path):
    queue = TrainingQueue(tmp_path / "ledger", memory_budget_mb=500)
    started = time.monotonic()
    with pytest.raises(TrainingTooLarge) as refused, queue.slot(need=NEED):
        pytest.fail("admitted a training over the budget")
    assert time.monotonic() - started < 1
    assert "600 MB" in str(refused.value) and "500 MB" in str(refused.value)
    assert queue.ledger.usage().trainings == 0


def test_engine_refuses_a_training_over_the_hosted_budget_before_training(monkeypatch):
    from engine.datasets import load_dataset
    from engine.runs import get_or_train

    monkeypatch.setenv("DIGIT_LAB_HOSTED", "1")
    monkeypatch.setenv("DIGIT_LAB_MEMORY_MB", "100")  # below TensorFlow's runtime alone
    digits = load_dataset("digits")
    spec = ModelSpec(conv_blocks=(ConvBlock(4, padding="same"),), dense_layers=(DenseLayer(8),), input_shape=(8, 8, 1))
    with pytest.raises(TrainingTooLarge, match=r"above this server's budget of 100 MB"):
        get_or_train(digits, spec, TrainConfig(epochs=1, limit_train=100))


HOLDER = """
import sys, time
from pathlib import Path
from engine.memory_estimate import MemoryEstimate
from engine.training_queue import TrainingQueue
queue = TrainingQueue(Path(sys.argv[1]), memory_budget_mb=1000)
with queue.slot(need=MemoryEstimate(runtime_mb=300, training_mb=500)):
    print("held", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def start_holder(folder: Path, seconds: float) -> subprocess.Popen:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(folder), str(seconds)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "held"
    return holder


def test_processes_share_one_budget(tmp_path):
    holder = start_holder(tmp_path / "ledger", 2)  # holds 800 of 1000
    try:
        started = time.monotonic()
        with TrainingQueue(tmp_path / "ledger", memory_budget_mb=1000).slot(need=NEED, timeout=30):
            waited = time.monotonic() - started
    finally:
        holder.wait(10)
    assert waited > 0.5  # 800 + 600 did not fit until the other process let go


def test_a_killed_holder_frees_its_share(tmp_path):
    holder = start_holder(tmp_path / "ledger", 600)
    queue = TrainingQueue(tmp_path / "ledger", memory_budget_mb=1000)
    admitted = threading.Event()

    def wait_for_room():
        with queue.slot(need=NEED, timeout=30):
            admitted.set()

    waiter = threading.Thread(target=wait_for_room)
    waiter.start()
    time.sleep(1)
    assert not admitted.is_set()  # the holder is alive: no room
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait(10)
    waiter.join(10)
    assert admitted.is_set()


def test_entries_of_dead_or_reused_pids_are_ignored(tmp_path):
    import socket

    from engine.processes import process_start

    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(finished.stdout)
    host = socket.gethostname()
    folder = tmp_path / "ledger"
    folder.mkdir()
    entries = [
        {"id": "a", "kind": "training", "mb": 900, "host": host, "pid": dead_pid, "started": "1"},
        # Our own pid with another start time: a process that had this pid before us.
        {"id": "b", "kind": "training", "mb": 900, "host": host, "pid": os.getpid(), "started": "1"},
        {"id": "c", "kind": "training", "mb": 900, "host": "another-host", "pid": os.getpid(), "started": ""},
        {"id": "d", "kind": "bogus"},
    ]
    (folder / "ledger.json").write_text(json.dumps(entries))
    assert process_start(os.getpid()) not in ("", "1")
    queue = TrainingQueue(folder, memory_budget_mb=1000)
    with queue.slot(need=NEED, timeout=1):
        assert queue.ledger.usage().memory_mb == 600
    assert [e["id"] for e in json.loads((folder / "ledger.json").read_text())] == [f"runtime-{os.getpid()}"]


def test_a_corrupt_ledger_is_started_afresh(tmp_path, caplog):
    folder = tmp_path / "ledger"
    folder.mkdir()
    (folder / "ledger.json").write_text("{not json")
    with TrainingQueue(folder, memory_budget_mb=1000).slot(need=NEED, timeout=1):
        pass
    assert "unreadable" in caplog.text


def test_cache_that_is_a_file_moves_the_ledger_to_the_temporary_folder(monkeypatch, tmp_path, caplog):
    cache = tmp_path / "not-a-folder"
    cache.write_text("")
    monkeypatch.setenv("DIGIT_LAB_CACHE", str(cache))
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)  # re-read TMPDIR
    queue = training_queue()
    assert queue.folder is not None and queue.folder.parent == tmp_path / "tmp"
    assert str(cache) in queue.notice and "cannot be written" in queue.notice
    with queue.slot(need=NEED, timeout=5):
        assert queue.ledger.usage().trainings == 1
    assert str(cache) in caplog.text


def test_with_nothing_writable_the_queue_counts_this_process_only(monkeypatch, tmp_path):
    cache = tmp_path / "file"
    cache.write_text("")
    monkeypatch.setenv("DIGIT_LAB_CACHE", str(cache))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(cache))  # the temporary folder is a file too
    queue = training_queue()
    assert queue.folder is None and "only this process" in queue.notice
    monkeypatch.setenv("DIGIT_LAB_MEMORY_MB", "700")
    peak, _ = run_together(TrainingQueue(None, memory_budget_mb=700), [NEED, NEED], hold=0.2)
    assert peak == 1  # the budget still applies between this process's threads


@pytest.mark.skipif(
    os.geteuid() == 0, reason="root writes into a read-only folder anyway; the file-path test covers it"
)
def test_read_only_cache_folder_moves_the_ledger(monkeypatch, tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    cache.chmod(0o555)
    monkeypatch.setenv("DIGIT_LAB_CACHE", str(cache))
    try:
        queue = training_queue()
        assert queue.folder is not None and not queue.folder.is_relative_to(cache)
    finally:
        cache.chmod(0o755)


def test_training_with_an_unwritable_cache_still_returns_the_result(monkeypatch, tmp_path):
    from engine.datasets import load_dataset
    from engine.runs import get_or_train

    digits = load_dataset("digits")  # loaded (memoised) before the cache is broken
    cache = tmp_path / "cache-file"
    cache.write_text("")
    monkeypatch.setenv("DIGIT_LAB_CACHE", str(cache))
    spec = ModelSpec(conv_blocks=(ConvBlock(4, padding="same"),), dense_layers=(DenseLayer(8),), input_shape=(8, 8, 1))
    result = get_or_train(digits, spec, TrainConfig(epochs=1, limit_train=100, seed=5))
    assert result.stored is False and "Could not write" in result.store_problem
    assert result.run.test_probabilities().shape == (len(digits.x_test), 10)


def test_cli_memory_reports_estimate_budget_and_use(monkeypatch, capsys):
    from engine.cli import main

    monkeypatch.setenv("DIGIT_LAB_HOSTED", "1")
    monkeypatch.setenv("DIGIT_LAB_MEMORY_MB", "700")
    assert main(["memory", "--dataset", "digits", "--preset", "digitlab-small8", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["budget_mb"] == 700 and out["in_use_mb"] == 0 and out["trainings_running"] == 0
    assert out["estimate_mb"] == pytest.approx(out["runtime_mb"] + out["training_mb"])
    assert out["fits_alone"] is (out["estimate_mb"] <= 700)

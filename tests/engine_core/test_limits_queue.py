"""Hosted-mode caps, the concurrent-training queue, and cache eviction that spares what is shown."""

import threading
import time

import pytest

from engine.architectures import PRESETS, ModelSpec, layer_table
from engine.errors import InvalidConfig, InvalidSpec
from engine.training.checks import validate_config
from engine.training.config import TrainConfig
from engine.training_queue import TrainingQueue


def test_hosted_mode_caps_parameters_epochs_and_training_size(monkeypatch):
    big = PRESETS["seed003-m4"].spec  # 693,578 parameters
    layer_table(big)
    monkeypatch.setenv("DIGIT_LAB_HOSTED", "1")
    monkeypatch.setenv("DIGIT_LAB_MAX_PARAMETERS", "500000")
    with pytest.raises(InvalidSpec, match="above the limit of 500,000"):
        layer_table(big)
    with pytest.raises(InvalidConfig, match="between 1 and 30"):
        validate_config(TrainConfig(epochs=31), n_train=1000, num_classes=10)
    with pytest.raises(InvalidConfig, match="at most 20,000 images"):
        validate_config(TrainConfig(), n_train=60_000, num_classes=10)
    validate_config(TrainConfig(limit_train=20_000), n_train=60_000, num_classes=10)


def test_queue_caps_concurrency_and_reports_positions(tmp_path):
    queue = TrainingQueue(tmp_path / "slots", capacity=1)
    running, peak, positions = [0], [0], []
    lock = threading.Lock()

    def work(name):
        def waiting(position):
            positions.append((name, position))

        with queue.slot(on_wait=waiting):
            with lock:
                running[0] += 1
                peak[0] = max(peak[0], running[0])
            time.sleep(0.3)
            with lock:
                running[0] -= 1

    threads = [threading.Thread(target=work, args=(i,)) for i in range(3)]
    for thread in threads:
        thread.start()
        time.sleep(0.05)
    for thread in threads:
        thread.join(10)
    assert peak[0] == 1
    assert any(position == 2 for _, position in positions)  # the third arrival saw itself second in line


def test_queue_slots_are_shared_across_processes(tmp_path):
    import subprocess
    import sys

    script = (
        "import time, sys; from pathlib import Path; from engine.training_queue import TrainingQueue;"
        f"q = TrainingQueue(Path({str(tmp_path / 'slots')!r}), 1)\n"
        "with q.slot():\n    print('held', flush=True); time.sleep(2)\n"
    )
    holder = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    started = time.monotonic()
    with TrainingQueue(tmp_path / "slots", 1).slot():
        waited = time.monotonic() - started
    holder.wait(10)
    assert waited > 0.5  # we could not start while the other process held the only slot


def test_eviction_keeps_what_is_shown(monkeypatch):
    from engine.architectures import ConvBlock, DenseLayer
    from engine.datasets import load_dataset
    from engine.runs import evict_over_budget, get_or_train, mark_shown
    from engine.store import RunStore

    digits = load_dataset("digits")
    spec = ModelSpec(conv_blocks=(ConvBlock(4, padding="same"),), dense_layers=(DenseLayer(8),), input_shape=(8, 8, 1))
    ids = [get_or_train(digits, spec, TrainConfig(epochs=1, limit_train=100, seed=s)).run.run_id for s in range(3)]
    mark_shown(ids[0])  # the oldest run is on someone's screen
    monkeypatch.setenv("DIGIT_LAB_HOSTED", "1")
    monkeypatch.setenv("DIGIT_LAB_MAX_CACHE_MB", "0")
    store = RunStore()
    monkeypatch.setattr(
        "engine.runs.server_limits", lambda: __import__("engine.limits", fromlist=["ServerLimits"]).ServerLimits(2, 1)
    )
    evicted = evict_over_budget(store, keep={ids[2]})
    assert evicted == [ids[1]] and ids[0] in store and ids[2] in store

"""Get a trained run: from the store when its key exists, else train once, store, and return it.

The key hashes what determines the result (dataset fingerprint, spec, config with its seed, and the engine,
Keras and TensorFlow versions); labels such as the preset name are kept in the metadata only, so the same
model reached through a preset or the builder is one cached run.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections.abc import Callable, Set
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from engine import telemetry
from engine.architectures.presets import get_preset
from engine.architectures.spec import ModelSpec
from engine.datasets import Dataset
from engine.datasets.label_checks import label_warnings, mapping_warning
from engine.errors import DigitLabError, StoreError
from engine.limits import server_limits
from engine.memory_estimate import estimate_training
from engine.progress import ProgressCallback, ProgressEvent
from engine.store import RunStore, StoredRun, run_key
from engine.store.disk import disk_guard
from engine.training.config import TrainConfig
from engine.training.data import transformed_dataset
from engine.training.fit import TrainingResult, train
from engine.training.precision import choose_precision
from engine.training_queue import training_queue
from engine.validation import validate_request

log = logging.getLogger("digitlab.runs")

ENGINE_VERSION = "0.2.0"  # bumped when training code changes results under unchanged specs (index shuffling, bfloat16)


@lru_cache(maxsize=1)
def versions() -> dict[str, str]:
    """Versions that can change a trained result; read from package metadata, so TensorFlow is not imported."""
    found = {"engine": ENGINE_VERSION}
    for label, names in (("keras", ("keras",)), ("tensorflow", ("tensorflow", "tensorflow-cpu"))):
        for name in names:
            try:
                found[label] = metadata.version(name)
                break
            except metadata.PackageNotFoundError:
                continue
    return found


def run_id_for(dataset: Dataset, spec: ModelSpec, config: TrainConfig) -> str:
    """The store key of this request; raises `InvalidSpec`/`InvalidConfig` first, so no key exists for a bad one."""
    validate_request(spec, config, n_train=len(dataset.x_train), num_classes=spec.num_classes)
    payload = {
        "dataset": dataset.fingerprint,
        "spec": spec.to_dict(),
        "config": config.key_dict(),
        "versions": versions(),
    }
    precision = choose_precision(spec)
    if precision != "float32":
        # bfloat16 compute (chosen per machine) changes the numbers, so it is part of what a run is.
        payload["precision"] = precision
    return run_key(payload)


@dataclass(frozen=True)
class RunResult:
    run: StoredRun
    cached: bool  # True when the run came from the store and nothing was trained
    seconds: float  # engine time for this call
    stored: bool = True  # False: the store could not be written; the run lives in a temporary folder
    store_problem: str = ""  # why it could not be stored


def find_run(dataset: Dataset, spec: ModelSpec, config: TrainConfig, store: RunStore | None = None) -> StoredRun | None:
    """The stored run for this request, or None; never trains."""
    return (store or RunStore()).get(run_id_for(dataset, spec, config))


def get_or_train(
    dataset: Dataset,
    spec: ModelSpec,
    config: TrainConfig,
    progress: ProgressCallback | None = None,
    store: RunStore | None = None,
    preset: str = "",
) -> RunResult:
    """Return the stored run for (dataset, spec, config), training and storing it first when absent.

    Concurrent callers with one key train once: the store's file lock makes the others wait and read it.
    """
    started = time.perf_counter()
    store = store or RunStore()
    run_id = run_id_for(dataset, spec, config)

    def build(folder: Path) -> dict:
        def waiting(position: int) -> bool | None:
            if progress is not None:
                return progress(
                    ProgressEvent("queued", 0, config.epochs, time.perf_counter() - started, {"position": position})
                )
            return None

        need = estimate_training(spec, config, len(dataset.x_train), len(dataset.x_test))
        with training_queue().slot(on_wait=waiting, need=need):
            telemetry.count("trainings")
            trained["result"] = result = train(dataset, spec, config, progress)
        return write_run(folder, run_id, dataset, spec, config, preset, result)

    trained: dict = {}
    try:
        run, cached = store.create(run_id, build)
    except StoreError as problem:
        if not isinstance(problem.__cause__, OSError) and not trained:
            raise
        # A full disk or read-only cache must not cost the user their result: keep it for this process.
        try:
            run = _unstored_run(run_id, dataset, spec, config, preset, trained.get("result"), build)
        except StoreError as second:  # the temporary folder refused it too: both reasons, one message
            raise StoreError(f"{problem} Keeping the result outside the cache failed too: {second}") from second
        return RunResult(run, False, time.perf_counter() - started, stored=False, store_problem=str(problem))
    if not cached:
        evict_over_budget(store, keep={run_id})
    return RunResult(run, cached, time.perf_counter() - started)


_unstored: dict[str, StoredRun] = {}


def _unstored_run(
    run_id: str,
    dataset: Dataset,
    spec: ModelSpec,
    config: TrainConfig,
    preset: str,
    result: TrainingResult | None,
    build: Callable[[Path], dict],
) -> StoredRun:
    """Write a run outside the cache (the system temp folder) and remember it for this process; a `StoreError`
    saying so when that folder's disk is full or read-only too."""
    import tempfile

    where = tempfile.gettempdir()
    with disk_guard(where, f"run {run_id} (kept outside the cache)", "set TMPDIR to a folder", StoreError):
        folder = Path(tempfile.mkdtemp(prefix=f"digitlab-unstored-{run_id}-"))
        try:
            if result is not None:
                meta = write_run(folder, run_id, dataset, spec, config, preset, result)
            else:
                meta = build(folder)
            meta = {**meta, "unstored": True}
            (folder / "meta.json").write_text(json.dumps(meta))
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)  # a failed attempt leaves no folder behind
            raise
    run = StoredRun(run_id, folder, meta)
    _unstored[run_id] = run
    return run


def unstored_run(run_id: str) -> StoredRun | None:
    """A run trained in this process that the store could not keep (disk full, read-only), if any."""
    return _unstored.get(run_id)


# The files a trained run consists of, besides the store's own meta.json and manifest.json.
RUN_FILES = ("model.keras", "history.json", "test_probabilities.npy", "test_labels.npy")


def write_run(
    folder: Path,
    run_id: str,
    dataset: Dataset,
    spec: ModelSpec,
    config: TrainConfig,
    preset: str,
    result: TrainingResult,
) -> dict:
    """Write a finished training's files (`RUN_FILES`) into `folder` and return the run's meta dict.

    Shared by `get_or_train` and the executors' workers (`engine.executors`), so a run trained anywhere is
    stored byte-for-byte the same way.
    """
    folder = Path(folder)
    result.model.save(folder / "model.keras")
    np.save(folder / "test_probabilities.npy", result.test_probabilities, allow_pickle=False)
    np.save(folder / "test_labels.npy", result.test_labels, allow_pickle=False)
    (folder / "history.json").write_text(json.dumps(result.history))
    return _meta(run_id, dataset, spec, config, preset, result)


def train_and_write(
    folder: Path,
    run_id: str,
    dataset: Dataset,
    spec: ModelSpec,
    config: TrainConfig,
    preset: str = "",
    progress: ProgressCallback | None = None,
) -> dict:
    """Train without taking a slot of this machine's training queue and write the run into `folder`.

    For executor workers, whose concurrency is the cluster scheduler's business, not the queue's.
    """
    telemetry.count("trainings")
    result = train(dataset, spec, config, progress)
    return write_run(folder, run_id, dataset, spec, config, preset, result)


_shown: dict[str, float] = {}


def mark_shown(run_id: str) -> None:
    """Record that a page is showing this run, which protects it from eviction for ten minutes."""
    _shown[run_id] = time.time()


def evict_over_budget(store: RunStore, keep: Set[str] = frozenset()) -> list[str]:
    """Delete the least recently used runs (by last open) until the cache fits its budget (hosted mode).

    Never those in `keep`, nor runs shown in the last ten minutes (`mark_shown`), so a page never loses the run it
    shows. The store is walked once for sizes and last uses; each eviction is logged on `digitlab.runs`.
    """
    budget = server_limits().max_cache_bytes
    if not budget:
        return []
    usage = store.usage()
    total = sum(entry.size_bytes for entry in usage)
    if total <= budget:
        return []
    recent = time.time() - 600
    evicted = []
    for entry in sorted(usage, key=lambda e: (e.last_used, e.run_id)):
        if total <= budget:
            break
        if entry.run_id in keep or _shown.get(entry.run_id, 0) > recent:
            continue
        try:
            store.delete(entry.run_id)
        except DigitLabError as problem:  # removed meanwhile, or busy: the next eviction pass retries
            log.warning("could not evict run %s: %s", entry.run_id, problem)
            continue
        total -= entry.size_bytes
        evicted.append(entry.run_id)
        log.info(
            "evicted run %s (%.1f MB, last used %s) to keep the cache under its %.0f MB budget",
            entry.run_id,
            entry.size_bytes / 1e6,
            datetime.fromtimestamp(entry.last_used, UTC).isoformat(timespec="seconds"),
            budget / 1e6,
        )
    return evicted


def _meta(
    run_id: str, dataset: Dataset, spec: ModelSpec, config: TrainConfig, preset: str, result: TrainingResult
) -> dict:
    # Deferred: engine.evaluation loads pandas; Home imports this module and must not wait for it.
    from engine.evaluation import evaluate

    scores = evaluate(result.test_labels, result.test_probabilities, result.class_names)
    last = result.history["epochs"][-1] if result.history["epochs"] else {}
    warnings = run_warnings(dataset, spec, config, getattr(result, "label_warnings", None))
    return {
        "warnings": list(warnings),
        "run_id": run_id,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "preset": preset,
        "dataset": {
            "name": dataset.name,
            "fingerprint": dataset.fingerprint,
            "image_shape": list(dataset.image_shape),
            "value_max": dataset.value_max,
            **result.data,
        },
        "class_names": list(result.class_names),
        "spec": spec.to_dict(),
        "config": config.to_dict(),
        "versions": versions(),
        "parameters": result.parameters,
        "train_seconds": round(result.train_seconds, 3),
        "prepare_seconds": round(result.prepare_seconds, 3),
        "epochs_run": len(result.history["epochs"]),
        "metrics": {
            "test_accuracy": scores.accuracy,
            "macro_f1": scores.macro_f1,
            "test_loss": scores.log_loss,
            "final_train_accuracy": last.get("accuracy"),  # Keras' running average, dropout active
            **(result.history.get("final_validation") or {}),
            **(result.history.get("final_train") or {}),  # train_accuracy_inference: scored like the test set
        },
    }


def run_warnings(
    dataset: Dataset, spec: ModelSpec, config: TrainConfig, labels_checked: tuple[str, ...] | None = None
) -> tuple[str, ...]:
    """What a run on this request should be read with: the dataset's own warnings (files that are another
    dataset's), a digit class merge on non-digit data, and classes missing from the training or test labels.

    `labels_checked`: the last part as the training already found it (`TrainingResult.label_warnings`), so a
    finished run does not merge and subset the dataset a second time to learn it.
    """
    found = list(dataset.warnings)
    merge = mapping_warning(dataset.class_names, config.label_mapping)
    if merge:
        found.append(merge)
    if labels_checked is None:
        learned = transformed_dataset(dataset, config)
        labels_checked = label_warnings(learned.y_train, learned.y_test, learned.class_names, spec.num_classes)
    found += labels_checked
    return tuple(found)


def preset_request(
    preset_name: str, dataset: Dataset, learning_rate: float | None = None, **config_changes: Any
) -> tuple[ModelSpec, TrainConfig]:
    """A preset's spec sized for `dataset` and its recipe with overrides (None keeps the preset's value).

    The preset's class merging (seed 004's four classes) applies unless the caller sets its own mapping.
    """
    preset = get_preset(preset_name)
    config = preset.config.replace(**{k: v for k, v in config_changes.items() if v is not None})
    if preset.label_mapping and config_changes.get("label_mapping") is None:
        config = config.replace(label_mapping=preset.label_mapping)
    classes = (
        transformed_dataset(dataset, config.replace(limit_train=0)).num_classes
        if config.label_mapping
        else dataset.num_classes
    )
    spec = preset.spec_for(dataset.image_shape, classes)
    if learning_rate is not None:
        spec = spec.with_learning_rate(learning_rate)
    return spec, config


def spec_summary(spec_dict: dict) -> str:
    """A one-line architecture description for tables: 'C32k3-P · C64k3-P · D64 → 10'."""
    blocks = []
    for block in spec_dict.get("conv_blocks", []):
        text = f"C{block['filters']}k{block['kernel_size']}"
        if block.get("stride", 1) != 1:
            text += f"s{block['stride']}"
        if block.get("batch_norm", "none") != "none":
            text += "+BN"
        if block.get("pool", "none") != "none":
            text += "-" + ("P" if block["pool"] == "max" else "A")
        blocks.append(text)
    blocks += [f"D{layer['units']}" for layer in spec_dict.get("dense_layers", [])]
    return " · ".join(blocks) + f" → {spec_dict.get('num_classes')}"

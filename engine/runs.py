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
from collections import Counter
from collections.abc import Callable, Set
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from engine import telemetry
from engine.architectures.presets import PRESETS, get_preset, model_label, recipe_overrides
from engine.architectures.spec import ModelSpec
from engine.datasets import Dataset
from engine.datasets.label_checks import label_warnings, mapping_warning
from engine.errors import DigitLabError, StoreError
from engine.limits import server_limits
from engine.memory_estimate import estimate_training
from engine.progress import ProgressCallback, ProgressEvent
from engine.store import RunStore, StoredRun, run_key
from engine.store.disk import disk_guard
from engine.training.augmentation import mirror_views_notice
from engine.training.config import TrainConfig
from engine.training.data import transformed_dataset
from engine.training.fit import TrainingResult, records_dynamics, train
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
    notes: tuple[str, ...] = ()  # what the caller should be told about the answer (asked-for records it lacks)


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
    record_dynamics: bool | None = None,
) -> RunResult:
    """Return the stored run for (dataset, spec, config), training and storing it first when absent.

    Concurrent callers with one key train once: the store's file lock makes the others wait and read it.
    `record_dynamics` (None: by the training set's size, `records_dynamics`) is not part of the run key: the
    weights and scores are the same either way, so a stored run is answered as it is, with a note when it lacks
    the dynamics asked for.
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
            trained["result"] = result = train(dataset, spec, config, progress, record_dynamics=record_dynamics)
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
    return RunResult(run, cached, time.perf_counter() - started, notes=_dynamics_notes(run, record_dynamics))


def dynamics_by_default(dataset: Dataset, config: TrainConfig) -> bool:
    """Whether a training of `config` on `dataset` records its training dynamics unless told (`records_dynamics`:
    up to 10,000 training rows before the validation split; a training-set limit counts, label merging not)."""
    rows = len(dataset.x_train)
    if config.limit_train:
        rows = min(rows, config.limit_train)
    return records_dynamics(None, rows)


def has_dynamics(run: StoredRun) -> bool:
    """Whether the run recorded its training dynamics (`OPTIONAL_RUN_FILES`)."""
    return set(OPTIONAL_RUN_FILES) <= set(run.files())


def _dynamics_notes(run: StoredRun, record_dynamics: bool | None) -> tuple[str, ...]:
    if not record_dynamics or has_dynamics(run):
        return ()
    return (
        f"Run {run.run_id} was already stored without training dynamics, and recording them is not part of what a "
        "run is, so the stored run was answered as it is. Delete the run and train it again with dynamics on to "
        "record them.",
    )


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
RUN_FILES = ("model.keras", "history.json", "test_probabilities.npy", "test_labels.npy", "epoch_predictions.npy")
# Files a run has only when they were recorded (`engine.training.fit.records_dynamics`): both or neither.
OPTIONAL_RUN_FILES = ("train_dynamics.npy", "train_predictions.npy")


def write_run(
    folder: Path,
    run_id: str,
    dataset: Dataset,
    spec: ModelSpec,
    config: TrainConfig,
    preset: str,
    result: TrainingResult,
) -> dict:
    """Write a finished training's files (`RUN_FILES`, and those of `OPTIONAL_RUN_FILES` it recorded) into `folder`
    and return the run's meta dict.

    Shared by `get_or_train` and the executors' workers (`engine.executors`), so a run trained anywhere is
    stored byte-for-byte the same way.
    """
    folder = Path(folder)
    result.model.save(folder / "model.keras")
    np.save(folder / "test_probabilities.npy", result.test_probabilities, allow_pickle=False)
    np.save(folder / "test_labels.npy", result.test_labels, allow_pickle=False)
    predictions = result.epoch_predictions
    if predictions is None:  # no epoch finished (a run of zero epochs cannot be asked for; kept well-formed anyway)
        predictions = np.zeros((0, len(result.test_labels)), np.uint8)
    np.save(folder / "epoch_predictions.npy", predictions, allow_pickle=False)
    if result.train_dynamics is not None and result.train_predictions is not None:
        np.save(folder / "train_dynamics.npy", result.train_dynamics, allow_pickle=False)
        np.save(folder / "train_predictions.npy", result.train_predictions, allow_pickle=False)
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
    record_dynamics: bool | None = None,
) -> dict:
    """Train without taking a slot of this machine's training queue and write the run into `folder`.

    For executor workers, whose concurrency is the cluster scheduler's business, not the queue's.
    """
    telemetry.count("trainings")
    result = train(dataset, spec, config, progress, record_dynamics=record_dynamics)
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
    dataset's), a digit class merge on non-digit data, mirror views on a model trained without flips, and classes
    missing from the training or test labels.

    `labels_checked`: the last part as the training already found it (`TrainingResult.label_warnings`), so a
    finished run does not merge and subset the dataset a second time to learn it.
    """
    found = list(dataset.warnings)
    merge = mapping_warning(dataset.class_names, config.label_mapping)
    if merge:
        found.append(merge)
    mirror = mirror_views_notice(config)
    if mirror:
        found.append(mirror)
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


# ------------------------------------------------------------------------------------------------ run labels
# Every list of runs (Home's table, Compare's choices and charts, the pickers on Explain and Robustness, `digit-lab
# runs --json`) names a run with `run_label`/`labels_of`, so no two rows read alike: a fold says which fold, a run
# that differs from its preset (a sweep trial, a changed recipe) says how, a custom model shows its layers.

# Spec fields a label names in words; any other changed field is named by its path ("conv1.filters").
_SPEC_FIELD_NAMES = {"learning_rate": "learning rate", "batch_norm_momentum": "BN momentum"}
# Never a distinguishing setting: they say which data the run saw (named by the dataset and fold) or are derived.
_NOT_SETTINGS = {"input_shape", "num_classes", "cv_folds", "cv_fold"}


def _part(meta: dict, name: str) -> dict:
    """A dict-valued part of stored meta ("spec", "config"); {} when missing or not a dict (meta is untrusted)."""
    found = meta.get(name)
    return found if isinstance(found, dict) else {}


def _flat_spec(spec: dict) -> dict[str, object]:
    """A stored spec as {path: value}: top-level scalars by name, layer fields as 'conv1.filters', 'dense2.units'."""
    flat: dict[str, object] = {}
    for key, value in spec.items():
        if key in ("conv_blocks", "dense_layers"):
            prefix = "conv" if key == "conv_blocks" else "dense"
            layers = value if isinstance(value, list | tuple) else []
            flat[f"{prefix} layers"] = len(layers)
            for number, layer in enumerate(layers, 1):
                if isinstance(layer, dict):
                    flat.update({f"{prefix}{number}.{field}": v for field, v in layer.items()})
        elif key not in _NOT_SETTINGS and not isinstance(value, dict | list | tuple):
            flat[key] = value
    return flat


def run_settings(meta: dict) -> dict[str, object]:
    """What a run was trained with, flattened for comparison: the spec's fields ('learning_rate', 'conv1.filters')
    and the config's ('batch_size', 'seed'), without the fold fields (a label says 'fold 2/5' instead)."""
    spec = _part(meta, "spec")
    config = _part(meta, "config")
    settings = _flat_spec(spec)
    for key, value in config.items():
        if key not in _NOT_SETTINGS and not isinstance(value, dict | list):
            settings.setdefault(key, value)
    return settings


def _describe(name: str, value: object) -> str:
    if isinstance(value, bool):
        shown = "on" if value else "off"
    elif isinstance(value, float):
        shown = f"{value:g}"
    else:
        shown = str(value)
    return f"{_SPEC_FIELD_NAMES.get(name, name.replace('_', ' '))} {shown}"


def _spec_changes(meta: dict) -> list[str]:
    """How a preset run's architecture differs from its preset's, sized for the run's data: what a sweep trial
    changed (learning rate, filters, dropout). Empty for a custom run or one whose preset is unknown here."""
    preset = PRESETS.get(str(meta.get("preset") or ""))
    spec = meta.get("spec")
    shape = meta.get("dataset", {}).get("image_shape")
    if preset is None or not isinstance(spec, dict) or not isinstance(shape, list) or len(shape) != 3:
        return []
    try:
        base = _flat_spec(preset.spec_for(tuple(shape), spec["num_classes"]).to_dict())
    except (DigitLabError, TypeError, ValueError, KeyError):
        return []
    mine = _flat_spec(spec)
    if mine.get("conv layers") != base.get("conv layers") or mine.get("dense layers") != base.get("dense layers"):
        return [f"layers {spec_summary(spec)}"]
    return [_describe(key, value) for key, value in mine.items() if key in base and base[key] != value]


def _fold(meta: dict) -> str:
    config = _part(meta, "config")
    folds, fold = config.get("cv_folds"), config.get("cv_fold", 0)
    if isinstance(folds, int) and not isinstance(folds, bool) and folds > 0 and isinstance(fold, int):
        return f"fold {fold + 1}/{folds}"  # cv_fold counts from 0, as scikit-learn's splits do
    return ""


def run_label(run: StoredRun, *, dataset: bool = True) -> str:
    """A run's name from its own meta: 'seed001-cnn3 + epochs 20, learning rate 0.003 · fold 2/5 · mnist'; a custom
    model shows its layers ('custom C32k3-P · D64 → 10 · digits'). Lists use `labels_of`, which also tells apart
    runs this leaves alike. `dataset=False` leaves the dataset's name out, for a page that shows it beside."""
    meta = run.meta
    name = str(meta.get("preset") or "")
    preset = PRESETS.get(name)
    spec = _part(meta, "spec")
    if not name:
        model = f"custom {spec_summary(spec)}"
    elif preset is None:
        model = name  # a preset this version no longer has: its stored name is all there is
    else:
        config = _part(meta, "config")
        overrides = recipe_overrides(preset, config)
        if _fold(meta):  # a fold validates on its held-out part, so the split is zeroed by design, not changed
            overrides = tuple(o for o in overrides if o.setting != "validation_split")
        model = model_label(name, overrides)
        changes = _spec_changes(meta)
        if changes:
            model += (", " if " + " in model else " + ") + ", ".join(changes)
    data_name = str(meta.get("dataset", {}).get("name", "")) if dataset else ""
    return " · ".join(part for part in (model, _fold(meta), data_name) if part)


def labels_of(runs: list[StoredRun]) -> dict[str, str]:
    """{run_id: label} for a list, every label different: runs `run_label` names alike get the settings in which
    they differ ('batch size 32' / 'batch size 64'), and runs alike in every setting (other library versions,
    another copy of a dataset) their short run id."""
    labels = {run.run_id: run_label(run) for run in runs}
    groups: dict[str, list[StoredRun]] = {}
    for run in runs:
        groups.setdefault(labels[run.run_id], []).append(run)
    for label, group in groups.items():
        if len(group) < 2:
            continue
        settings = [run_settings(run.meta) for run in group]
        keys = list(dict.fromkeys(key for found in settings for key in found))
        differing = [key for key in keys if len({repr(found.get(key)) for found in settings}) > 1]
        told = {
            run.run_id: f"{label} · " + ", ".join(_describe(key, found.get(key)) for key in differing)
            for run, found in zip(group, settings, strict=True)
        }
        counts = Counter(told.values())
        alike = [run.run_id for run in group if not differing or counts[told[run.run_id]] > 1]
        for run in group:
            labels[run.run_id] = told[run.run_id] if run.run_id not in alike else label
        width = _distinct_prefix(alike)
        for run_id in alike:
            labels[run_id] = f"{label} · run {run_id[:width]}"
    return labels


def _distinct_prefix(run_ids: list[str], shortest: int = 6) -> int:
    """The fewest leading characters (at least `shortest`) that tell these run ids apart."""
    width = shortest
    while width < max((len(run_id) for run_id in run_ids), default=0) and len({r[:width] for r in run_ids}) < len(
        run_ids
    ):
        width += 1
    return width

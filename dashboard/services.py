"""The dashboard's door to the engine: cached, shared across sessions, and counted.

`st.cache_resource` keeps one copy of each dataset, loaded model and evaluation for the whole server, so a
class of students opening the same link shares them instead of copying them per session.
"""

from __future__ import annotations

import logging

import streamlit as st

from engine import telemetry
from engine.datasets import Dataset, load_dataset, parse_label_mapping
from engine.errors import DigitLabError, StoreError
from engine.limits import hosted_mode
from engine.runs import find_run, mark_shown, unstored_run
from engine.store import RunStore, StoredRun, is_run_id

log = logging.getLogger("digitlab.dashboard")


@st.cache_resource(show_spinner="Loading dataset…", max_entries=6)
def dataset(name: str) -> Dataset:
    telemetry.count("dataset_loads")
    return load_dataset(name)


@st.cache_resource(show_spinner=False, max_entries=32)
def class_count(_dataset: Dataset, label_mapping: str, fingerprint: str | None = None) -> int:
    if not label_mapping:
        return _dataset.num_classes
    return len(parse_label_mapping(label_mapping, _dataset.num_classes).groups)


def store() -> RunStore:
    return RunStore()


def run(run_id: str | None) -> StoredRun | None:
    """The stored run, verified; None for a missing, corrupt or malformed id (never raises)."""
    if not run_id or not is_run_id(run_id):
        return None

    mark_shown(run_id)
    return store().get(run_id) or unstored_run(run_id)


def stored_copy(found: StoredRun) -> str:
    """Which stored copy of a run this is, for the caches below: its manifest's digest. A run deleted and trained
    again under the same id has other files and so another digest (a folder's inode is no such mark: the file
    system hands a freed inode to the next folder, which a test run showed)."""
    try:
        return found.digest()
    except (OSError, StoreError):
        return ""


# The per-run caches below are keyed by the run id and its stored copy, and are reached only through a store
# lookup: a deleted run is never served from them, and a run trained again is loaded again. Pages' own per-run
# caches take the same `copy` argument.


def model(run_id: str):
    found = run(run_id)
    return None if found is None else _model(run_id, stored_copy(found), found)


@st.cache_resource(show_spinner="Loading model…", max_entries=8)
def _model(run_id: str, copy: str, _found: StoredRun):
    telemetry.count("model_loads")
    return _found.load_model()


def evaluation(run_id: str):
    """Metrics from the run's stored test probabilities (no retraining, no model load)."""
    found = run(run_id)
    return None if found is None else _evaluation(run_id, stored_copy(found), found)


@st.cache_resource(show_spinner="Scoring the test set…", max_entries=32)
def _evaluation(run_id: str, copy: str, _found: StoredRun):
    # Deferred: engine.evaluation loads pandas; Home's first render scores nothing.
    from engine.evaluation import evaluate

    telemetry.count("evaluations")
    return evaluate(_found.test_labels(), _found.test_probabilities(), _found.meta["class_names"])


def history(run_id: str) -> dict | None:
    found = run(run_id)
    return None if found is None else _history(run_id, stored_copy(found), found)


@st.cache_resource(show_spinner=False, max_entries=32)
def _history(run_id: str, copy: str, _found: StoredRun) -> dict:
    return _found.history()


def find_current_run(selection) -> StoredRun | None:
    """The stored run for the sidebar's dataset + model + settings, if it has been trained."""
    if not selection.ready:
        return None

    return find_run(selection.dataset, selection.spec, selection.config, store())


def hosted() -> bool:
    """Whether this server runs in hosted mode (`DIGIT_LAB_HOSTED=1`, read by `engine.limits.hosted_mode`), where
    pages hide destructive controls such as deleting a run."""
    return hosted_mode()


def epoch_confusion(run_id: str, epoch: int):
    """The run's test-set confusion matrix after `epoch`, from its stored per-epoch predictions (no model load)."""
    found = run(run_id)
    return None if found is None else _epoch_confusion(run_id, stored_copy(found), epoch, found)


@st.cache_resource(show_spinner=False, max_entries=64)
def _epoch_confusion(run_id: str, copy: str, epoch: int, _found: StoredRun):
    from engine.probes.epochs import epoch_confusion  # deferred: engine.evaluation loads pandas

    return epoch_confusion(_found, epoch)


def training_dynamics(run_id: str):
    """The run's training-dynamics map (`engine.probes.dynamics`), or None for a missing run; raises `NotRecorded`
    for a run trained without them."""
    found = run(run_id)
    return None if found is None else _training_dynamics(run_id, stored_copy(found), found)


@st.cache_resource(show_spinner="Reading the training dynamics…", max_entries=8)
def _training_dynamics(run_id: str, copy: str, _found: StoredRun):
    from engine.probes.dynamics import training_dynamics  # deferred: it rebuilds the run's training split

    return training_dynamics(_found, dataset(_found.meta["dataset"]["name"]))


def stored_label_issues(dataset_name: str, preset: str, folds: tuple[int, ...]):
    """(k, result) of the first of `folds` whose label-issue search (no planted noise, the preset's epochs) is
    already stored for `dataset_name` with `preset`, else None. Never trains nor predicts; read afresh on every call,
    since the Data page may store one at any time (a look-up is a few run keys and file reads)."""
    from engine.diagnostics.label_issues import LabelIssuePlan, stored_label_issues  # deferred: the training stack

    data = dataset(dataset_name)
    for k in folds:
        try:
            found = stored_label_issues(LabelIssuePlan(dataset_name, preset, k), dataset=data, store=store())
        except DigitLabError:  # a plan this server refuses (hosted caps): nothing stored to show
            return None
        if found is not None:
            return k, found
    return None

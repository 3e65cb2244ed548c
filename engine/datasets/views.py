"""Dataset views: a base dataset whose test set is cut to a subset of its images, loadable by name in any process.

The one kind today is a challenge's *public view* (`challenge-<id>-public-<base>`): the base dataset's training set
and, as its test set, only the public part of the challenge's hidden split. A student's submission trains and is
stored on it, so every page, report and command that reloads a run's data by the name in its meta (Evaluate,
Inspect, Explain, Compare, the HTML report, the CLI's probes) shows the public part, and nothing else.

A view is not stored as arrays: its record `<cache>/datasets/views/<name>.json` names the base dataset, the split's
private fraction and seed, and the base's fingerprint; loading the name loads the base, checks its fingerprint,
recomputes the split with `public_private_split` (the classroom's split function) and cuts the test set. The record
holds the split seed, which a student is never shown (with it and the public test labels the private images could
be recomputed): it lives in the server's cache beside the classroom's database, and nothing here prints it.

Views are not listed among the datasets (`registry.list_datasets`): they are reached from a run, not chosen.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine import settings
from engine.datasets.dataset import Dataset
from engine.errors import DatasetUnavailable, InvalidTestSplit
from engine.textfiles import load_json_file

VIEWS_FOLDER = "views"
RECORD_VERSION = 1
MAX_RECORD_BYTES = 4096  # a record is five short fields (~200 bytes); anything larger was not written by us
CHALLENGE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
# Plain, short, usable as a file name: the record's path is built from it.
_VIEW_NAME = re.compile(r"challenge-[A-Za-z0-9_-]{1,64}-public-[A-Za-z0-9_-]{1,100}")
_FINGERPRINT = re.compile(r"[0-9a-f]{64}")
_MAX_SEED = 2**32 - 1  # scikit-learn's random_state range
_RECORD_KEYS = frozenset({"version", "base", "private_fraction", "split_seed", "base_fingerprint"})


# ------------------------------------------------------------------------------------------------ cutting


def checked_indices(indices: object, n_test: int) -> np.ndarray:
    """`indices` as int64 test-image indices, if they are a non-empty 1-D list of whole numbers, each in
    0..n_test-1 and none twice; else `InvalidTestSplit` saying which rule failed."""
    array = np.asarray(indices)
    if array.ndim != 1 or array.size == 0:
        raise InvalidTestSplit(f"A test-set cut needs a non-empty list of image indices, got shape {array.shape}.")
    if array.dtype == np.bool_ or not np.issubdtype(array.dtype, np.integer):
        raise InvalidTestSplit(f"Test-image indices must be whole numbers, got {array.dtype}.")
    array = array.astype(np.int64)
    low, high = int(array.min()), int(array.max())
    if low < 0 or high >= n_test:
        bad = low if low < 0 else high
        raise InvalidTestSplit(f"Test-image index {bad} is outside the test set's 0..{n_test - 1}.")
    if np.unique(array).size != array.size:
        values, counts = np.unique(array, return_counts=True)
        raise InvalidTestSplit(f"Test-image index {int(values[counts > 1][0])} is given more than once.")
    return array


def cut_test_set(dataset: Dataset, indices: object, cut_as: str = "") -> Dataset:
    """`dataset` with its test set cut to `indices` (in their order), read-only copies; the training set is the
    same arrays. `InvalidTestSplit` unless the indices are unique, in range and not empty (`checked_indices`).

    `cut_as` names the images kept in the transform line ("challenge c1's public part"); by default the line gives
    only the counts."""
    chosen = checked_indices(indices, len(dataset.y_test))
    x_test, y_test = dataset.x_test[chosen], dataset.y_test[chosen]
    for array in (x_test, y_test):
        array.flags.writeable = False  # shared by every page and training, like the registry's datasets
    shown, total = len(chosen), len(dataset.y_test)
    line = (
        f"test set cut to {cut_as} ({shown}/{total})"
        if cut_as
        else f"test set cut to {shown:,} of its {total:,} images"
    )
    return dataclasses.replace(dataset, x_test=x_test, y_test=y_test, transforms=(*dataset.transforms, line))


# ------------------------------------------------------------------------------------------------ the split


def public_private_split(labels: np.ndarray, private_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The test labels' indices cut, stratified and seeded, into (public, private): sorted int64 arrays, disjoint,
    covering the test set, each holding every class; the same labels, fraction and seed give the same parts.

    `InvalidTestSplit` (with the counts) when the fraction is not strictly between 0 and 1 or a part would lack some
    class. The classroom's `hidden_split` is this function, its refusals said as `InvalidChallenge`."""
    from sklearn.model_selection import StratifiedShuffleSplit  # deferred: importing the datasets stays cheap

    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.size == 0:
        raise InvalidTestSplit(f"A hidden split needs a non-empty list of test labels, got shape {labels.shape}.")
    if not np.issubdtype(labels.dtype, np.integer):
        raise InvalidTestSplit(f"Test labels must be integers to split by class, got {labels.dtype}.")
    fraction = float(private_fraction)
    if not (math.isfinite(fraction) and 0.0 < fraction < 1.0):
        raise InvalidTestSplit(f"private fraction {private_fraction} must lie strictly between 0 and 1.")
    classes, counts = np.unique(labels, return_counts=True)
    smallest = int(counts.min())
    smallest_class = int(classes[int(counts.argmin())])
    if smallest < 2:
        raise InvalidTestSplit(
            f"Class {smallest_class} has {smallest} test image; both the public and the private part need at least "
            "one image of every class, so every class needs at least 2."
        )
    # scikit-learn rounds the private part's size up and the public part's down; say it with the same numbers.
    total = int(labels.size)
    private_size = math.ceil(fraction * total)
    public_size = total - private_size
    for short_part, size in (("private", private_size), ("public", public_size)):
        if size < classes.size:
            raise InvalidTestSplit(
                f"A private fraction of {fraction:g} leaves the {short_part} part {size} of the {total} test images, "
                f"fewer than its {classes.size} classes: every class needs at least one image in each part. "
                "Choose a fraction nearer 0.5."
            )
    splitter = StratifiedShuffleSplit(n_splits=1, test_size=fraction, random_state=seed)
    try:
        public, private = next(splitter.split(np.zeros((total, 1)), labels))
    except ValueError as problem:  # scikit-learn's own refusals, said with our words around them
        raise InvalidTestSplit(f"The test set cannot be split with private fraction {fraction:g}: {problem}") from None
    public, private = np.sort(public).astype(np.int64), np.sort(private).astype(np.int64)
    # Stratification allocates by rounding: a rare class can still land wholly in one part. Refuse, with counts.
    for part_name, part in (("public", public), ("private", private)):
        present = set(np.unique(labels[part]).tolist())
        missing = [int(c) for c in classes if int(c) not in present]
        if missing:
            names = ", ".join(f"class {c} ({int(counts[classes == c][0])} test images)" for c in missing)
            raise InvalidTestSplit(
                f"A private fraction of {fraction:g} leaves the {part_name} part ({part.size} images) with no image "
                f"of {names}. Choose a fraction nearer 0.5 or a test set with more images of those classes."
            )
    return public, private


# ------------------------------------------------------------------------------------------------ public views


def public_view_name(dataset_name: str, challenge_id: str) -> str:
    """The name of challenge `challenge_id`'s public view of `dataset_name`."""
    return f"challenge-{challenge_id}-public-{dataset_name}"


def is_view_name(name: object) -> bool:
    return isinstance(name, str) and _VIEW_NAME.fullmatch(name) is not None


def public_view_of(base: Dataset, public: object, challenge_id: str) -> Dataset:
    """The public view of challenge `challenge_id`: `base` with only the test images `public` (its public part),
    named and described as such. The classroom's submissions and `load_dataset(<view name>)` both build it here, so
    the two are the same arrays (the same fingerprint, the runs' key) and say the same words."""
    if not isinstance(challenge_id, str) or not CHALLENGE_ID.fullmatch(challenge_id):
        raise InvalidTestSplit("A challenge id is 1 to 64 letters, digits, '-' or '_'.")
    cut = cut_test_set(base, public, cut_as=f"challenge {challenge_id}'s public part")
    shown, total = len(cut.y_test), len(base.y_test)
    hidden = (
        f"Public part of challenge {challenge_id}: {shown:,} of {total:,} test images; the rest are hidden until "
        "the challenge closes."
    )
    return dataclasses.replace(
        cut,
        name=public_view_name(base.name, challenge_id),
        provenance=f"{hidden} {base.provenance}",
        identity=f"the public part of {base.name}'s test set ({base.identity or 'identity unknown'})",
        # Said wherever the view is used and stored with every run on it, so a run's test scores read as such.
        warnings=(*base.warnings, hidden),
    )


@dataclass(frozen=True)
class ViewRecord:
    """What `<cache>/datasets/views/<name>.json` holds: enough to rebuild the view from its base, and to refuse base
    data that changed since (their test set would be cut into other images under the same name)."""

    base: str  # the base dataset's registry (or upload) name
    private_fraction: float
    split_seed: int = dataclasses.field(repr=False)  # secret from students: never printed, never in a message
    base_fingerprint: str

    def to_dict(self) -> dict[str, object]:
        return {"version": RECORD_VERSION, **dataclasses.asdict(self)}

    @classmethod
    def from_dict(cls, raw: object) -> ViewRecord:
        """The record, checked field by field: `ValueError` naming the first field that is wrong."""
        if not isinstance(raw, dict) or set(raw) != _RECORD_KEYS:
            raise ValueError(f"a view record holds exactly {', '.join(sorted(_RECORD_KEYS))}")
        if raw["version"] != RECORD_VERSION or type(raw["version"]) is not int:
            raise ValueError(f"version {str(raw['version'])[:20]!r} is not {RECORD_VERSION}")
        base = raw["base"]
        if not isinstance(base, str) or not re.fullmatch(r"[A-Za-z0-9_-]{1,100}", base) or is_view_name(base):
            raise ValueError("its base dataset name is not a dataset's name")
        fraction = raw["private_fraction"]
        if type(fraction) not in (int, float) or not (math.isfinite(fraction) and 0.0 < fraction < 1.0):
            raise ValueError("its private fraction is not a number strictly between 0 and 1")
        seed = raw["split_seed"]
        if type(seed) is not int or not 0 <= seed <= _MAX_SEED:
            raise ValueError(f"its split seed is not a whole number in 0..{_MAX_SEED}")  # the value is never said
        fingerprint = raw["base_fingerprint"]
        if not isinstance(fingerprint, str) or not _FINGERPRINT.fullmatch(fingerprint):
            raise ValueError("its base fingerprint is not 64 hex characters")
        return cls(base, float(fraction), seed, fingerprint)


def views_dir() -> Path:
    return settings.datasets_dir() / VIEWS_FOLDER


def record_path(name: str) -> Path:
    if not is_view_name(name):
        raise DatasetUnavailable(f"{str(name)[:80]!r} is not a dataset view's name (challenge-<id>-public-<dataset>).")
    return views_dir() / f"{name}.json"


def record_for(base: Dataset, private_fraction: float, split_seed: int) -> ViewRecord:
    """The record of a public view of `base` (checked as a read record is: what is written can be read back)."""
    record = ViewRecord(base.name, float(private_fraction), int(split_seed), base.fingerprint)
    return ViewRecord.from_dict(record.to_dict())


def read_record(name: str) -> ViewRecord:
    """The checked record of view `name`: `DatasetUnavailable` when there is none, or it is not a plain small file,
    or it fails its checks (each said without the seed's value)."""
    path = record_path(name)
    try:
        raw = load_json_file(path, max_bytes=MAX_RECORD_BYTES)
    except FileNotFoundError:
        raise DatasetUnavailable(
            f"No dataset view {name} is kept on this server (its record is not in {views_dir()}): a challenge's "
            "public view can be opened only on the server that runs the challenge."
        ) from None
    except OSError as problem:  # a FIFO, a link, a device or an oversized file put in its place
        raise DatasetUnavailable(
            f"The record of dataset view {name} cannot be used: it {getattr(problem, 'strerror', None) or problem}."
        ) from None
    except ValueError as problem:
        raise DatasetUnavailable(f"The record of dataset view {name} is not valid JSON ({problem}).") from None
    try:
        record = ViewRecord.from_dict(raw)
    except ValueError as problem:
        raise DatasetUnavailable(f"The record of dataset view {name} is damaged: {problem}.") from None
    challenge_id = _challenge_of(name, record.base)
    if challenge_id is None:
        raise DatasetUnavailable(f"The record of dataset view {name} names another base dataset ({record.base}).")
    return record


def _challenge_of(name: str, base: str) -> str | None:
    """The challenge id in view `name` when it is `base`'s view, else None."""
    prefix, suffix = "challenge-", f"-public-{base}"
    if not (name.startswith(prefix) and name.endswith(suffix)):
        return None
    challenge_id = name[len(prefix) : len(name) - len(suffix)]
    return challenge_id if CHALLENGE_ID.fullmatch(challenge_id) else None


def view_status(name: str) -> tuple[bool, str]:
    """Whether view `name` has a usable record, from the record alone (nothing is loaded)."""
    try:
        record = read_record(name)
    except DatasetUnavailable as problem:
        return False, str(problem)
    return True, f"the public part of {record.base}'s test set, from its record in {views_dir()}"


def load_view(name: str, load_base: Callable[[str], Dataset]) -> Dataset:
    """The view `name`, rebuilt from its record: the base loaded with `load_base` (the registry's `load_dataset`),
    its fingerprint checked against the record's, the public part recomputed with the recorded fraction and seed."""
    return _rebuilt(name, read_record(name), load_base)


def view_from_record(name: str, raw: object, load_base: Callable[[str], Dataset]) -> Dataset:
    """The view `name` rebuilt from a record carried with a task (`engine.executors.RunTask.view`) instead of the
    one in this machine's cache: a job driver or a Ray worker on another machine has none. The record is untrusted
    and checked as a read one is; `DatasetUnavailable` when it is damaged or names another base."""
    try:
        record = ViewRecord.from_dict(raw)
    except ValueError as problem:
        raise DatasetUnavailable(
            f"The record carried for dataset view {str(name)[:120]} is damaged: {problem}."
        ) from None
    if not is_view_name(name) or _challenge_of(name, record.base) is None:
        raise DatasetUnavailable(f"The record carried for dataset view {str(name)[:120]} names another base dataset.")
    return _rebuilt(name, record, load_base)


def _rebuilt(name: str, record: ViewRecord, load_base: Callable[[str], Dataset]) -> Dataset:
    challenge_id = _challenge_of(name, record.base)
    assert challenge_id is not None  # both callers checked it
    base = load_base(record.base)
    if base.fingerprint != record.base_fingerprint:
        raise DatasetUnavailable(
            f"The {record.base} data on this machine (fingerprint {base.fingerprint[:12]}) differ from the data "
            f"challenge {challenge_id} was made on ({record.base_fingerprint[:12]}): its public part cannot be cut "
            "from them."
        )
    try:
        public, _ = public_private_split(base.y_test, record.private_fraction, record.split_seed)
    except InvalidTestSplit as problem:
        raise DatasetUnavailable(f"Dataset view {name} cannot be rebuilt: {problem}") from None
    return public_view_of(base, public, challenge_id)

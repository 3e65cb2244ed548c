"""Views: a registry dataset with its test split cut to a part, rebuilt the same way in every process.

A classroom challenge's submissions train on the *public view* of its dataset (the test split cut to the public
part of the hidden split, `engine.classroom.scoring.public_view`). A run keyed on a view travels to a job driver or
a Ray worker as plain data (`engine.executors.RunTask.view`): the registry name and a view dict, from which the
other process rebuilds the very same `Dataset` here, and whose fingerprint it checks before anything trains.

    view = challenge_public_view(load_dataset("digits"), public_indices, "c1")
    again = dataset_view(load_dataset("digits"), view_dict(view_kind, ...))  # same fingerprint
"""

from __future__ import annotations

import dataclasses
import re

import numpy as np

from engine.datasets.dataset import Dataset
from engine.errors import DigitLabError

CHALLENGE_PUBLIC = "challenge-public"  # the one kind of view there is so far
VIEW_KINDS = (CHALLENGE_PUBLIC,)
# A challenge id names the view's dataset (stored in run meta, shown on pages): plain, short, no separators.
CHALLENGE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


class InvalidView(DigitLabError):
    """A view description (from a job file or a task) is malformed or does not fit its dataset."""


def public_view_name(dataset_name: str, challenge_id: str) -> str:
    """The view's dataset name. It names no registry dataset (nor an upload: it does not start with "upload-"), so a
    page or notebook that reloads a run's data by name is refused rather than handed the full test set."""
    return f"challenge-{challenge_id}-public-{dataset_name}"


def challenge_public_view(dataset: Dataset, public: np.ndarray, challenge_id: str) -> Dataset:
    """`dataset` with as test split only the images at `public` (in that order), named and described as challenge
    `challenge_id`'s public part. The caller checks that `public` is one part of a split of the test set."""
    x_test, y_test = dataset.x_test[public], dataset.y_test[public]
    for array in (x_test, y_test):
        array.flags.writeable = False  # shared by every page and training, like the registry's datasets
    shown, total = len(public), len(dataset.y_test)
    hidden = (
        f"Public part of challenge {challenge_id}: {shown:,} of {total:,} test images; the rest are hidden until "
        "the challenge closes."
    )
    return dataclasses.replace(
        dataset,
        name=public_view_name(dataset.name, challenge_id),
        x_test=x_test,
        y_test=y_test,
        provenance=f"{hidden} {dataset.provenance}",
        transforms=(*dataset.transforms, f"test set cut to challenge {challenge_id}'s public part ({shown}/{total})"),
        identity=f"the public part of {dataset.name}'s test set ({dataset.identity or 'identity unknown'})",
        # Said wherever the view is used and stored with every run on it, so a run's test scores read as such.
        warnings=(*dataset.warnings, hidden),
    )


def challenge_view_dict(challenge_id: str, public: np.ndarray) -> dict:
    """The plain-data description of a challenge's public view, for a task that leaves this process."""
    return {"kind": CHALLENGE_PUBLIC, "challenge_id": challenge_id, "public": [int(i) for i in public]}


def dataset_view(dataset: Dataset, view: object) -> Dataset:
    """The view `view` (a dict from `challenge_view_dict`, untrusted) of `dataset`; `InvalidView` when it is
    malformed or its indices are not distinct test images of `dataset`."""
    if not isinstance(view, dict) or view.get("kind") not in VIEW_KINDS:
        raise InvalidView(f"Unknown dataset view; expected a dict with kind {' or '.join(VIEW_KINDS)}.")
    challenge_id = view.get("challenge_id")
    if not isinstance(challenge_id, str) or not CHALLENGE_ID.fullmatch(challenge_id):
        raise InvalidView("A challenge view's id is 1 to 64 letters, digits, '-' or '_'.")
    public = view.get("public")
    n_test = len(dataset.y_test)
    if (
        not isinstance(public, list)
        or not 0 < len(public) < n_test
        or any(type(i) is not int or not 0 <= i < n_test for i in public)
        or len(set(public)) != len(public)
    ):
        raise InvalidView(f"A challenge view's public part must be distinct indices of {dataset.name}'s test images.")
    return challenge_public_view(dataset, np.asarray(public, dtype=np.int64), challenge_id)

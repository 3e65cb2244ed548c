"""Dataset views: a base dataset with its test set cut, loadable by name (`challenge-<id>-public-<base>`) from
its record.

Oracles: NumPy's own fancy indexing for the cut, scikit-learn's `StratifiedShuffleSplit` called here for which images
a challenge's public part holds. A record that is tampered with, oversized, or made for other base data is refused,
and its refusal never says the split seed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import numpy as np
import pytest
from sklearn.model_selection import StratifiedShuffleSplit

from engine.datasets import cut_test_set, dataset_status, list_datasets, load_dataset, views
from engine.errors import DatasetUnavailable, InvalidTestSplit
from engine.store.disk import write_json_atomically

ROOT = Path(__file__).resolve().parents[2]
SEED = 918273645  # distinctive, so a message that leaked it would be found
FRACTION = 0.4


def sklearn_public(labels: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """The public indices as scikit-learn's stratified split gives them (the private part is its test side)."""
    splitter = StratifiedShuffleSplit(n_splits=1, test_size=fraction, random_state=seed)
    public, _ = next(splitter.split(np.zeros((len(labels), 1)), labels))
    return np.sort(public)


def new_view_name(base: str = "digits") -> str:
    return views.public_view_name(base, uuid.uuid4().hex[:12])


def write_record(name: str, **changes: object) -> Path:
    base = load_dataset("digits")
    record = {**views.record_for(base, FRACTION, SEED).to_dict(), **changes}
    path = views.record_path(name)
    write_json_atomically(path, record)
    return path


# ------------------------------------------------------------------------------------------------ cut_test_set


def test_a_cut_is_numpys_fancy_indexing_of_the_test_set_and_keeps_the_training_set():
    digits = load_dataset("digits")
    chosen = np.random.default_rng(3).permutation(len(digits.y_test))[:50]
    cut = cut_test_set(digits, chosen.tolist())
    np.testing.assert_array_equal(cut.x_test, digits.x_test[chosen])
    np.testing.assert_array_equal(cut.y_test, digits.y_test[chosen])
    assert cut.x_train is digits.x_train and cut.y_train is digits.y_train
    assert not cut.x_test.flags.writeable and not cut.y_test.flags.writeable
    assert cut.fingerprint != digits.fingerprint  # keyed apart in the run store


@pytest.mark.parametrize(
    ("indices", "said"),
    [
        ([], "non-empty"),
        ([[0, 1]], "non-empty"),
        ([0, 5, 5], "more than once"),
        ([0, 360], "outside the test set's 0..359"),
        ([-1, 2], "outside"),
        ([0.0, 1.0], "whole numbers"),
        ([True, False], "whole numbers"),
    ],
)
def test_a_cut_with_repeated_out_of_range_or_no_indices_is_refused(indices, said):
    digits = load_dataset("digits")
    assert len(digits.y_test) == 360  # the message's range assumes digits' test split
    with pytest.raises(InvalidTestSplit, match=said):
        cut_test_set(digits, indices)


# ------------------------------------------------------------------------------------------------ loading by name


def test_a_view_loads_by_name_as_the_public_part_scikit_learn_computes():
    name = new_view_name()
    write_record(name)
    digits = load_dataset("digits")
    public = sklearn_public(digits.y_test, FRACTION, SEED)
    view = load_dataset(name)
    assert view.name == name and len(view.y_test) == len(public) < len(digits.y_test)
    np.testing.assert_array_equal(view.x_test, digits.x_test[public])
    np.testing.assert_array_equal(view.y_test, digits.y_test[public])
    np.testing.assert_array_equal(view.x_train, digits.x_train)
    assert dataset_status(name)[0] is True
    assert str(SEED) not in json.dumps(view.summary()) + dataset_status(name)[1]


def test_views_are_not_listed_among_the_datasets():
    name = new_view_name()
    write_record(name)
    load_dataset(name)
    assert name not in {info.name for info in list_datasets()}
    assert not any(info.name.startswith("challenge-") for info in list_datasets())


def test_a_view_without_a_record_is_unavailable_and_says_where_it_looked():
    name = new_view_name()
    with pytest.raises(DatasetUnavailable, match="its record is not in"):
        load_dataset(name)
    assert dataset_status(name)[0] is False


def test_a_view_of_changed_base_data_is_refused():
    name = new_view_name()
    write_record(name, base_fingerprint="0" * 64)
    with pytest.raises(DatasetUnavailable, match="differ from the data challenge") as refused:
        load_dataset(name)
    assert str(SEED) not in str(refused.value)


@pytest.mark.parametrize(
    ("changes", "said"),
    [
        ({"split_seed": -1}, "split seed"),
        ({"split_seed": 2**40}, "split seed"),
        ({"split_seed": 1.5}, "split seed"),
        ({"private_fraction": 1.0}, "private fraction"),
        ({"private_fraction": "0.5"}, "private fraction"),
        ({"base_fingerprint": "abc"}, "fingerprint"),
        ({"base": "../digits"}, "base dataset"),
        ({"base": "mnist"}, "names another base"),  # a record under a digits view's name that names MNIST
        ({"version": 2}, "version"),
        ({"extra": 1}, "holds exactly"),
    ],
)
def test_a_tampered_record_is_refused_without_saying_the_seed(changes, said):
    name = new_view_name()
    write_record(name, **changes)
    with pytest.raises(DatasetUnavailable, match=said) as refused:
        load_dataset(name)
    assert str(SEED) not in str(refused.value)
    assert dataset_status(name)[0] is False


def test_an_oversized_or_non_json_or_linked_record_is_refused(tmp_path):
    oversized, garbage, linked = new_view_name(), new_view_name(), new_view_name()
    path = write_record(oversized)
    record = json.loads(path.read_text())
    path.write_text(json.dumps(record) + " " * views.MAX_RECORD_BYTES)  # valid JSON, over the 4 KB cap
    with pytest.raises(DatasetUnavailable, match="cannot be used"):
        load_dataset(oversized)
    views.record_path(garbage).write_text("{not json")
    with pytest.raises(DatasetUnavailable, match="not valid JSON"):
        load_dataset(garbage)
    elsewhere = tmp_path / "elsewhere.json"
    elsewhere.write_text(json.dumps(record))
    os.symlink(elsewhere, views.record_path(linked))  # a link planted in the cache is never followed
    with pytest.raises(DatasetUnavailable, match="cannot be used"):
        load_dataset(linked)


@pytest.mark.parametrize("name", ["challenge-../x-public-digits", "challenge--public-digits", "challenge-a-public-"])
def test_a_name_that_is_no_views_name_names_no_file(name):
    with pytest.raises(DatasetUnavailable, match="unknown dataset"):
        load_dataset(name)


def test_a_view_takes_no_local_path():
    name = new_view_name()
    write_record(name)
    with pytest.raises(DatasetUnavailable, match="takes no local path"):
        load_dataset(name, local_path=str(ROOT))


@pytest.mark.slow
def test_the_name_loads_in_a_fresh_process(isolated_cache):
    name = new_view_name()
    write_record(name)
    digits = load_dataset("digits")
    public = sklearn_public(digits.y_test, FRACTION, SEED)
    expected = cut_test_set(digits, public).fingerprint
    code = (
        "import json, sys\n"
        "from engine.datasets import load_dataset\n"
        "view = load_dataset(sys.argv[1])\n"
        "print(json.dumps({'n_test': len(view.y_test), 'fingerprint': view.fingerprint}))\n"
    )
    env = {**os.environ, "DIGIT_LAB_CACHE": str(isolated_cache), "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", code, name], env=env, cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    assert answer == {"n_test": len(public), "fingerprint": expected}

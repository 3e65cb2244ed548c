"""Planted label noise: the exact count flipped, every flip a different class, deterministic per seed, the test part
and the original dataset untouched, a new name and fingerprint; bad fractions and seeds refused."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine.datasets import Dataset, load_dataset
from engine.datasets.noise import NoiseSpec, parse_noisy_name, plant_label_noise
from engine.errors import DatasetUnavailable, InvalidConfig


def _toy(n: int = 2_000, classes: int = 4) -> Dataset:
    rng = np.random.default_rng(7)
    return Dataset(
        name="toy",
        x_train=rng.integers(0, 16, size=(n, 4, 4, 1)).astype(np.uint8),
        y_train=np.arange(n, dtype=np.int64) % classes,
        x_test=rng.integers(0, 16, size=(50, 4, 4, 1)).astype(np.uint8),
        y_test=np.arange(50, dtype=np.int64) % classes,
        class_names=tuple(str(c) for c in range(classes)),
        value_max=16,
        source="test",
        provenance="built in the test",
    )


@pytest.mark.parametrize("fraction", [0.0, 0.01, 0.05, 0.123, 0.5])
def test_exactly_the_rounded_share_is_flipped_and_each_to_another_class(fraction):
    digits = load_dataset("digits")
    noisy = plant_label_noise(digits, NoiseSpec(fraction, seed=3))
    changed = np.flatnonzero(noisy.dataset.y_train != digits.y_train)
    assert len(changed) == round(fraction * len(digits.y_train)) == noisy.n_flipped
    assert np.array_equal(changed, noisy.flipped)  # the rows it reports are exactly the rows that changed
    assert np.array_equal(noisy.original, digits.y_train[changed])
    assert np.all(noisy.dataset.y_train[changed] != digits.y_train[changed])
    assert set(np.unique(noisy.dataset.y_train)) <= set(range(digits.num_classes))


def test_test_part_images_and_source_are_untouched():
    digits = load_dataset("digits")
    before = digits.y_train.copy()
    noisy = plant_label_noise(digits, NoiseSpec(0.2, seed=1)).dataset
    assert np.array_equal(noisy.y_test, digits.y_test) and np.array_equal(noisy.x_test, digits.x_test)
    assert np.array_equal(noisy.x_train, digits.x_train)
    assert np.array_equal(digits.y_train, before)  # the shared, loaded dataset is not edited in place
    assert not noisy.y_train.flags.writeable


def test_same_seed_same_flips_other_seed_other_flips():
    digits = load_dataset("digits")
    first, again = (plant_label_noise(digits, NoiseSpec(0.05, seed=11)) for _ in range(2))
    assert np.array_equal(first.flipped, again.flipped)
    assert np.array_equal(first.dataset.y_train, again.dataset.y_train)
    other = plant_label_noise(digits, NoiseSpec(0.05, seed=12))
    assert not np.array_equal(first.flipped, other.flipped)


def test_name_and_fingerprint_change_so_runs_are_stored_apart():
    digits = load_dataset("digits")
    noisy = plant_label_noise(digits, NoiseSpec(0.05, seed=0)).dataset
    assert noisy.name == "noisy-digits-0.05-0"
    assert noisy.fingerprint != digits.fingerprint
    assert plant_label_noise(digits, NoiseSpec(0.05, seed=1)).dataset.fingerprint != noisy.fingerprint


def test_new_classes_are_spread_over_every_other_class():
    """Symmetric noise: from each class, every other class is reached about equally often (a chi-square bound)."""
    toy = _toy(n=20_000, classes=4)
    noisy = plant_label_noise(toy, NoiseSpec(0.5, seed=5))
    old, new = noisy.original, noisy.dataset.y_train[noisy.flipped]
    for c in range(4):
        counts = np.bincount(new[old == c], minlength=4)
        assert counts[c] == 0
        others = np.delete(counts, c)
        expected = others.sum() / 3
        chi2 = float(((others - expected) ** 2 / expected).sum())
        assert chi2 < 13.8  # 2 degrees of freedom, p = 0.001


@pytest.mark.parametrize(
    "fraction, seed",
    [(-0.01, 0), (0.51, 0), (math.nan, 0), (math.inf, 0), (True, 0), ("0.1", 0), (0.1, -1), (0.1, 2**32), (0.1, 1.5)],
)
def test_bad_fraction_or_seed_is_refused(fraction, seed):
    with pytest.raises(InvalidConfig):
        NoiseSpec(fraction, seed)


@pytest.mark.parametrize("fraction, seed", [(0.05, 0), (0.00001, 7), (0.5, 2**32 - 1), (0.07000000000000001, 1)])
def test_a_noisy_dataset_loads_again_from_its_name_alone(fraction, seed):
    """What a fold run's page, a job driver or a Ray worker does: `load_dataset(meta name)` must give the very data
    the runs were keyed with (same fingerprint), whatever the fraction's float."""
    digits = load_dataset("digits")
    planted = plant_label_noise(digits, NoiseSpec(fraction, seed)).dataset
    assert "e" not in planted.name.removeprefix("noisy-digits-")  # no exponent whose "-" would split the name
    assert parse_noisy_name(planted.name) == ("digits", NoiseSpec(fraction, seed))
    loaded = load_dataset(planted.name)
    assert loaded.name == planted.name and loaded.fingerprint == planted.fingerprint


@pytest.mark.parametrize(
    "name",
    [
        "noisy-digits-0.05",
        "noisy--0.05-0",
        "noisy-digits-0.050-0",  # not how the name is written: two names must not give one dataset
        "noisy-digits-0.6-0",
        "noisy-digits-nan-0",
        "noisy-digits-0.05-+1",
        "noisy-digits-0.05-٣",  # a non-ASCII digit
        "noisy-noisy-digits-0.1-0-0.1-1",
        "noisy-digits-0.05-" + "9" * 400,
    ],
)
def test_names_that_only_look_noisy_are_unknown_datasets(name):
    assert parse_noisy_name(name) is None
    with pytest.raises(DatasetUnavailable, match="unknown dataset"):
        load_dataset(name)


def test_noise_on_an_unknown_base_is_refused_naming_the_sources():
    with pytest.raises(DatasetUnavailable, match="choose one of: digits"):
        load_dataset("noisy-nope-0.05-0")

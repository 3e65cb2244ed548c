"""The content fingerprint: equal for equal data whatever the load, different after any pixel change."""

from __future__ import annotations

import dataclasses

from engine.datasets import clear_dataset_cache, load_dataset


def test_fingerprint_is_deterministic_across_loads():
    first = load_dataset("digits")
    clear_dataset_cache()
    second = load_dataset("digits")
    assert second is not first
    assert second.fingerprint == first.fingerprint
    assert len(first.fingerprint) == 64


def test_fingerprint_changes_with_one_pixel_a_label_or_a_name():
    data = load_dataset("digits")
    x_train = data.x_train.copy()
    x_train[100, 3, 4, 0] = (int(x_train[100, 3, 4, 0]) + 1) % 17
    changed_pixel = dataclasses.replace(data, x_train=x_train)
    assert changed_pixel.fingerprint != data.fingerprint
    y_test = data.y_test.copy()
    y_test[0] = (y_test[0] + 1) % 10
    assert dataclasses.replace(data, y_test=y_test).fingerprint != data.fingerprint
    renamed = dataclasses.replace(data, class_names=("zero",) + data.class_names[1:])
    assert renamed.fingerprint != data.fingerprint
    # Where it came from does not matter, only the content.
    assert dataclasses.replace(data, source="elsewhere").fingerprint == data.fingerprint

"""The issue-17 presets `digitlab-sprint28`, its successor `digitlab-sprint28-v2`, fast28's successor
`digitlab-fast28-v2` and its mirror-view successor `digitlab-fast28-v3` (issue 26): each validates, trains a step
on a small Fashion-MNIST subset, and its exported Keras code runs end to end and builds the same model with the same
schedule, label smoothing, flips, mirror views and precision. Accuracy and speed are measured in
bench/time_to_accuracy.py."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine.architectures import PRESETS, layer_table
from engine.datasets import load_dataset
from engine.reports.recipe import to_keras_code
from engine.test_time_views import MEAN_LAYER, MIRROR_LAYER
from engine.training.config import TrainConfig

NEW_PRESETS = ("digitlab-sprint28", "digitlab-sprint28-v2", "digitlab-fast28-v2", "digitlab-fast28-v3")


@pytest.fixture(scope="module")
def fashion():
    return load_dataset("fashion-mnist")  # the real 60k/10k files (Debian's dataset-fashion-mnist)


@pytest.fixture
def small_fashion(fashion, monkeypatch):
    """What `keras.datasets.fashion_mnist.load_data()` returns, from the local files and cut small (no network)."""
    import keras

    rows = np.random.default_rng(0).permutation(len(fashion.x_train))[:600]
    arrays = (
        (fashion.x_train[rows, :, :, 0], fashion.y_train[rows]),
        (fashion.x_test[:200, :, :, 0], fashion.y_test[:200]),
    )
    monkeypatch.setattr(keras.datasets.fashion_mnist, "load_data", lambda: arrays)
    return arrays


@pytest.mark.parametrize("name", NEW_PRESETS)
def test_new_preset_validates_and_trains_a_step_on_a_subset(fashion, name):
    from dataclasses import replace

    from engine.runs import preset_request, run_id_for
    from engine.training.fit import train

    spec, config = preset_request(name, fashion)
    run_id_for(fashion, spec, config)  # validates the preset's own recipe on the full set
    assert config.label_smoothing > 0 and config.lr_schedule == "cosine"
    assert config.warmup_fraction > 0 if "sprint" in name else config.augment_flip
    small = replace(fashion, x_test=fashion.x_test[:256], y_test=fashion.y_test[:256])
    result = train(small, spec, config.replace(epochs=1, limit_train=600))
    assert len(result.history["epochs"]) == 1
    assert np.all(np.isfinite(result.test_probabilities))
    assert result.model.count_params() == sum(row.parameters for row in layer_table(spec))
    assert result.model.loss.get_config()["label_smoothing"] == pytest.approx(config.label_smoothing)


def test_existing_presets_keep_their_recipes():
    # Presets are a contract (links and stored runs name them): fast28 keeps its recipe, without the new settings.
    fast28 = PRESETS["digitlab-fast28"].config
    assert fast28 == TrainConfig(epochs=10, batch_size=128, validation_split=0.1, lr_schedule="cosine")
    # sprint28 landed before its successor: the successor's recipe is new, sprint28's stays as it landed.
    assert PRESETS["digitlab-sprint28"].config == TrainConfig(
        epochs=1, batch_size=64, validation_split=0.1, lr_schedule="cosine", warmup_fraction=0.1, label_smoothing=0.1
    )
    assert [block.filters for block in PRESETS["digitlab-sprint28"].spec.conv_blocks] == [32, 64]
    assert all(
        preset.config.label_smoothing == 0 and preset.config.warmup_fraction == 0
        for name, preset in PRESETS.items()
        if name not in NEW_PRESETS
    )


@pytest.mark.parametrize("name", NEW_PRESETS)
@pytest.mark.parametrize("precision", ["float32", "mixed_bfloat16"])
def test_exported_code_runs_and_reproduces_the_recipe(small_fashion, fashion, name, precision):
    from engine.runs import preset_request
    from engine.training.schedules import learning_rate

    spec, config = preset_request(name, fashion)
    config = config.replace(epochs=1)
    code = to_keras_code(spec, config, "fashion-mnist", precision=precision)
    namespace: dict = {"__name__": "recipe"}
    exec(code.replace("model.summary()", ""), namespace)  # the whole script: data, model, fit, test score

    model = namespace["model"]
    assert model.count_params() == sum(row.parameters for row in layer_table(spec))
    views = [MIRROR_LAYER, MEAN_LAYER] if config.test_time_mirror else []
    assert [layer.name for layer in model.layers if layer.name in (MIRROR_LAYER, MEAN_LAYER)] == views
    assert [layer.name for layer in model.layers if layer.name not in views] == [row.name for row in layer_table(spec)]
    assert model.loss.get_config()["label_smoothing"] == pytest.approx(config.label_smoothing)
    assert {layer.dtype_policy.name for layer in model.layers[:-1]} == {precision}
    assert model.layers[-1].dtype_policy.name == "float32"
    assert 0 <= namespace["test_accuracy"] <= 1

    # The exported schedule equals the engine's at every step of the run.
    steps_per_epoch = math.ceil(len(namespace["x_fit"]) / config.batch_size)
    assert namespace["steps_per_epoch"] == steps_per_epoch
    engine_rate = learning_rate(spec, config, steps_per_epoch)
    for step in range(steps_per_epoch * config.epochs + 2):
        assert float(namespace["learning_rate"](step)) == pytest.approx(float(engine_rate(step)), rel=1e-6), step

"""The exported Keras recipe (`to_keras_code(spec, config, dataset)`): executed as a user would run it, its data,
split and learning-rate schedule equal the engine's step by step, and it trains a digits model to a sensible score."""

from __future__ import annotations

import numpy as np
import pytest

from engine.architectures import PRESETS
from engine.datasets import load_dataset
from engine.reports.recipe import to_keras_code
from engine.training.config import TrainConfig

TRAINING_MARK = "# --- training"


def _run_until_training(code: str) -> dict:
    """Execute the recipe's data and model sections (everything before `fit`); returns its variables."""
    namespace: dict = {"__name__": "recipe"}
    exec(code.split(TRAINING_MARK)[0].replace("model.summary()", ""), namespace)
    return namespace


@pytest.mark.parametrize(
    "changes",
    [
        {"lr_schedule": "one_cycle", "limit_train": 500, "label_mapping": "seed004-4class"},
        {"lr_schedule": "cosine", "validation_split": 0.3, "seed": 7},
        {"lr_schedule": "constant", "validation_split": 0.0, "cv_folds": 3, "cv_fold": 2},
    ],
    ids=["one-cycle-subset-merged", "cosine", "kfold-fold"],
)
def test_recipe_data_split_and_schedule_equal_the_engines(changes):
    import math

    from engine.runs import preset_request
    from engine.training.data import prepare_data
    from engine.training.schedules import learning_rate

    dataset = load_dataset("digits")
    spec, config = preset_request("digitlab-small8", dataset, epochs=3, **changes)
    recipe = _run_until_training(to_keras_code(spec, config, "digits"))
    prepared = prepare_data(dataset, config)

    # The same images and labels in the same order, in each part.
    for ours, theirs, labels, targets in (
        ("x_fit", prepared.x_train, prepared.y_train, "t_fit"),
        ("x_val", prepared.x_val, prepared.y_val, "t_val"),
        ("x_test", prepared.x_test, prepared.y_test, "t_test"),
    ):
        np.testing.assert_array_equal(recipe[ours], theirs)
        if len(labels):
            np.testing.assert_array_equal(recipe[targets].argmax(axis=1), labels)

    # The learning rate at every step of the run, and past its end.
    steps_per_epoch = math.ceil(len(prepared.x_train) / config.batch_size)
    assert recipe["steps_per_epoch"] == steps_per_epoch
    engine_rate = learning_rate(spec, config, steps_per_epoch)
    exported_rate = recipe["learning_rate"]
    for step in range(steps_per_epoch * config.epochs + 3):
        expected = float(engine_rate(step)) if callable(engine_rate) else engine_rate
        got = float(exported_rate(step)) if callable(exported_rate) else exported_rate
        assert got == pytest.approx(expected, rel=1e-6, abs=1e-12), step
    if config.lr_schedule == "one_cycle":
        # An independent check of the shape: lr/25 at step 0, the peak at 30 % of the steps, ~0 at the end.
        total = steps_per_epoch * config.epochs
        assert float(exported_rate(0)) == pytest.approx(spec.learning_rate / 25)
        assert float(exported_rate(int(0.3 * total))) == pytest.approx(spec.learning_rate)
        assert float(exported_rate(total)) < spec.learning_rate / 100

    # The model is the engine's model.
    from engine.architectures import layer_table

    model = recipe["model"]
    assert [layer.name for layer in model.layers] == [row.name for row in layer_table(spec)]
    assert model.count_params() == sum(row.parameters for row in layer_table(spec))


def test_recipe_flips_the_same_images_as_the_engine_in_every_epoch():
    """Left-right flips: the exported pipeline yields the engine's batches, image for image, in two epochs. About
    half the images are mirrored in each epoch, by new coins, each exactly (checked against the unflipped run's
    image reversed by NumPy)."""
    from engine.runs import preset_request
    from engine.training.data import prepare_data
    from engine.training.pipeline import training_pipeline

    dataset = load_dataset("digits")
    spec, config = preset_request("digitlab-small8", dataset, epochs=2, augment_flip=True, seed=3)
    code = to_keras_code(spec, config, "digits")
    namespace: dict = {"__name__": "recipe"}
    exec(code.replace("model.summary()", "").split("callbacks = []")[0], namespace)
    prepared = prepare_data(dataset, config)
    ours = training_pipeline(prepared, spec, config)
    plain = training_pipeline(prepared, spec, config.replace(augment_flip=False))
    flipped_by_epoch = []
    for _epoch in range(2):
        flipped_share: list[bool] = []
        flipped_by_epoch.append(flipped_share)
        pairs = zip(ours, namespace["train_data"], plain, strict=True)
        for (images, labels), (their_images, their_targets), (plain_images, _) in pairs:
            np.testing.assert_array_equal(images.numpy(), their_images.numpy())
            np.testing.assert_array_equal(labels.numpy(), their_targets.numpy())
            for image, unflipped in zip(images.numpy(), plain_images.numpy(), strict=True):
                mirrored = np.array_equal(image, unflipped[:, ::-1]) and not np.array_equal(image, unflipped)
                assert mirrored or np.array_equal(image, unflipped)
                flipped_share.append(mirrored)
        assert 0.4 < np.mean(flipped_share) < 0.6
    assert flipped_by_epoch[0] != flipped_by_epoch[1]  # new coins each epoch


def test_recipe_without_a_config_is_the_model_alone():
    spec = PRESETS["digitlab-small8"].spec
    code = to_keras_code(spec)
    assert "model.compile(" in code and "model.fit(" not in code


def test_recipe_for_every_dataset_and_option_compiles():
    spec = PRESETS["digitlab-small8"].spec
    config = TrainConfig(augmentation=True, early_stopping_patience=2, lr_schedule="one_cycle", limit_train=300)
    for name in ("digits", "uci-optdigits", "mnist", "fashion-mnist"):
        code = to_keras_code(spec, config, name)
        compile(code, f"recipe-{name}", "exec")
        assert "model.fit(" in code and f"BATCH_SIZE = {config.batch_size}" in code
        assert "EarlyStopping(" in code and "RandomRotation(" in code


def test_exported_recipe_trains_digits_to_a_sensible_accuracy(capsys):
    """The whole script, run as is: 8 epochs of the default model with one-cycle and augmentation off."""
    dataset = load_dataset("digits")
    spec = PRESETS["digitlab-small8"].spec.for_data(dataset.image_shape, dataset.num_classes)
    config = PRESETS["digitlab-small8"].config.replace(epochs=8, lr_schedule="one_cycle", early_stopping_patience=3)
    namespace: dict = {"__name__": "recipe"}
    exec(to_keras_code(spec, config, "digits").replace("model.summary()", ""), namespace)
    history = namespace["history"].history
    assert 1 <= len(history["loss"]) <= 8
    assert history["loss"][-1] < history["loss"][0]
    # The digitlab-small8 default reaches ~97 % in 15 epochs; 8 one-cycle epochs comfortably pass 85 %.
    assert namespace["test_accuracy"] > 0.85
    assert "test accuracy" in capsys.readouterr().out

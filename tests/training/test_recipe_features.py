"""The recipe settings added for the fast 28x28 presets: the cosine schedule's warm-up, label smoothing, and their
place in the run key and the validator. Oracles are hand computations, not the code under test."""

from __future__ import annotations

import math
from dataclasses import fields

import numpy as np
import pytest

from engine.architectures import ConvBlock, ModelSpec
from engine.datasets import load_dataset
from engine.errors import InvalidConfig
from engine.training.config import TrainConfig
from engine.validation import validate_request

# The settings a TrainConfig had before label smoothing and the warm-up existed; runs stored then hashed these.
FIELDS_BEFORE = {
    "epochs",
    "batch_size",
    "validation_split",
    "seed",
    "early_stopping_patience",
    "lr_schedule",
    "augmentation",
    "augment_shift",
    "augment_rotation",
    "augment_zoom",
    "limit_train",
    "label_mapping",
    "cv_folds",
    "cv_fold",
}


def test_cosine_warmup_values_at_known_steps():
    from engine.training.schedules import learning_rate

    spec = ModelSpec(learning_rate=0.01)
    config = TrainConfig(epochs=2, lr_schedule="cosine", warmup_fraction=0.2)
    schedule = learning_rate(spec, config, steps_per_epoch=50)  # 100 steps, 20 of them warming up
    start, peak = 0.01 / 25, 0.01
    # By hand: linear from lr/25 to lr over steps 0..20, then half a cosine period from lr to 0 over steps 20..100.
    expected = {
        0: start,
        10: start + (peak - start) * 10 / 20,
        20: peak,
        60: peak * 0.5 * (1 + math.cos(math.pi * 40 / 80)),  # half way down: lr / 2
        80: peak * 0.5 * (1 + math.cos(math.pi * 60 / 80)),
        100: 0.0,
    }
    for step, value in expected.items():
        assert float(schedule(step)) == pytest.approx(value, rel=1e-5, abs=1e-9), step
    assert float(schedule(60)) == pytest.approx(0.005, rel=1e-5)


def test_cosine_without_warmup_is_unchanged():
    from engine.training.schedules import learning_rate

    schedule = learning_rate(ModelSpec(learning_rate=0.01), TrainConfig(epochs=1, lr_schedule="cosine"), 100)
    assert float(schedule(0)) == pytest.approx(0.01)
    assert float(schedule(50)) == pytest.approx(0.005, rel=1e-5)


@pytest.mark.parametrize(
    ("schedule_name", "warmup_fraction", "steps_per_epoch", "epochs"),
    [("cosine", 0.2, 50, 2), ("cosine", 0.05, 37, 3), ("one_cycle", 0.0, 50, 2), ("one_cycle", 0.0, 7, 1)],
)
def test_warmed_cosine_schedules_are_bit_identical_to_their_first_form(
    schedule_name, warmup_fraction, steps_per_epoch, epochs
):
    # The Keras schedules as learning_rate built them before one-cycle and the cosine warm-up shared a helper,
    # written out here: a stored run's optimizer must follow exactly these rates, bit for bit.
    import keras

    from engine.training.schedules import learning_rate

    lr = 0.003
    config = TrainConfig(epochs=epochs, lr_schedule=schedule_name, warmup_fraction=warmup_fraction)
    total = steps_per_epoch * epochs
    warmup = max(1, int(0.3 * total)) if schedule_name == "one_cycle" else int(warmup_fraction * total)
    first_form = keras.optimizers.schedules.CosineDecay(
        lr / 25, decay_steps=max(1, total - warmup), alpha=0.0, warmup_target=lr, warmup_steps=warmup
    )
    schedule = learning_rate(ModelSpec(learning_rate=lr), config, steps_per_epoch)
    assert schedule.get_config() == first_form.get_config()
    for step in range(total + 2):
        assert float(schedule(step)) == float(first_form(step)), step


def test_label_smoothing_loss_on_a_hand_built_case():
    from engine.architectures.build import make_loss

    probabilities = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]], dtype=np.float32)
    onehot = np.array([[1, 0, 0], [0, 1, 0]], dtype=np.float32)
    smoothing = 0.3
    # By hand: targets (1 - s) * onehot + s / 3, cross-entropy -sum(t * log p), mean over the two rows.
    smoothed = (1 - smoothing) * onehot + smoothing / 3
    by_hand = float(np.mean(-(smoothed * np.log(probabilities)).sum(axis=1)))
    loss = make_loss("categorical_crossentropy", smoothing)
    assert float(loss(onehot, probabilities)) == pytest.approx(by_hand, rel=1e-5)
    assert make_loss("categorical_crossentropy", 0.0) == "categorical_crossentropy"


def test_new_settings_at_their_defaults_leave_run_keys_as_before():
    assert {f.name for f in fields(TrainConfig)} - FIELDS_BEFORE == {
        "label_smoothing",
        "warmup_fraction",
        "augment_flip",
        "test_time_mirror",
    }
    assert set(TrainConfig().key_dict()) == FIELDS_BEFORE
    assert TrainConfig().key_dict() == {k: v for k, v in TrainConfig().to_dict().items() if k in FIELDS_BEFORE}
    assert set(TrainConfig(label_smoothing=0.1).key_dict()) == FIELDS_BEFORE | {"label_smoothing"}


def test_new_settings_join_the_run_key():
    from engine.runs import run_id_for

    digits = load_dataset("digits")
    spec = ModelSpec(input_shape=(8, 8, 1), conv_blocks=(ConvBlock(4, padding="same"),))
    base = TrainConfig(epochs=2, lr_schedule="cosine")
    ids = {
        run_id_for(digits, spec, base),
        run_id_for(digits, spec, base.replace(label_smoothing=0.1)),
        run_id_for(digits, spec, base.replace(warmup_fraction=0.1)),
        run_id_for(digits, spec, base.replace(augment_flip=True)),
        run_id_for(digits, spec, base.replace(test_time_mirror=True)),
    }
    assert len(ids) == 5
    # A stored run's meta from before the fields existed parses to the same key.
    old_meta = {k: v for k, v in base.to_dict().items() if k in FIELDS_BEFORE}
    assert run_id_for(digits, spec, TrainConfig.from_dict(old_meta)) == run_id_for(digits, spec, base)


@pytest.mark.parametrize(
    ("changes", "loss", "fragment"),
    [
        ({"label_smoothing": 0.6}, "categorical_crossentropy", "Label smoothing must be in [0, 0.5]"),
        ({"label_smoothing": -0.1}, "categorical_crossentropy", "Label smoothing must be in"),
        ({"label_smoothing": math.nan}, "categorical_crossentropy", "Label smoothing must be in"),
        ({"label_smoothing": 0.1}, "sparse_categorical_crossentropy", "needs the loss categorical_crossentropy"),
        ({"warmup_fraction": 0.7, "lr_schedule": "cosine"}, "categorical_crossentropy", "warm-up fraction must be"),
        ({"warmup_fraction": 0.1, "lr_schedule": "one_cycle"}, "categorical_crossentropy", "its own first 30 %"),
        ({"warmup_fraction": 0.1}, "categorical_crossentropy", "cosine schedule only"),
    ],
)
def test_bad_recipe_settings_are_named(changes, loss, fragment):
    spec = ModelSpec(input_shape=(8, 8, 1), conv_blocks=(ConvBlock(4, padding="same"),), loss=loss)
    with pytest.raises(InvalidConfig, match=fragment.replace("[", r"\[").replace("]", r"\]")):
        validate_request(spec, TrainConfig(**changes), n_train=1000, num_classes=10)


def test_flips_warn_only_for_classes_that_are_digits():
    from engine.training.augmentation import flip_notice

    flipped = TrainConfig(augment_flip=True)
    assert "classes are digits" in flip_notice(flipped, [str(d) for d in range(10)])
    assert flip_notice(flipped, ["T-shirt/top", "Trouser", "Pullover"]) == ""
    assert flip_notice(flipped, ["0/6", "1/7"]) == ""  # merged classes are not plain digits
    assert flip_notice(TrainConfig(), [str(d) for d in range(10)]) == ""

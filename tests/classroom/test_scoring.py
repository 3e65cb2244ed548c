"""A submission's path: the public view a student's run trains on, the locked request, and the scores on both parts.

Oracles: the view's arrays against the split's indices taken by hand; the public score against scikit-learn on the
stored probabilities; the private score against the stored model loaded with Keras here and scored with
scikit-learn; the parameter cap against a model whose parameters are counted by hand.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import accuracy_score
from sklearn.metrics import confusion_matrix as sk_confusion
from sklearn.model_selection import train_test_split

from engine import telemetry
from engine.architectures import ConvBlock, DenseLayer, ModelSpec
from engine.classroom.scoring import (
    SubmissionRequest,
    build_locked_request,
    locked_request,
    private_part,
    public_view,
    score_submission,
)
from engine.classroom.spec import ChallengeLimits, ChallengeSpec, InvalidChallenge
from engine.datasets import load_dataset
from engine.errors import InvalidConfig
from engine.runs import run_id_for
from engine.store import RunStore


@dataclass(frozen=True)
class StandInSplit:
    """Shaped like `engine.classroom.split.HiddenSplit` (public and private test indices, sorted, disjoint)."""

    public: np.ndarray
    private: np.ndarray


def stand_in_split(labels: np.ndarray, private_fraction: float, seed: int) -> StandInSplit:
    indices = np.arange(len(labels))
    public, private = train_test_split(indices, test_size=private_fraction, stratify=labels, random_state=seed)
    return StandInSplit(np.sort(public).astype(np.int64), np.sort(private).astype(np.int64))


EDITABLE = ("architecture", "epochs", "batch_size", "seed", "limit_train")
CHALLENGE = ChallengeSpec(
    dataset="digits",
    title="Digits, half hidden",
    preset="digitlab-small8",
    limits=ChallengeLimits(max_epochs=3, max_parameters=200_000, max_train=400, editable=EDITABLE),
)
TINY = SubmissionRequest({"epochs": 3, "limit_train": 400})
# Counted by hand: conv 3*3*1*8 + 8 = 80; flatten 8*8*8 = 512 features; dense 512*16 + 16 = 8,208; output
# 16*10 + 10 = 170. In all 8,458 trainable parameters.
HAND_COUNTED = ModelSpec(
    conv_blocks=(ConvBlock(8, padding="same", pool="none"),), dense_layers=(DenseLayer(16),), input_shape=(8, 8, 1)
)
HAND_COUNTED_PARAMETERS = 8_458


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


@pytest.fixture(scope="module")
def split(digits):
    return stand_in_split(digits.y_test, 0.5, seed=0)


@pytest.fixture(scope="module")
def view(digits, split):
    return public_view(digits, split, "c1")


# ------------------------------------------------------------------------------------------------ the public view


def test_the_views_test_set_is_exactly_the_public_part(digits, split, view):
    np.testing.assert_array_equal(view.x_test, digits.x_test[split.public])
    np.testing.assert_array_equal(view.y_test, digits.y_test[split.public])
    np.testing.assert_array_equal(view.x_train, digits.x_train)  # students learn from the whole training split
    x_private, y_private = private_part(digits, split)
    np.testing.assert_array_equal(x_private, digits.x_test[split.private])
    np.testing.assert_array_equal(y_private, digits.y_test[split.private])
    said = f"Public part of challenge c1: {len(split.public)} of {len(digits.y_test)} test images"
    assert said in view.provenance and any(said in warning for warning in view.warnings)
    assert view.name != digits.name  # a page reloading the run's data by name cannot get the full test set


def test_the_views_fingerprint_is_its_own_and_stable_for_the_same_split(digits, split, view):
    assert view.fingerprint != digits.fingerprint
    assert public_view(digits, stand_in_split(digits.y_test, 0.5, seed=0), "c1").fingerprint == view.fingerprint
    assert public_view(digits, stand_in_split(digits.y_test, 0.5, seed=1), "c1").fingerprint != view.fingerprint
    spec, config = locked_request(CHALLENGE, view, TINY)
    assert run_id_for(view, spec, config) != run_id_for(digits, spec, config)


def test_a_split_that_would_leak_private_images_into_the_view_is_refused(digits, split):
    overlapping = StandInSplit(np.append(split.public, split.private[0]), split.private)
    with pytest.raises(InvalidChallenge, match="disjoint"):
        public_view(digits, overlapping, "c1")
    other_data = stand_in_split(np.arange(100) % 10, 0.5, seed=0)
    with pytest.raises(InvalidChallenge, match="other data"):
        private_part(digits, other_data)
    with pytest.raises(InvalidChallenge, match="challenge id"):
        public_view(digits, split, "../c1")


# ------------------------------------------------------------------------------------------------ the locks


def test_a_locked_setting_is_refused_by_name(view):
    with pytest.raises(InvalidChallenge, match="The instructor locked learning_rate"):
        locked_request(CHALLENGE, view, SubmissionRequest({"learning_rate": 0.01}))
    with pytest.raises(InvalidChallenge, match="The instructor locked augmentation"):
        locked_request(CHALLENGE, view, SubmissionRequest({"augmentation": True}))
    # A learning rate smuggled in through the (editable) architecture is the locked setting too.
    smuggled = HAND_COUNTED.with_learning_rate(0.05).to_dict()
    with pytest.raises(InvalidChallenge, match="The instructor locked learning_rate"):
        locked_request(CHALLENGE, view, SubmissionRequest({"architecture": smuggled}))
    locked_architecture = ChallengeSpec(
        dataset="digits", title="t", preset="digitlab-small8", limits=ChallengeLimits(editable=("epochs",))
    )
    with pytest.raises(InvalidChallenge, match="The instructor locked architecture"):
        locked_request(locked_architecture, view, SubmissionRequest({"architecture": HAND_COUNTED.to_dict()}))
    with pytest.raises(InvalidChallenge, match="cannot set validation_split"):
        locked_request(CHALLENGE, view, SubmissionRequest({"validation_split": 0.5}))


def test_a_locked_setting_sent_at_its_locked_value_is_accepted(view):
    # A form that sends every field sends the locked ones unchanged: the preset's 0.001 and no augmentation.
    spec, config = locked_request(
        CHALLENGE, view, SubmissionRequest({"learning_rate": 0.001, "augmentation": False, "epochs": 2})
    )
    assert spec.learning_rate == 0.001 and config.epochs == 2 and not config.augmentation


def test_editable_settings_are_applied_and_nothing_else(view):
    spec, config = locked_request(
        CHALLENGE, view, SubmissionRequest({"architecture": HAND_COUNTED.to_dict(), "seed": 7, "batch_size": 16})
    )
    assert spec == HAND_COUNTED.for_data(view.image_shape, 10)
    assert (config.seed, config.batch_size) == (7, 16)
    assert config.validation_split == 0.2 and config.lr_schedule == "constant"  # the preset's recipe


def test_epochs_above_the_cap_are_refused_with_the_value_and_the_cap(view):
    with pytest.raises(InvalidChallenge, match="epochs 4 is above this challenge's cap of 3"):
        locked_request(CHALLENGE, view, SubmissionRequest({"epochs": 4}))


def test_the_recipes_epochs_above_the_cap_train_the_cap_and_say_so(view):
    # digitlab-small8's recipe trains 15 epochs; the student did not ask for any.
    locked = build_locked_request(CHALLENGE, view, SubmissionRequest({}))
    assert locked.config.epochs == 3
    assert any("15 epochs" in notice and "trains 3" in notice for notice in locked.notices)


def test_a_locked_setting_over_a_cap_is_locked_at_the_cap(view):
    # Epochs and training images locked: the preset's 15 epochs and all 1,437 images are held to the caps, and the
    # locked value a student may send (or is refused against) is the one that trains, not the recipe's.
    locked_recipe = ChallengeSpec(
        dataset="digits",
        title="t",
        preset="digitlab-small8",
        limits=ChallengeLimits(max_epochs=3, max_train=400, editable=("seed",)),
    )
    locked = build_locked_request(locked_recipe, view, SubmissionRequest({"epochs": 3, "limit_train": 0, "seed": 1}))
    assert (locked.config.epochs, locked.config.limit_train, locked.config.seed) == (3, 400, 1)
    assert len(locked.notices) == 2
    with pytest.raises(InvalidChallenge, match=r"The instructor locked epochs: it stays 3 \(you asked for 15\)"):
        locked_request(locked_recipe, view, SubmissionRequest({"epochs": 15}))
    with pytest.raises(InvalidChallenge, match="The instructor locked limit_train"):
        locked_request(locked_recipe, view, SubmissionRequest({"limit_train": 200}))


def test_training_images_above_the_cap_are_refused_and_none_given_means_the_cap(view):
    with pytest.raises(InvalidChallenge, match="limit_train 500 is above this challenge's cap of 400"):
        locked_request(CHALLENGE, view, SubmissionRequest({"limit_train": 500}))
    for unset in ({}, {"limit_train": 0}, {"limit_train": None}):
        locked = build_locked_request(CHALLENGE, view, SubmissionRequest(unset))
        assert locked.config.limit_train == 400
        assert any("subset of 400" in notice for notice in locked.notices)


def test_parameters_above_the_cap_are_refused_with_the_count_and_the_cap(view):
    def capped(max_parameters: int) -> ChallengeSpec:
        limits = ChallengeLimits(max_epochs=3, max_parameters=max_parameters, editable=EDITABLE)
        return ChallengeSpec(dataset="digits", title="t", preset="digitlab-small8", limits=limits)

    request = SubmissionRequest({"architecture": HAND_COUNTED.to_dict(), "epochs": 1})
    with pytest.raises(InvalidChallenge, match="8,458 trainable parameters, above this challenge's cap of 8,457"):
        locked_request(capped(HAND_COUNTED_PARAMETERS - 1), view, request)
    spec, _ = locked_request(capped(HAND_COUNTED_PARAMETERS), view, request)
    assert spec.conv_blocks == HAND_COUNTED.conv_blocks


def test_the_engines_validator_still_checks_what_the_locks_let_through(view):
    with pytest.raises(InvalidConfig, match="Batch size"):
        locked_request(CHALLENGE, view, SubmissionRequest({"batch_size": 0}))
    with pytest.raises(InvalidConfig, match="wrong type"):
        locked_request(CHALLENGE, view, SubmissionRequest({"seed": "7"}))


# ------------------------------------------------------------------------------------------------ scoring


@pytest.fixture(scope="module")
def scored(digits, split, tmp_path_factory):
    store = RunStore(tmp_path_factory.mktemp("runs"))
    score = score_submission(CHALLENGE, "c1", digits, split, TINY, store=store)
    return score, store


def test_nothing_stored_for_the_run_holds_a_private_image_or_is_sized_by_the_private_part(digits, split, scored):
    score, store = scored
    run = store.get(score.run_id)
    assert run is not None
    x_private, _ = private_part(digits, split)
    private_rows = {image.tobytes() for image in x_private.reshape(len(x_private), -1).astype(np.float64)}
    scaled_rows = {image.tobytes() for image in (x_private.reshape(len(x_private), -1) / 16.0).astype(np.float32)}
    arrays = [name for name in run.files() if name.endswith(".npy")]
    assert arrays  # the run stores its test probabilities and labels
    # Per-epoch records hold one column per public test image (epoch_predictions) or training image (dynamics).
    n_train = run.meta["dataset"]["n_train"]
    per_epoch = {
        "epoch_predictions.npy": len(split.public),
        "train_dynamics.npy": n_train,
        "train_predictions.npy": n_train,
    }
    for name in arrays:
        array = np.load(Path(run.path) / name, allow_pickle=False)
        if name in per_epoch:
            assert array.shape[1] == per_epoch[name], name
        else:
            assert len(array) == len(split.public), name  # one row per public image, none for a private one
        rows = array.reshape(len(array), -1)
        assert not {row.astype(np.float64).tobytes() for row in rows} & private_rows, name
        assert not {row.astype(np.float32).tobytes() for row in rows} & scaled_rows, name
    np.testing.assert_array_equal(run.test_labels(), digits.y_test[split.public])
    assert run.meta["dataset"]["fingerprint"] != digits.fingerprint
    assert run.meta["dataset"]["n_test"] == len(split.public)


def test_the_public_score_is_scikit_learns_on_the_stored_probabilities(digits, split, scored):
    score, store = scored
    run = store.get(score.run_id)
    assert run is not None
    truth = digits.y_test[split.public]
    predicted = np.load(run.path / "test_probabilities.npy").argmax(axis=1)
    assert score.public_accuracy == pytest.approx(accuracy_score(truth, predicted))
    np.testing.assert_array_equal(score.public_correct, truth == predicted)
    assert score.public_confusion == sk_confusion(truth, predicted, labels=range(10)).tolist()


def test_the_private_score_is_the_stored_models_on_the_private_images(digits, split, scored):
    import keras

    score, store = scored
    run = store.get(score.run_id)
    assert run is not None
    model = keras.saving.load_model(str(run.path / "model.keras"), safe_mode=True, compile=False)
    images = digits.x_test[split.private].astype(np.float32) / 16.0  # the UCI digits' pixels run 0..16
    predicted = model.predict(images, verbose=0).argmax(axis=1)
    truth = digits.y_test[split.private]
    assert score.private_accuracy == pytest.approx(accuracy_score(truth, predicted))
    assert score.private_confusion == sk_confusion(truth, predicted, labels=range(10)).tolist()
    assert score.private_accuracy > 0.3  # three epochs on 400 images beat chance (0.1): a real model


def test_an_identical_second_submission_is_cached_and_trains_nothing(digits, split, scored):
    first, store = scored
    assert not first.cached and first.train_seconds > 0
    before = telemetry.counters().get("trainings", 0)
    second = score_submission(CHALLENGE, "c1", digits, split, SubmissionRequest(dict(TINY.settings)), store=store)
    assert second.cached and second.run_id == first.run_id and second.train_seconds == 0
    assert telemetry.counters().get("trainings", 0) == before
    assert (second.public_accuracy, second.private_accuracy) == (first.public_accuracy, first.private_accuracy)

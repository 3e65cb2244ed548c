"""A submission: trained through the server's pipeline on the challenge's public view, scored on both parts.

Fair by construction: the run a student's submission trains is a run on the *public view* of the challenge's
dataset, a `Dataset` whose test split is only the public part of the hidden split. Its arrays differ, so its
fingerprint differs, so its runs are keyed apart from the full dataset's. Everything the run store keeps for it
(test probabilities and labels, and all that Evaluate, Inspect, Explain, reports and notebooks compute from them)
is therefore public-part only. The private part is scored here, right after training, by predicting the private
images with the stored model; those numbers are returned to the caller (the classroom's database) and never
written into the run store.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from engine.architectures.shapes import parameter_counts
from engine.architectures.spec import ModelSpec
from engine.classroom.spec import (
    STUDENT_SETTINGS,
    ChallengeLimits,
    ChallengeSpec,
    InvalidChallenge,
    check_challenge_spec,
)
from engine.datasets import Dataset, normalised
from engine.datasets.views import CHALLENGE_ID, public_view_name, public_view_of, record_for
from engine.errors import InvalidTestSplit, StoreError
from engine.evaluation import accuracy, confusion_matrix
from engine.executors.tasks import RunTask
from engine.jobs.single import train_in_job
from engine.progress import ProgressCallback
from engine.runs import RunResult, get_or_train, preset_request
from engine.store import RunStore, StoredRun
from engine.training.config import TrainConfig, check_types
from engine.training.data import transformed_dataset
from engine.validation import validate_request

_TRAIN_SETTINGS = tuple(name for name in STUDENT_SETTINGS if name not in ("architecture", "learning_rate"))


class SplitIndices(Protocol):
    """What scoring reads of `engine.classroom.split.HiddenSplit`: the public and the private test indices."""

    @property
    def public(self) -> np.ndarray: ...

    @property
    def private(self) -> np.ndarray: ...


def _checked_split(dataset: Dataset, split: SplitIndices) -> tuple[np.ndarray, np.ndarray]:
    """The split's (public, private) indices, if they cut this dataset's test set into two disjoint, non-empty
    parts that cover it; else `InvalidChallenge`. A split that did not would put private images in the view."""
    n_test = len(dataset.y_test)
    parts = []
    for what in ("public", "private"):
        indices = np.asarray(getattr(split, what))
        if indices.ndim != 1 or indices.size == 0 or not np.issubdtype(indices.dtype, np.integer):
            raise InvalidChallenge(f"The hidden split's {what} part is not a non-empty list of test-image indices.")
        parts.append(indices.astype(np.int64))
    public, private = parts
    together = np.concatenate([public, private])
    if len(together) != n_test or not np.array_equal(np.sort(together), np.arange(n_test)):
        raise InvalidChallenge(
            f"The hidden split does not cut {dataset.name}'s {n_test:,} test images into two disjoint parts "
            f"({len(public):,} public and {len(private):,} private indices given): was it made for other data?"
        )
    return public, private


def public_view(dataset: Dataset, split: SplitIndices, challenge_id: str) -> Dataset:
    """The dataset a challenge's submissions train and are evaluated on: the same training split, and as test
    split only the public part (in the order of `split.public`). Built by `engine.datasets.views.public_view_of`,
    as `load_dataset(public_view_name(...))` rebuilds it in any other process."""
    if not isinstance(challenge_id, str) or not CHALLENGE_ID.fullmatch(challenge_id):
        raise InvalidChallenge("A challenge id is 1 to 64 letters, digits, '-' or '_'.")
    public, _ = _checked_split(dataset, split)
    try:
        return public_view_of(dataset, public, challenge_id)
    except InvalidTestSplit as problem:
        raise InvalidChallenge(str(problem)) from None


def private_part(dataset: Dataset, split: SplitIndices) -> tuple[np.ndarray, np.ndarray]:
    """(images, labels) of the hidden test images, raw as the dataset holds them, in the order of `split.private`."""
    _, private = _checked_split(dataset, split)
    return dataset.x_test[private], dataset.y_test[private]


@dataclass(frozen=True)
class SubmissionRequest:
    """What a student chose: names from `engine.classroom.spec.STUDENT_SETTINGS` ("architecture" is a `ModelSpec`
    dict); a setting left out, or None, keeps the challenge's preset value."""

    settings: dict[str, object] = dataclasses.field(default_factory=dict, hash=False)


@dataclass(frozen=True)
class LockedRequest:
    """The request a submission trains, and what was used in place of something asked for (said to the student)."""

    spec: ModelSpec
    config: TrainConfig
    notices: tuple[str, ...] = ()


def _locked_value(name: str, spec: ModelSpec, config: TrainConfig) -> object:
    if name == "architecture":
        return spec.to_dict()
    if name == "learning_rate":
        return spec.learning_rate
    return getattr(config, name)


def _refuse_locked(name: str, asked: object, locked: object) -> None:
    if name == "architecture":
        raise InvalidChallenge("The instructor locked architecture: submissions train the challenge's model.")
    raise InvalidChallenge(f"The instructor locked {name}: it stays {locked!r} (you asked for {asked!r}).")


def _student_spec(raw: object, base: ModelSpec, view: Dataset) -> ModelSpec:
    """The student's architecture sized for the view; a learning rate left out is the preset's."""
    if not isinstance(raw, dict):
        raise InvalidChallenge("The architecture must be a model spec (a JSON object).")
    data: dict[str, Any] = {"learning_rate": base.learning_rate, **raw}
    return ModelSpec.from_dict(data).for_data(view.image_shape, base.num_classes)


def _capped_recipe(
    config: TrainConfig, limits: ChallengeLimits, n_train: int, chosen: set[str]
) -> tuple[TrainConfig, tuple[str, ...]]:
    """The preset's recipe held to the challenge's caps where the student does not choose a setting (`chosen`:
    editable settings given), with a notice for each value lowered: a recipe over a cap is the instructor's choice
    of preset, not the student's to fix."""
    notices = []
    if config.epochs > limits.max_epochs and "epochs" not in chosen:
        notices.append(
            f"The model's recipe trains {config.epochs} epochs; this challenge allows at most {limits.max_epochs}, "
            f"so it trains {limits.max_epochs}."
        )
        config = config.replace(epochs=limits.max_epochs)
    too_many = not config.limit_train or config.limit_train > limits.max_train
    if limits.max_train and limits.max_train < n_train and too_many and "limit_train" not in chosen:
        used = f"{config.limit_train:,}" if config.limit_train else f"all {n_train:,}"
        notices.append(
            f"The model's recipe trains on {used} training images; this challenge allows at most "
            f"{limits.max_train:,}, so it trains on a stratified subset of {limits.max_train:,}."
        )
        config = config.replace(limit_train=limits.max_train)
    return config, tuple(notices)


def build_locked_request(spec: ChallengeSpec, view: Dataset, request: SubmissionRequest) -> LockedRequest:
    """`locked_request`, with the notices of what was used instead of the preset's value and why."""
    spec = check_challenge_spec(spec)
    limits = spec.limits
    asked = {name: value for name, value in request.settings.items() if value is not None}
    unknown = sorted(set(asked) - set(STUDENT_SETTINGS))
    if unknown:
        raise InvalidChallenge(
            f"A submission cannot set {', '.join(map(str, unknown))[:200]}; it may set {', '.join(STUDENT_SETTINGS)}."
        )
    if limits.max_train and type(asked.get("limit_train")) is int and asked["limit_train"] == 0:
        del asked["limit_train"]  # "all" under a training cap is the cap, as when it is left out (said below)
    base_spec, preset_config = preset_request(spec.preset, view)
    chosen = {name for name in asked if name in limits.editable}  # what the student decides; the rest is locked
    base_config, notices = _capped_recipe(preset_config, limits, len(view.y_train), chosen)
    # A locked setting may be sent at its locked value (a form that sends every field); any other value is refused.
    for name, value in asked.items():
        if name in limits.editable:
            continue
        locked = _locked_value(name, base_spec, base_config)
        if name == "architecture":
            if _student_spec(value, base_spec, view) != base_spec:
                _refuse_locked(name, value, locked)
        elif value != locked or (type(value) is bool) != (type(locked) is bool):
            _refuse_locked(name, value, locked)

    model_spec = base_spec
    if "architecture" in asked and "architecture" in limits.editable:
        model_spec = _student_spec(asked["architecture"], base_spec, view)
        if "learning_rate" not in limits.editable and model_spec.learning_rate != base_spec.learning_rate:
            _refuse_locked("learning_rate", model_spec.learning_rate, base_spec.learning_rate)
    if "learning_rate" in asked and "learning_rate" in limits.editable:
        rate = asked["learning_rate"]
        if isinstance(rate, bool) or not isinstance(rate, int | float):
            raise InvalidChallenge(f"The learning rate must be a number, got {str(rate)[:40]!r}.")
        if "architecture" in asked and isinstance(asked["architecture"], dict):
            given = asked["architecture"].get("learning_rate")
            if given is not None and given != rate:
                raise InvalidChallenge(
                    f"The learning rate is given twice: {rate!r}, and {given!r} in the architecture. Give one."
                )
        model_spec = model_spec.with_learning_rate(float(rate))

    changes = {name: asked[name] for name in _TRAIN_SETTINGS if name in asked and name in limits.editable}
    config = base_config.replace(**changes)
    check_types(config)  # InvalidConfig naming a setting of the wrong type, before any comparison below
    if config.epochs > limits.max_epochs:
        raise InvalidChallenge(f"epochs {config.epochs} is above this challenge's cap of {limits.max_epochs}.")
    if limits.max_train and config.limit_train > limits.max_train:
        raise InvalidChallenge(
            f"limit_train {config.limit_train} is above this challenge's cap of {limits.max_train} training images."
        )
    parameters = parameter_counts(model_spec)["trainable"]
    if parameters > limits.max_parameters:
        raise InvalidChallenge(
            f"The model has {parameters:,} trainable parameters, above this challenge's cap of "
            f"{limits.max_parameters:,}. Use fewer filters or dense units."
        )
    # The engine's one door, as for every other training path: ranges, sizes against the view, this server's caps.
    validate_request(model_spec, config, n_train=len(view.x_train), num_classes=model_spec.num_classes)
    return LockedRequest(model_spec, config, notices)


def locked_request(spec: ChallengeSpec, view: Dataset, request: SubmissionRequest) -> tuple[ModelSpec, TrainConfig]:
    """The preset's spec and recipe (`preset_request`) with only the student's editable settings applied, held to
    the challenge's caps and passed through `engine.validation`: `InvalidChallenge` (a locked setting, a cap), or
    `InvalidSpec`/`InvalidConfig` (the engine's own ranges), each naming the setting and its value."""
    locked = build_locked_request(spec, view, request)
    return locked.spec, locked.config


@dataclass(frozen=True)
class SubmissionScore:
    run_id: str
    public_accuracy: float
    private_accuracy: float  # for the database only: never in the run store, never shown before close
    public_correct: np.ndarray = dataclasses.field(hash=False)  # bool, one per public image in `split.public` order
    public_confusion: list[list[int]] = dataclasses.field(hash=False)  # [true][predicted] counts
    private_confusion: list[list[int]] = dataclasses.field(hash=False)
    cached: bool  # the run store had this run already: nothing was trained (identical submissions train once)
    train_seconds: float  # seconds this submission spent training; 0 when cached
    notices: tuple[str, ...] = ()  # what was used instead of what the recipe asked for, and why


def _private_predictions(run: StoredRun, x_private: np.ndarray, value_max: float) -> np.ndarray:
    """The stored model's predicted classes for the private images, scaled as training scaled the test images."""
    model = run.load_model()  # safe_mode, through the store's one loader
    probabilities = np.asarray(model.predict(normalised(x_private, value_max), batch_size=512, verbose=0))
    if probabilities.ndim != 2 or len(probabilities) != len(x_private) or not np.all(np.isfinite(probabilities)):
        raise StoreError(f"The model of run {run.run_id} gave no usable predictions for the private test images.")
    return probabilities.argmax(axis=1)


def score_submission(
    spec: ChallengeSpec,
    challenge_id: str,
    dataset: Dataset,
    split: SplitIndices,
    request: SubmissionRequest,
    progress: ProgressCallback | None = None,
    store: RunStore | None = None,
) -> SubmissionScore:
    """Train (or find) the submission's run on the public view and score it on the public and the private part.

    `store`: the run store to use (default: the cache's); the private scores are returned, never written into it.
    """
    view = public_view(dataset, split, challenge_id)
    return score_locked(spec, view, build_locked_request(spec, view, request), dataset, split, progress, store)


def score_locked(
    spec: ChallengeSpec,
    view: Dataset,
    locked: LockedRequest,
    dataset: Dataset,
    split: SplitIndices,
    progress: ProgressCallback | None = None,
    store: RunStore | None = None,
    executor: str = "local",
    challenge_id: str = "",
) -> SubmissionScore:
    """`score_submission` for a caller that already built the public view and the locked request (the classroom's
    service checks the locks before taking a daily slot): the view's fingerprint hashes the whole training set, so
    it is built once per submission.

    `executor` "ray": the run trains in a job driver of its own on the Ray cluster (`engine.jobs.single`), which
    rebuilds the view from its record (`engine.datasets.views`); this process then scores it exactly as a
    local run, from the stored run and the private images it alone reads.
    """
    if executor == "ray":
        if not challenge_id:
            raise InvalidChallenge("A submission trained on Ray needs its challenge id to rebuild the public view.")
        # The view's record travels with the task: a driver or worker rebuilds the same public part from it (and
        # checks the base data's fingerprint), whether or not it shares this server's cache.
        record = record_for(dataset, spec.private_fraction, spec.split_seed)
        task = RunTask.for_request(
            view, locked.spec, locked.config, preset=spec.preset, label="submission", view=record.to_dict()
        )
        title = f"Submission to challenge {challenge_id}"
        result = train_in_job(task, progress=progress, executor="ray", title=title, store=store)
    else:
        result = get_or_train(view, locked.spec, locked.config, progress=progress, store=store, preset=spec.preset)
    return score_run(spec, view, locked, dataset, split, result)


def score_run(
    spec: ChallengeSpec, view: Dataset, locked: LockedRequest, dataset: Dataset, split: SplitIndices, result: RunResult
) -> SubmissionScore:
    """Score a submission's stored run (`result`, however it was trained) on the public and the private part."""
    run = result.run

    public_labels = run.test_labels()
    expected_public = transformed_dataset(view, locked.config.replace(limit_train=0)).y_test
    if not np.array_equal(public_labels, expected_public):
        raise StoreError(f"Run {run.run_id} stored test labels that are not this challenge's public part.")
    public_predicted = run.test_probabilities().argmax(axis=1)
    classes = locked.spec.num_classes

    # The private labels merged as the run's classes were (a preset that merges classes), the same engine path.
    x_private, y_private = private_part(dataset, split)
    private_data = dataclasses.replace(dataset, x_test=x_private, y_test=y_private)
    private_labels = transformed_dataset(private_data, locked.config.replace(limit_train=0)).y_test
    private_predicted = _private_predictions(run, x_private, float(dataset.value_max))

    try:
        train_seconds = 0.0 if result.cached else float(run.meta.get("train_seconds", 0.0))
    except (TypeError, ValueError):
        train_seconds = 0.0
    return SubmissionScore(
        run_id=run.run_id,
        public_accuracy=accuracy(public_labels, public_predicted),
        private_accuracy=accuracy(private_labels, private_predicted),
        public_correct=public_predicted == public_labels,
        public_confusion=confusion_matrix(public_labels, public_predicted, classes).tolist(),
        private_confusion=confusion_matrix(private_labels, private_predicted, classes).tolist(),
        cached=result.cached,
        train_seconds=train_seconds,
        notices=locked.notices,
    )


__all__ = [
    "LockedRequest",
    "SplitIndices",
    "SubmissionRequest",
    "SubmissionScore",
    "build_locked_request",
    "locked_request",
    "private_part",
    "public_view",
    "public_view_name",
    "score_locked",
    "score_run",
    "score_submission",
]

"""Label issues of a training set, found from out-of-fold predicted probabilities (confident learning).

Each training image is predicted by the one fold model of a stratified k-fold that never saw it (the folds of
`engine.crossval`, each a cached run), so its probabilities are honest about it. `cleanlab.filter.find_label_issues`
then flags the images whose given label disagrees with what the folds predict, ranked by self-confidence (the
probability the folds give the given label; lowest first). With planted noise (`engine.datasets.noise`) the
flags are scored against the flips, beside a plain baseline: the same number of lowest-self-confidence images.

The result is kept per plan beside the first fold's run (`engine.probes.stored`), keyed by the plan and the digest
of every fold run, so a retrained fold computes it again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from engine.architectures import DEFAULT_PRESET, PRESETS, ModelSpec
from engine.crossval import CrossValidation, cross_validate, fold_tasks
from engine.datasets import Dataset, load_dataset
from engine.datasets.noise import NoiseSpec, NoisyDataset, plant_label_noise
from engine.errors import InvalidConfig, InvalidProbeRecord
from engine.limits import diagnostics_limits, train_limits
from engine.probes.checks import probe_numbers
from engine.probes.run_data import run_data
from engine.probes.stored import cached_probe, stored_probe
from engine.progress import BatchCallback
from engine.runs import preset_request
from engine.store import RunStore, StoredRun
from engine.training.config import TrainConfig
from engine.training.data import validation_indices

if TYPE_CHECKING:
    from engine.executors import Executor

PROBE = "label-issues"
MAX_NAME = 200  # a dataset name is a registry name or an upload's; longer is a typing slip or an attack


def validate_plan(dataset: object, preset: object, folds: object, noise: object, epochs: object) -> None:
    """Raise `InvalidConfig` unless the plan can run under the limits in force."""
    if not isinstance(dataset, str) or not dataset or len(dataset) > MAX_NAME:
        raise InvalidConfig(f"the dataset must be a name of 1 to {MAX_NAME} characters, got {str(dataset)[:80]!r}")
    if not isinstance(preset, str) or preset not in PRESETS:
        raise InvalidConfig(f"unknown preset {str(preset)[:80]!r}; choose one of: {', '.join(PRESETS)}")
    if PRESETS[preset].label_mapping:
        raise InvalidConfig(
            f"preset {preset} merges classes ({PRESETS[preset].label_mapping}); label issues are looked for in the "
            "dataset's own classes, so choose a preset that keeps them"
        )
    most = min(diagnostics_limits().max_folds, train_limits().max_cv_folds)
    if isinstance(folds, bool) or not isinstance(folds, int) or not 2 <= folds <= most:
        raise InvalidConfig(f"a label-issue search needs 2 to {most} folds, got {folds!r}")
    if noise is not None and not isinstance(noise, NoiseSpec):
        raise InvalidConfig("the planted noise must be a NoiseSpec or none")
    top = train_limits().max_epochs
    if epochs is not None and (isinstance(epochs, bool) or not isinstance(epochs, int) or not 1 <= epochs <= top):
        raise InvalidConfig(f"epochs must be a whole number from 1 to {top}, got {epochs!r}")


@dataclass(frozen=True)
class LabelIssuePlan:
    """One label-issue search: which data, which model, how many folds, and optionally noise planted first."""

    dataset: str = "digits"  # registry name; the noise, when set, is planted in its training part
    preset: str = DEFAULT_PRESET  # the model and recipe every fold trains
    folds: int = 5  # k of the stratified k-fold: each image is predicted by the model that left it out
    noise: NoiseSpec | None = None  # None: look for the issues the data has; else plant these flips and score
    epochs: int | None = None  # None keeps the preset's

    def __post_init__(self) -> None:
        validate_plan(self.dataset, self.preset, self.folds, self.noise, self.epochs)

    def to_dict(self) -> dict:
        return {
            "dataset": self.dataset,
            "preset": self.preset,
            "folds": self.folds,
            "noise": self.noise.to_dict() if self.noise else None,
            "epochs": self.epochs,
        }


@dataclass(frozen=True)
class LabelIssue:
    index: int  # row of the training part
    given: int  # the label the data gives it (after planting, when noise was planted)
    suggested: int  # the class the out-of-fold probabilities favour
    score: float  # self-confidence: the out-of-fold probability of the given label (low = suspicious)


@dataclass(frozen=True)
class LabelIssues:
    """What the search found and, with planted noise, how well it found the flips (and the baseline beside it)."""

    issues: tuple[LabelIssue, ...]  # ranked, most suspicious first
    n_train: int
    flipped: tuple[int, ...]  # the planted flips' rows; () without noise
    noise_planted: bool
    precision: float | None  # share of the flagged images that were flipped; None without noise
    recall: float | None  # share of the flipped images that were flagged; None without noise
    baseline_precision: float | None  # the same for the len(issues) lowest-self-confidence images
    baseline_recall: float | None
    oof_accuracy: float  # how often the out-of-fold prediction agrees with the given label

    @property
    def n_flipped(self) -> int:
        return len(self.flipped)

    def to_dict(self) -> dict:
        return {
            "issues": [
                {"index": i.index, "given": i.given, "suggested": i.suggested, "score": i.score} for i in self.issues
            ],
            "n_train": self.n_train,
            "flipped": list(self.flipped),
            "noise_planted": self.noise_planted,
            "n_flipped": self.n_flipped,
            "precision": self.precision,
            "recall": self.recall,
            "baseline_precision": self.baseline_precision,
            "baseline_recall": self.baseline_recall,
            "oof_accuracy": self.oof_accuracy,
        }

    @classmethod
    def from_dict(cls, data: dict) -> LabelIssues:
        """A stored result read back, every field checked (`InvalidProbeRecord`, `KeyError`, `TypeError`)."""
        (n_train,) = probe_numbers([data["n_train"]], "n_train", shape=(1,), whole=True, low=1)
        rows = data["issues"]
        if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
            raise InvalidProbeRecord("issues is not a list of objects")
        whole = probe_numbers(
            [[row["index"], row["given"], row["suggested"]] for row in rows],
            "issues",
            shape=(None, 3) if rows else (0,),
            whole=True,
            low=0,
        )
        if rows and whole[:, 0].max() >= n_train:
            raise InvalidProbeRecord("an issue's index lies outside the training set")
        scores = probe_numbers([row["score"] for row in rows], "issue scores", shape=(len(rows),), low=0, high=1)
        flipped = probe_numbers(data["flipped"], "flipped", shape=(None,), whole=True, low=0, high=n_train - 1)
        if not isinstance(data["noise_planted"], bool):
            raise InvalidProbeRecord("noise_planted is not true or false")

        def share(name: str) -> float | None:
            if data[name] is None and not data["noise_planted"]:
                return None
            return float(probe_numbers([data[name]], name, shape=(1,), low=0, high=1)[0])

        return cls(
            issues=tuple(
                LabelIssue(int(i), int(g), int(s), float(c)) for (i, g, s), c in zip(whole, scores, strict=True)
            ),
            n_train=int(n_train),
            flipped=tuple(int(i) for i in flipped),
            noise_planted=data["noise_planted"],
            precision=share("precision"),
            recall=share("recall"),
            baseline_precision=share("baseline_precision"),
            baseline_recall=share("baseline_recall"),
            oof_accuracy=float(probe_numbers([data["oof_accuracy"]], "oof_accuracy", shape=(1,), low=0, high=1)[0]),
        )


def precision_recall(flagged: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    """(precision, recall) of boolean masks `flagged` against `truth`; 0 where nothing was flagged or is true."""
    hits = int(np.sum(flagged & truth))
    found, true = int(np.sum(flagged)), int(np.sum(truth))
    return (hits / found if found else 0.0, hits / true if true else 0.0)


def find_issues(labels: np.ndarray, pred_probs: np.ndarray, flipped: np.ndarray | None = None) -> LabelIssues:
    """The label issues of `labels` given out-of-fold `pred_probs` (n, classes); scored against `flipped` rows
    when noise was planted."""
    from cleanlab.filter import find_label_issues

    labels = np.asarray(labels, dtype=np.int64)
    probs = np.asarray(pred_probs, dtype=np.float64)
    if probs.ndim != 2 or len(probs) != len(labels) or not len(labels):
        raise ValueError(f"need one probability row per label, got {probs.shape} for {labels.shape}")
    probs = probs / probs.sum(axis=1, keepdims=True)  # float32 softmax rows sum to 1 only within rounding
    # n_jobs=1: by default cleanlab forks a multiprocessing pool, and forking a process that runs TensorFlow's threads
    # (the dashboard's server) can deadlock: seen once in CI, the page waiting on "Looking for label issues" for 5 min.
    ranked = np.asarray(
        find_label_issues(labels, probs, return_indices_ranked_by="self_confidence", n_jobs=1), dtype=np.int64
    )
    self_confidence = probs[np.arange(len(labels)), labels]
    suggested = probs.argmax(axis=1)
    issues = tuple(LabelIssue(int(i), int(labels[i]), int(suggested[i]), float(self_confidence[i])) for i in ranked)
    scores: dict[str, float | None] = dict.fromkeys(("p", "r", "bp", "br"))
    if flipped is not None:
        truth = np.zeros(len(labels), dtype=bool)
        truth[np.asarray(flipped, dtype=np.int64)] = True
        flagged = np.zeros(len(labels), dtype=bool)
        flagged[ranked] = True
        lowest = np.zeros(len(labels), dtype=bool)
        lowest[np.argsort(self_confidence, kind="stable")[: len(ranked)]] = True
        scores["p"], scores["r"] = precision_recall(flagged, truth)
        scores["bp"], scores["br"] = precision_recall(lowest, truth)
    return LabelIssues(
        issues=issues,
        n_train=len(labels),
        flipped=tuple(int(i) for i in np.sort(flipped)) if flipped is not None else (),
        noise_planted=flipped is not None,
        precision=scores["p"],
        recall=scores["r"],
        baseline_precision=scores["bp"],
        baseline_recall=scores["br"],
        oof_accuracy=float(np.mean(suggested == labels)),
    )


@dataclass(frozen=True)
class PreparedPlan:
    """A plan made concrete: the data the folds train on (noisy when asked), the model and its recipe."""

    plan: LabelIssuePlan
    data: Dataset
    noisy: NoisyDataset | None
    spec: ModelSpec
    config: TrainConfig

    def fold_ids(self) -> list[str]:
        """The store keys of the k fold runs (what the page counts as cached)."""
        return [task.run_id for task in fold_tasks(self.data, self.spec, self.config, self.plan.folds)]


def prepare(plan: LabelIssuePlan, dataset: Dataset | None = None) -> PreparedPlan:
    """The plan's data, model and recipe, checked against the limits in force; `dataset` may be handed in when
    already loaded (it must be the plan's)."""
    base = dataset if dataset is not None else load_dataset(plan.dataset)
    if base.name != plan.dataset:
        raise InvalidConfig(f"the plan names {plan.dataset[:80]!r} but was handed {base.name[:80]!r}")
    cap = diagnostics_limits().max_train_examples
    if cap and len(base.x_train) > cap:
        raise InvalidConfig(
            f"{base.name} has {len(base.x_train):,} training images; this server looks for label issues in at most "
            f"{cap:,} (each fold trains on nearly all of them)"
        )
    noisy = plant_label_noise(base, plan.noise) if plan.noise is not None else None
    data = noisy.dataset if noisy is not None else base
    spec, config = preset_request(plan.preset, data, epochs=plan.epochs)
    return PreparedPlan(plan, data, noisy, spec, config)


def out_of_fold_probabilities(cv: CrossValidation, data: Dataset) -> np.ndarray:
    """(n_train, classes) probabilities, each row from the fold model that did not train on that image."""
    out = np.full((len(data.y_train), data.num_classes), np.nan)
    for fold in cv.folds:
        rebuilt = run_data(fold.run, data)  # checks the fold was trained on exactly these data
        rows = validation_indices(data.y_train, TrainConfig.from_dict(fold.run.meta["config"]))[1]
        model = fold.run.load_model()
        out[rows] = np.asarray(model.predict(rebuilt.data.x_val, batch_size=512, verbose=0), dtype=np.float64)
    if np.isnan(out).any():  # the folds must cover every row exactly; a gap means the folds are not this plan's
        raise InvalidConfig("the fold runs do not cover every training image; retrain them")
    return out


def label_issues(
    plan: LabelIssuePlan,
    *,
    dataset: Dataset | None = None,
    progress: BatchCallback | None = None,
    store: RunStore | None = None,
    executor: Executor | str | None = None,
    prepared: PreparedPlan | None = None,
) -> LabelIssues:
    """Train (or fetch) the plan's k folds and find the label issues from their out-of-fold probabilities; the
    result is kept per plan (see the module docstring). `progress` gets each fold's `BatchProgress`."""
    prepared = prepared or prepare(plan, dataset)
    cv = cross_validate(
        prepared.data,
        prepared.spec,
        prepared.config,
        plan.folds,
        progress=progress,
        store=store,
        preset=plan.preset,
        executor=executor,
    )
    flipped = prepared.noisy.flipped if prepared.noisy is not None else None

    def compute() -> LabelIssues:
        probs = out_of_fold_probabilities(cv, prepared.data)
        return find_issues(prepared.data.y_train, probs, flipped)

    params = _probe_params(prepared, [fold.run for fold in cv.folds])
    return cached_probe(cv.folds[0].run, PROBE, params, compute, LabelIssues.to_dict, LabelIssues.from_dict)


def _probe_params(prepared: PreparedPlan, runs: list[StoredRun]) -> dict[str, Any]:
    """What the result is kept under: the plan, the data and every fold run's digest (a retrained fold misses)."""
    return {
        "plan": prepared.plan.to_dict(),
        "data": prepared.data.fingerprint,
        "folds": [[run.run_id, run.digest()] for run in runs],
    }


def stored_label_issues(
    plan: LabelIssuePlan, *, dataset: Dataset | None = None, store: RunStore | None = None
) -> LabelIssues | None:
    """The plan's result when its k fold runs and the result itself are already in the store, else None. Never
    trains nor predicts: for a page that may point at a search done elsewhere but must not start one."""
    prepared = prepare(plan, dataset)
    store = store or RunStore()
    runs = []
    for run_id in prepared.fold_ids():
        run = store.get(run_id)
        if run is None:  # the first missing fold ends the look-up
            return None
        runs.append(run)
    try:
        params = _probe_params(prepared, runs)
    except OSError:  # a fold removed meanwhile
        return None
    return stored_probe(runs[0], PROBE, params, LabelIssues.from_dict)

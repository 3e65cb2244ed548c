"""Calibration of a stored run: reliability bins and expected calibration error (ECE) over equal-width bins of
the top-label confidence, and temperature scaling fitted on the run's validation split (ECE before and after).

Temperature scaling (Guo et al., 2017) divides the logits by one scalar T > 0 chosen to minimise the negative
log-likelihood on held-out data; it never changes which class wins, so accuracy is untouched. The models end in a
softmax, so log-probabilities stand in for logits: softmax(log p / T) equals softmax(z / T) for any logits z.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, cast

import numpy as np

from engine.datasets import Dataset
from engine.errors import InvalidConfig, InvalidProbeRecord
from engine.limits import ProbeLimits
from engine.probes.checks import probe_numbers
from engine.probes.run_data import run_data
from engine.probes.stored import cached_probe
from engine.store import StoredRun

PROBABILITY_FLOOR = 1e-12  # keeps log(0) finite for a probability the float32 softmax rounded to zero
TEMPERATURE_BOUNDS = (0.05, 20.0)  # a fitted T outside this means a broken model rather than a calibration shift


@dataclass(frozen=True)
class ReliabilityBin:
    """One equal-width bin (lower, upper] of top-label confidence; the first bin also holds confidence 0."""

    lower: float
    upper: float
    count: int
    confidence: float | None  # mean top-label confidence of its images; None when the bin is empty
    accuracy: float | None  # share of its images whose top label is right; None when empty


@dataclass(frozen=True)
class Calibration:
    """ECE and reliability bins on the test set, before and after temperature scaling."""

    ece: float
    bins: tuple[ReliabilityBin, ...]
    temperature: float | None  # None when the run kept no validation split to fit it on
    ece_after: float | None
    bins_after: tuple[ReliabilityBin, ...]
    validation_nll_before: float | None
    validation_nll_after: float | None
    note: str  # why the temperature is missing, else ""

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Calibration:
        """A stored calibration read back, every field checked (`InvalidProbeRecord`, `KeyError`, `TypeError`)."""

        def score(name: str, optional: bool = True, high: float | None = None) -> float | None:
            value = data[name] if isinstance(data, dict) else None
            if value is None and optional:
                return None
            return float(probe_numbers([value], name, shape=(1,), low=0, high=high)[0])

        def bins(name: str) -> tuple[ReliabilityBin, ...]:
            rows = data[name]
            if not isinstance(rows, list):
                raise InvalidProbeRecord(f"{name} is not a list")
            out = []
            for row in rows:
                if not isinstance(row, dict):
                    raise InvalidProbeRecord(f"{name} holds a bin that is not an object")
                lower, upper = probe_numbers([row["lower"], row["upper"]], f"{name} edges", shape=(2,), low=0, high=1)
                (count,) = probe_numbers([row["count"]], f"{name} count", shape=(1,), whole=True, low=0)
                shares = [row["confidence"], row["accuracy"]]
                if (count == 0) != (shares == [None, None]):
                    raise InvalidProbeRecord(f"{name} has a bin whose count and means disagree")
                if count:
                    shares = probe_numbers(shares, f"{name} means", shape=(2,), low=0, high=1).tolist()
                out.append(ReliabilityBin(float(lower), float(upper), int(count), *shares))
            return tuple(out)

        if not isinstance(data["note"], str):
            raise InvalidProbeRecord("note is not text")
        temperature = score("temperature")
        after = (score("ece_after", high=1), bins("bins_after"))
        if (temperature is None) != (after[0] is None):
            raise InvalidProbeRecord("a temperature without an ECE after it, or the reverse")
        return cls(
            ece=cast(float, score("ece", optional=False, high=1)),  # not optional: a number, or it raised
            bins=bins("bins"),
            temperature=temperature,
            ece_after=after[0],
            bins_after=after[1],
            validation_nll_before=score("validation_nll_before"),
            validation_nll_after=score("validation_nll_after"),
            note=data["note"],
        )


def _check(labels: np.ndarray, probabilities: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    labels, probabilities = np.asarray(labels), np.asarray(probabilities, dtype=np.float64)
    if probabilities.ndim != 2 or labels.shape != probabilities.shape[:1] or labels.size == 0:
        raise ValueError(
            f"need one probability row per label, got labels {labels.shape} and probabilities {probabilities.shape}"
        )
    return labels, probabilities


def _check_bins(n_bins: int) -> None:
    most = ProbeLimits().max_calibration_bins
    if isinstance(n_bins, bool) or not isinstance(n_bins, int) or not 1 <= n_bins <= most:
        raise InvalidConfig(f"the number of calibration bins must be a whole number from 1 to {most}, got {n_bins!r}")


def reliability_bins(labels: np.ndarray, probabilities: np.ndarray, n_bins: int = 10) -> tuple[ReliabilityBin, ...]:
    """Equal-width bins of the top-label confidence: count, mean confidence and accuracy of each."""
    _check_bins(n_bins)
    labels, probabilities = _check(labels, probabilities)
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == labels
    # Bin i holds (i/n, (i+1)/n]: ceil puts a confidence exactly on an edge into the lower bin.
    index = np.clip(np.ceil(confidence * n_bins).astype(int) - 1, 0, n_bins - 1)
    bins = []
    for i in range(n_bins):
        inside = index == i
        count = int(inside.sum())
        bins.append(
            ReliabilityBin(
                lower=i / n_bins,
                upper=(i + 1) / n_bins,
                count=count,
                confidence=float(confidence[inside].mean()) if count else None,
                accuracy=float(correct[inside].mean()) if count else None,
            )
        )
    return tuple(bins)


def ece_from_bins(bins: tuple[ReliabilityBin, ...]) -> float:
    total = sum(b.count for b in bins)
    # The casts: a bin with images has both means (`reliability_bins` sets them, `from_dict` checks them).
    return float(
        sum(b.count / total * abs(cast(float, b.accuracy) - cast(float, b.confidence)) for b in bins if b.count)
    )


def expected_calibration_error(labels: np.ndarray, probabilities: np.ndarray, n_bins: int = 10) -> float:
    """Sum over bins of (share of images in the bin) x |accuracy - mean confidence|."""
    return ece_from_bins(reliability_bins(labels, probabilities, n_bins))


def scale_temperature(probabilities: np.ndarray, temperature: float) -> np.ndarray:
    """softmax(log p / T), row by row."""
    logits = np.log(np.clip(np.asarray(probabilities, dtype=np.float64), PROBABILITY_FLOOR, None)) / temperature
    logits -= logits.max(axis=1, keepdims=True)
    exp = np.exp(logits)
    return exp / exp.sum(axis=1, keepdims=True)


def negative_log_likelihood(labels: np.ndarray, probabilities: np.ndarray) -> float:
    labels, probabilities = _check(labels, probabilities)
    picked = probabilities[np.arange(len(labels)), labels]
    return float(-np.log(np.clip(picked, PROBABILITY_FLOOR, None)).mean())


def fit_temperature(labels: np.ndarray, probabilities: np.ndarray) -> float:
    """The T in TEMPERATURE_BOUNDS minimising the NLL of softmax(log p / T); searched on log T (one-dimensional)."""
    from scipy.optimize import minimize_scalar

    labels, probabilities = _check(labels, probabilities)
    low, high = np.log(TEMPERATURE_BOUNDS[0]), np.log(TEMPERATURE_BOUNDS[1])
    result = minimize_scalar(
        lambda log_t: negative_log_likelihood(labels, scale_temperature(probabilities, float(np.exp(log_t)))),
        bounds=(low, high),
        method="bounded",
        options={"xatol": 1e-5},
    )
    return float(np.exp(result.x))


def calibrate(
    test_labels: np.ndarray,
    test_probabilities: np.ndarray,
    validation_labels: np.ndarray | None,
    validation_probabilities: np.ndarray | None,
    n_bins: int = 10,
) -> Calibration:
    """ECE on the test set; with a validation split, T fitted there and the test ECE after scaling by it."""
    bins = reliability_bins(test_labels, test_probabilities, n_bins)
    if validation_labels is None or validation_probabilities is None or len(validation_labels) == 0:
        return Calibration(
            ece=ece_from_bins(bins),
            bins=bins,
            temperature=None,
            ece_after=None,
            bins_after=(),
            validation_nll_before=None,
            validation_nll_after=None,
            note="This run kept no validation split, so no temperature was fitted: fitting it on the test set would "
            "make the after-scaling ECE look better than it is. Train with a validation split to get one.",
        )
    temperature = fit_temperature(validation_labels, validation_probabilities)
    bins_after = reliability_bins(test_labels, scale_temperature(test_probabilities, temperature), n_bins)
    return Calibration(
        ece=ece_from_bins(bins),
        bins=bins,
        temperature=temperature,
        ece_after=ece_from_bins(bins_after),
        bins_after=bins_after,
        validation_nll_before=negative_log_likelihood(validation_labels, validation_probabilities),
        validation_nll_after=negative_log_likelihood(
            validation_labels, scale_temperature(validation_probabilities, temperature)
        ),
        note="",
    )


def run_calibration(
    run: StoredRun, n_bins: int = 10, *, model: Any = None, dataset: Dataset | None = None
) -> Calibration:
    """Calibration of a stored run: its stored test probabilities, and its model's predictions on the rebuilt
    validation split (the same rows it was validated on while training).

    Kept per run in the store (`engine.probes.stored`). `model` and `dataset` may be handed in when already loaded
    (the dashboard's shared copies); the dataset's fingerprint is checked against the run's.
    """
    _check_bins(n_bins)

    def compute() -> Calibration:
        rebuilt = run_data(run, dataset)
        validation_probabilities = None
        if rebuilt.data.has_validation:
            loaded = model if model is not None else run.load_model()
            validation_probabilities = np.asarray(loaded.predict(rebuilt.data.x_val, batch_size=512, verbose=0))
        return calibrate(
            run.test_labels(), run.test_probabilities(), rebuilt.data.y_val, validation_probabilities, n_bins
        )

    return cached_probe(run, "calibration", {"bins": n_bins}, compute, Calibration.to_dict, Calibration.from_dict)

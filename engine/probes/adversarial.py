"""Adversarial examples: how a run's test accuracy falls under the smallest worst-case pixel changes (L-infinity).

FGSM (Goodfellow et al., 2015) moves every pixel by eps in the direction that raises the loss, x + eps *
sign(dL/dx); PGD (Madry et al., 2018) starts from that FGSM point and takes `steps` further signed steps, each
projected back into the eps ball around the clean image and into the images' value range. Images are the model's
own 0..1 inputs (the dataset's raw 0..value_max divided by value_max), so eps 0.1 on UCI digits (0..16) is 1.6 grey
levels and on MNIST 25.5. Gradients are of the cross-entropy of the output layer's pre-activation (the logits,
pushed through `model.layers` as `engine.probes.explain` does), which does not saturate on confident images the way
the cross-entropy of a clipped softmax probability does.

Accuracy is reported two ways. `raw_accuracy` is the accuracy on each eps's perturbed images as they are. `accuracy`
counts an image as fooled once it is fooled at any eps up to the current one (eps 0 included: a clean mistake stays a
mistake), so the curve never rises: an attack at a larger eps could always have used the smaller perturbation. PGD
keeps the first perturbed image that fooled the model (the FGSM start included), so per image it is never weaker than
FGSM. Eps 0 is scored from the run's stored test predictions, so on the whole test set it equals the stored test
accuracy exactly. Results are kept per run (`engine.probes.stored`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

from engine.datasets import Dataset
from engine.errors import InvalidConfig, InvalidProbeRecord
from engine.evaluation.metrics import accuracy as accuracy_score
from engine.limits import AdversarialLimits, adversarial_limits
from engine.probes.checks import probe_numbers
from engine.probes.explain import _forward
from engine.probes.run_data import test_images
from engine.probes.stored import cached_probe
from engine.store import StoredRun

METHODS = ("fgsm", "pgd")
DEFAULT_EPSILONS = (0.0, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3)  # on the 0..1 input scale
SUBSET_SEED = 0  # which test images are attacked when fewer than all: seeded, so one run's curve is reproducible
BATCH = 256  # images per gradient pass: bounded memory on MNIST's 10 000 test images
STEP_RATIO = 2.5  # default PGD step = 2.5 * eps / steps (Madry et al.): the walk can cross the ball and back


@dataclass(frozen=True)
class AdversarialSpec:
    """One adversarial probe: the attack, its strengths and how many test images it attacks."""

    method: str = "fgsm"  # "fgsm" or "pgd"
    epsilons: tuple[float, ...] = DEFAULT_EPSILONS  # L-infinity radii on the model's 0..1 input scale
    steps: int = 10  # PGD iterations after its FGSM start; FGSM takes one step and ignores it
    step_size: float | None = None  # PGD step on the 0..1 scale; None = STEP_RATIO * eps / steps for each eps
    images: int | None = None  # test images attacked (a seeded subset); None = all, up to the cap in force

    def step_for(self, eps: float) -> float:
        return self.step_size if self.step_size is not None else STEP_RATIO * eps / self.steps


def _number(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise InvalidConfig(f"{what} must be a number, got {str(value)[:40]!r}")
    number = float(value)
    if not np.isfinite(number):
        raise InvalidConfig(f"{what} must be finite, got {number}")
    return number


def _whole(value: object, what: str, low: int, high: int, flag: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or not low <= int(value) <= high:
        raise InvalidConfig(f"{what} ({flag}) must be a whole number in {low:,}..{high:,}, got {str(value)[:40]!r}")
    return int(value)


def validate_adversarial(
    spec: AdversarialSpec, test_size: int | None = None, limits: AdversarialLimits | None = None
) -> AdversarialSpec:
    """The spec checked against the limits in force, with its epsilons sorted and deduplicated and, when
    `test_size` is known, `images` resolved (None = every test image, up to the cap). Raises `InvalidConfig`.

    The one check of an adversarial request: the command line, the Explain page's widgets and its link use it.
    """
    limits = limits or adversarial_limits()
    if spec.method not in METHODS:
        raise InvalidConfig(f"Unknown attack {str(spec.method)[:40]!r}; choose one of {', '.join(METHODS)}.")
    if isinstance(spec.epsilons, str | bytes) or not hasattr(spec.epsilons, "__len__"):
        raise InvalidConfig("epsilons (--eps) must be a list of numbers")
    if not 1 <= len(spec.epsilons) <= limits.max_epsilons:
        raise InvalidConfig(f"give 1 to {limits.max_epsilons} epsilons (--eps), got {len(spec.epsilons)}")
    epsilons = tuple(_number(eps, "eps") for eps in spec.epsilons)
    for eps in epsilons:
        if not 0 <= eps <= 1:
            raise InvalidConfig(f"eps (--eps) is a change of the 0..1 input scale and must lie in 0..1, got {eps:g}")
    steps = _whole(spec.steps, "PGD steps", 1, limits.max_steps, "--steps")
    step_size = spec.step_size
    if step_size is not None:
        step_size = _number(step_size, "the PGD step size")
        if not 0 < step_size <= 1:
            raise InvalidConfig(f"the PGD step size (0..1 input scale) must lie in (0, 1], got {step_size:g}")
    images = spec.images
    if images is not None:
        images = _whole(images, "attacked images", 1, limits.max_images, "--images")
    if test_size is not None:
        images = min(images if images is not None else limits.max_images, test_size)
    return replace(spec, epsilons=tuple(sorted(set(epsilons))), steps=steps, step_size=step_size, images=images)


@dataclass(frozen=True)
class AdversarialExample:
    """One perturbed test image for the gallery."""

    eps: float
    index: int  # row of the run's test set
    true: int
    clean_predicted: int  # the stored prediction on the clean image
    predicted: int  # the prediction on the perturbed image
    image: np.ndarray = field(repr=False)  # (H, W) on the 0..1 input scale


@dataclass(frozen=True)
class AdversarialResult:
    """A run's test accuracy at each eps under one attack, with a few perturbed examples per eps."""

    run_id: str
    method: str
    epsilons: tuple[float, ...]
    accuracy: tuple[float, ...]  # fooled at any eps up to this one counts as wrong: never rises
    raw_accuracy: tuple[float, ...]  # on this eps's perturbed images alone
    n_images: int
    test_size: int
    steps: int  # PGD's; 1 for FGSM
    step_size: float | None  # PGD's fixed step, or None for 2.5 * eps / steps
    examples: tuple[AdversarialExample, ...] = field(repr=False)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["examples"] = [{**asdict(e), "image": np.asarray(e.image, dtype=float).tolist()} for e in self.examples]
        return data

    def summary(self) -> dict:
        """What the command line's --json prints: the curve, without the gallery's images."""
        keys = ("run_id", "method", "epsilons", "accuracy", "raw_accuracy", "n_images", "test_size", "steps")
        data = {key: getattr(self, key) for key in keys}
        data["eps"] = list(data.pop("epsilons"))
        data["step_size"] = self.step_size
        return data

    @classmethod
    def from_dict(cls, data: dict) -> AdversarialResult:
        """A stored result read back, every field checked (`InvalidProbeRecord`, `KeyError`, `TypeError`)."""
        epsilons = probe_numbers(data["epsilons"], "epsilons", shape=(None,), low=0, high=1)
        n = len(epsilons)
        scores = probe_numbers(data["accuracy"], "accuracy", shape=(n,), low=0, high=1)
        raw = probe_numbers(data["raw_accuracy"], "raw_accuracy", shape=(n,), low=0, high=1)
        sizes = probe_numbers([data["n_images"], data["test_size"], data["steps"]], "sizes", shape=(3,), whole=True)
        if n == 0 or np.any(np.diff(epsilons) <= 0) or np.any(np.diff(scores) > 0):
            raise InvalidProbeRecord("epsilons are not strictly ascending or accuracy rises")
        if data["method"] not in METHODS or not isinstance(data["run_id"], str) or not 1 <= sizes[0] <= sizes[1]:
            raise InvalidProbeRecord("unknown method, run_id not text, or image counts out of order")
        step_size = data["step_size"]
        if step_size is not None:
            step_size = float(probe_numbers([step_size], "step_size", shape=(1,), low=0, high=1)[0])
        if not isinstance(data["examples"], list):
            raise InvalidProbeRecord("examples is not a list")
        examples = []
        for item in data["examples"]:
            image = probe_numbers(item["image"], "example image", shape=(None, None), low=0, high=1)
            eps = float(probe_numbers([item["eps"]], "example eps", shape=(1,), low=0, high=1)[0])
            labels = probe_numbers(
                [item["index"], item["true"], item["clean_predicted"], item["predicted"]], "example", shape=(4,),
                whole=True, low=0,
            )  # fmt: skip
            index, true, clean, predicted = (int(v) for v in labels)
            examples.append(AdversarialExample(eps, index, true, clean, predicted, image))
        return cls(
            data["run_id"], data["method"], tuple(map(float, epsilons)), tuple(map(float, scores)),
            tuple(map(float, raw)), int(sizes[0]), int(sizes[1]), int(sizes[2]), step_size, tuple(examples),
        )  # fmt: skip


# --------------------------------------------------------------------------------------------------------------
# The attacks


def loss_gradient(model: Any, images01: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """d cross-entropy / d input for each image (same shape as `images01`), in inference mode."""
    import tensorflow as tf

    x = tf.constant(images01, dtype=tf.float32)
    y = tf.constant(labels, dtype=tf.int32)
    last = model.layers[-1]
    softmax_out = type(last).__name__ == "Dense" and getattr(last.activation, "__name__", "") == "softmax"
    with tf.GradientTape() as tape:
        tape.watch(x)
        logits, probabilities, _ = _forward(model, x)
        if softmax_out:
            loss = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits)
        else:  # an output that is not a softmax over logits: the cross-entropy of its probabilities
            picked = tf.gather(probabilities, y, axis=1, batch_dims=1)
            loss = -tf.math.log(tf.clip_by_value(picked, 1e-7, 1.0))
        total = tf.reduce_sum(loss)  # images are independent: each one's gradient is its own loss's
    return np.asarray(tape.gradient(total, x), dtype=np.float32)


def _predict(model: Any, images01: np.ndarray) -> np.ndarray:
    import tensorflow as tf

    _, probabilities, _ = _forward(model, tf.constant(images01, dtype=tf.float32))
    return np.asarray(probabilities).argmax(axis=1)


def fgsm(model: Any, images01: np.ndarray, labels: np.ndarray, eps: float) -> np.ndarray:
    """x + eps * sign(dL/dx), clipped to the 0..1 input range (float32)."""
    images01 = np.asarray(images01, dtype=np.float32)
    if eps == 0:
        return images01.copy()
    step = np.float32(eps) * np.sign(loss_gradient(model, images01, labels))
    return np.clip(images01 + step, 0.0, 1.0).astype(np.float32)


def pgd(
    model: Any, images01: np.ndarray, labels: np.ndarray, eps: float, steps: int, step: float
) -> tuple[np.ndarray, np.ndarray]:
    """(perturbed images, their predictions): PGD from the FGSM point, `steps` signed steps of `step`, each
    projected into the eps ball around the clean image and the 0..1 range. An image that fools the model is kept as
    it was then, with the prediction that fooled it, so PGD fools every image FGSM fools (its FGSM start is scored
    on the same batch as `attack`'s FGSM) and a later step cannot undo a success."""
    clean = np.asarray(images01, dtype=np.float32)
    adversarial = fgsm(model, clean, labels, eps)
    predicted = _predict(model, adversarial)
    if eps == 0:
        return adversarial, predicted
    low, high = np.clip(clean - eps, 0.0, 1.0), np.clip(clean + eps, 0.0, 1.0)
    for _ in range(steps):
        active = predicted == labels
        if not active.any():
            break
        gradient = loss_gradient(model, adversarial[active], labels[active])
        moved = adversarial[active] + np.float32(step) * np.sign(gradient)
        adversarial[active] = np.clip(moved, low[active], high[active])
        predicted[active] = _predict(model, adversarial[active])
    return adversarial, predicted


def attack(
    model: Any, images01: np.ndarray, labels: np.ndarray, spec: AdversarialSpec, eps: float
) -> tuple[np.ndarray, np.ndarray]:
    """(perturbed images, their predictions) of `spec`'s attack at `eps`, in batches of BATCH."""
    images, predictions = [], []
    for start in range(0, len(images01), BATCH):
        x, y = images01[start : start + BATCH], labels[start : start + BATCH]
        if spec.method == "fgsm":
            perturbed = fgsm(model, x, y, eps)
            predicted = _predict(model, perturbed)
        else:
            perturbed, predicted = pgd(model, x, y, eps, spec.steps, spec.step_for(eps))
        images.append(perturbed)
        predictions.append(predicted)
    return np.concatenate(images), np.concatenate(predictions)


def attacked_rows(test_size: int, n_images: int) -> np.ndarray:
    """The test rows attacked: all of them, or a seeded subset (ascending)."""
    if n_images >= test_size:
        return np.arange(test_size)
    return np.sort(np.random.default_rng(SUBSET_SEED).choice(test_size, size=n_images, replace=False))


def _gallery(
    eps: float, rows: np.ndarray, truth: np.ndarray, clean: np.ndarray, predicted: np.ndarray, perturbed: np.ndarray
) -> list[AdversarialExample]:
    """The first images this eps fooled that were right when clean, topped up with the first others."""
    most = adversarial_limits().gallery_per_eps
    flipped = np.flatnonzero((predicted != truth) & (clean == truth))
    rest = np.setdiff1d(np.arange(len(rows)), flipped)
    picked = np.concatenate([flipped, rest])[:most]
    return [
        AdversarialExample(
            eps,
            int(rows[i]),
            int(truth[i]),
            int(clean[i]),
            int(predicted[i]),
            perturbed[i].reshape(perturbed.shape[1:3]),
        )
        for i in picked
    ]


def adversarial_accuracy(
    model: Any,
    images01: np.ndarray,
    labels: np.ndarray,
    clean_predicted: np.ndarray,
    spec: AdversarialSpec,
    rows: np.ndarray | None = None,
) -> tuple[list[float], list[float], list[AdversarialExample]]:
    """(accuracy, raw accuracy, gallery) of `spec` (validated) on these images; eps 0 from `clean_predicted`."""
    labels = np.asarray(labels)
    rows = np.arange(len(labels)) if rows is None else rows
    still_right = clean_predicted == labels
    scores, raw_scores, examples = [], [], []
    for eps in spec.epsilons:
        if eps == 0:
            predicted, perturbed = clean_predicted, np.asarray(images01, dtype=np.float32)
        else:
            perturbed, predicted = attack(model, images01, labels, spec, eps)
        raw_scores.append(accuracy_score(labels, predicted))
        still_right = still_right & (predicted == labels)
        scores.append(float(np.count_nonzero(still_right) / len(labels)))
        examples += _gallery(eps, rows, labels, clean_predicted, predicted, perturbed)
    return scores, raw_scores, examples


def adversarial_examples(
    run: StoredRun, spec: AdversarialSpec | None = None, *, model: Any = None, dataset: Dataset | None = None
) -> AdversarialResult:
    """Accuracy of a stored run's model under `spec`'s attack at each eps, on (a seeded subset of) its test set.

    Kept per run in the store. `model` and `dataset` may be handed in when already loaded (the dashboard's shared
    copies); the dataset's fingerprint is checked against the run's.
    """
    labels = run.test_labels()
    spec = validate_adversarial(spec or AdversarialSpec(), len(labels))
    n_images = int(spec.images or len(labels))

    def compute() -> AdversarialResult:
        rows = attacked_rows(len(labels), n_images)
        stored = run.test_probabilities().argmax(axis=1)
        images01, _ = test_images(run, dataset)
        loaded = model if model is not None else run.load_model()
        scores, raw, examples = adversarial_accuracy(loaded, images01[rows], labels[rows], stored[rows], spec, rows)
        steps = spec.steps if spec.method == "pgd" else 1
        step_size = spec.step_size if spec.method == "pgd" else None
        return AdversarialResult(
            run.run_id, spec.method, spec.epsilons, tuple(scores), tuple(raw), n_images, len(labels), steps, step_size,
            tuple(examples),
        )  # fmt: skip

    params = {
        "method": spec.method,
        "epsilons": list(spec.epsilons),
        "steps": spec.steps if spec.method == "pgd" else 1,
        "step_size": spec.step_size if spec.method == "pgd" else None,
        "images": n_images,
        "seed": SUBSET_SEED,
        "gallery": adversarial_limits().gallery_per_eps,
    }
    return cached_probe(run, "adversarial", params, compute, AdversarialResult.to_dict, AdversarialResult.from_dict)

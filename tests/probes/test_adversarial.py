"""Adversarial examples: FGSM against a gradient computed by hand, eps 0 against the stored accuracy (scikit-learn),
the curves' order (never rising, PGD never above FGSM), the validator's refusals and the command line."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.metrics import accuracy_score

from engine.cli import main
from engine.errors import InvalidConfig
from engine.limits import adversarial_limits
from engine.probes import run_data
from engine.probes.adversarial import (
    AdversarialResult,
    AdversarialSpec,
    adversarial_examples,
    fgsm,
    pgd,
    validate_adversarial,
)
from engine.probes.stored import probe_folder

EPSILONS = (0.0, 0.05, 0.1, 0.2)


def _linear_softmax(h: int = 4, w: int = 4, classes: int = 3, seed: int = 0):
    """A Keras softmax regression on the flattened image, with known weights."""
    import keras

    rng = np.random.default_rng(seed)
    weights = rng.normal(0, 1, size=(h * w, classes)).astype(np.float32)
    bias = rng.normal(0, 0.5, size=classes).astype(np.float32)
    model = keras.Sequential(
        [keras.Input((h, w, 1)), keras.layers.Flatten(), keras.layers.Dense(classes, activation="softmax")]
    )
    model.layers[-1].set_weights([weights, bias])
    return model, weights.astype(np.float64), bias.astype(np.float64)


def _hand_gradient(images: np.ndarray, labels: np.ndarray, weights: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """d cross-entropy / d x of softmax(W^T x + b): W (p - onehot(y)), per image, by hand."""
    flat = images.reshape(len(images), -1).astype(np.float64)
    logits = flat @ weights + bias
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    p[np.arange(len(labels)), labels] -= 1.0
    return (p @ weights.T).reshape(images.shape)


def test_fgsm_moves_each_pixel_by_eps_along_the_sign_of_the_hand_computed_gradient():
    model, weights, bias = _linear_softmax()
    rng = np.random.default_rng(1)
    images = rng.uniform(0.0, 1.0, size=(6, 4, 4, 1)).astype(np.float32)
    labels = np.array([0, 1, 2, 0, 1, 2])
    eps = 0.1
    expected = np.clip(images + eps * np.sign(_hand_gradient(images, labels, weights, bias)), 0.0, 1.0)
    np.testing.assert_allclose(fgsm(model, images, labels, eps), expected, atol=1e-6)
    # Pixels near 0 or 1 were clipped back into the range: the case is not only the interior.
    assert (expected == 0).any() or (expected == 1).any()


def test_pgd_stays_in_the_eps_ball_and_the_input_range_and_fools_at_least_what_fgsm_fools():
    model, *_ = _linear_softmax(seed=2)
    rng = np.random.default_rng(3)
    images = rng.choice([0.0, 0.02, 0.5, 0.98, 1.0], size=(20, 4, 4, 1)).astype(np.float32)
    labels = rng.integers(0, 3, size=20)
    eps = 0.15
    adversarial, predicted = pgd(model, images, labels, eps, steps=10, step=0.05)
    assert np.abs(adversarial - images).max() <= eps + 1e-6
    assert adversarial.min() >= 0.0 and adversarial.max() <= 1.0
    # The predictions it reports are the model's on the images it returns.
    np.testing.assert_array_equal(predicted, model.predict(adversarial, verbose=0).argmax(axis=1))
    fgsm_wrong = model.predict(fgsm(model, images, labels, eps), verbose=0).argmax(axis=1) != labels
    assert np.all(predicted[fgsm_wrong] != labels[fgsm_wrong])


def test_eps_zero_equals_the_stored_test_accuracy(digits_run):
    result = adversarial_examples(digits_run, AdversarialSpec("fgsm", EPSILONS))
    oracle = accuracy_score(digits_run.test_labels(), digits_run.test_probabilities().argmax(axis=1))
    assert result.accuracy[0] == pytest.approx(oracle, abs=1e-12)
    assert result.accuracy[0] == digits_run.meta["metrics"]["test_accuracy"]
    assert result.n_images == result.test_size == len(digits_run.test_labels())


def test_accuracy_never_rises_and_pgd_is_never_above_fgsm(digits_run):
    fast = adversarial_examples(digits_run, AdversarialSpec("fgsm", EPSILONS))
    strong = adversarial_examples(digits_run, AdversarialSpec("pgd", EPSILONS, steps=10))
    for result in (fast, strong):
        assert all(b <= a for a, b in zip(result.accuracy, result.accuracy[1:], strict=False))
        # Counting an image fooled at any smaller eps can only lower each raw score.
        assert all(acc <= min(result.raw_accuracy[: i + 1]) for i, acc in enumerate(result.accuracy))
    assert all(p <= f for p, f in zip(strong.accuracy, fast.accuracy, strict=True))
    assert all(p <= f for p, f in zip(strong.raw_accuracy, fast.raw_accuracy, strict=True))
    # The attack really bites (fails if the perturbation were a no-op), and PGD bites harder somewhere.
    assert fast.accuracy[-1] < fast.accuracy[0] - 0.3
    assert any(p < f for p, f in zip(strong.accuracy, fast.accuracy, strict=True))


def test_gallery_images_lie_within_eps_of_their_test_image_and_carry_the_model_prediction(digits_run):
    result = adversarial_examples(digits_run, AdversarialSpec("pgd", EPSILONS, steps=5))
    clean, _ = run_data.test_images(digits_run)
    model = digits_run.load_model()
    labels = digits_run.test_labels()
    assert {example.eps for example in result.examples} == set(EPSILONS)
    assert len(result.examples) == len(EPSILONS) * adversarial_limits().gallery_per_eps
    stack = np.stack([example.image for example in result.examples])[..., None].astype(np.float32)
    predicted = model.predict(stack, verbose=0).argmax(axis=1)
    for example, model_says in zip(result.examples, predicted, strict=True):
        assert np.abs(example.image - clean[example.index, :, :, 0]).max() <= example.eps + 1e-6
        assert example.true == labels[example.index]
        assert example.predicted == model_says
    fooled = [e for e in result.examples if e.eps == 0.2]
    assert any(e.predicted != e.true for e in fooled)


def test_results_are_kept_with_the_run_and_read_back_equal(digits_run):
    spec = AdversarialSpec("fgsm", (0.0, 0.1), images=50)
    first = adversarial_examples(digits_run, spec)
    assert any(path.name.startswith("adversarial-") for path in probe_folder(digits_run).iterdir())
    again = AdversarialResult.from_dict(json.loads(json.dumps(first.to_dict())))
    assert again.accuracy == first.accuracy and again.epsilons == first.epsilons and again.n_images == 50
    assert adversarial_examples(digits_run, spec).accuracy == first.accuracy


def test_a_subset_scores_eps_zero_on_its_own_images(digits_run):
    result = adversarial_examples(digits_run, AdversarialSpec("fgsm", (0.0,), images=40))
    rows = sorted({e.index for e in result.examples})
    assert result.n_images == 40 and all(0 <= row < result.test_size for row in rows)


def test_the_validator_refuses_out_of_range_requests(monkeypatch):
    monkeypatch.delenv("DIGIT_LAB_HOSTED", raising=False)
    with pytest.raises(InvalidConfig, match="0..1"):
        validate_adversarial(AdversarialSpec(epsilons=(0.0, 1.5)))
    with pytest.raises(InvalidConfig, match="1 to 12 epsilons"):
        validate_adversarial(AdversarialSpec(epsilons=tuple(i / 20 for i in range(13))))
    with pytest.raises(InvalidConfig, match="1 to 12 epsilons"):
        validate_adversarial(AdversarialSpec(epsilons=()))
    with pytest.raises(InvalidConfig, match="Unknown attack"):
        validate_adversarial(AdversarialSpec(method="cw"))
    with pytest.raises(InvalidConfig, match="steps"):
        validate_adversarial(AdversarialSpec("pgd", steps=101))
    with pytest.raises(InvalidConfig, match="finite"):
        validate_adversarial(AdversarialSpec(epsilons=(float("nan"),)))
    with pytest.raises(InvalidConfig, match="must be a number"):
        validate_adversarial(AdversarialSpec(epsilons=("0.1",)))  # type: ignore[arg-type]
    with pytest.raises(InvalidConfig, match="step size"):
        validate_adversarial(AdversarialSpec("pgd", step_size=0.0))
    assert validate_adversarial(AdversarialSpec("pgd", steps=50, images=2000)).steps == 50
    spec = validate_adversarial(AdversarialSpec(epsilons=(0.1, 0, 0.1)), test_size=360)
    assert spec.epsilons == (0.0, 0.1) and spec.images == 360  # sorted, deduplicated, all images by default

    monkeypatch.setenv("DIGIT_LAB_HOSTED", "1")
    with pytest.raises(InvalidConfig, match=r"PGD steps \(--steps\) must be a whole number in 1..20"):
        validate_adversarial(AdversarialSpec("pgd", steps=21))
    with pytest.raises(InvalidConfig, match="1..500"):
        validate_adversarial(AdversarialSpec(images=501))
    assert validate_adversarial(AdversarialSpec(), test_size=10_000).images == 500  # the default is capped
    monkeypatch.setenv("DIGIT_LAB_MAX_ADVERSARIAL_IMAGES", "100")
    with pytest.raises(InvalidConfig, match="1..100"):
        validate_adversarial(AdversarialSpec(images=101))


def test_cli_adversarial_json_and_text(digits_run, probe_cache, capsys):
    args = ["adversarial", digits_run.run_id, "--method", "fgsm", "--eps", "0", "0.05", "0.1", "--json"]
    assert main(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["eps"] == [0, 0.05, 0.1] and out["method"] == "fgsm" and out["n_images"] == 360
    assert out["accuracy"][0] == digits_run.meta["metrics"]["test_accuracy"]
    assert len(out["raw_accuracy"]) == 3 and out["accuracy"][2] < out["accuracy"][0]
    assert main(args[:-1]) == 0
    text = capsys.readouterr().out
    assert "FGSM on 360 of 360 test images" in text and "0.05" in text
    assert main(["adversarial", digits_run.run_id, "--eps", "0", "2", "--json"]) == 2
    assert "must lie in 0..1" in capsys.readouterr().err


def test_an_edited_stored_result_is_refused_and_recomputed(digits_run, caplog):
    spec = AdversarialSpec("fgsm", (0.0, 0.1), images=30)
    first = adversarial_examples(digits_run, spec)
    (path,) = [p for p in probe_folder(digits_run).iterdir() if p.name.startswith("adversarial-")
               and json.loads(p.read_text())["params"]["images"] == 30]  # fmt: skip
    record = json.loads(path.read_text())
    record["result"]["accuracy"] = [0.5, 0.9]  # a curve that rises: no attack gives that
    path.write_text(json.dumps(record))
    with caplog.at_level("WARNING", logger="digitlab.probes"):
        again = adversarial_examples(digits_run, spec)
    assert again.accuracy == first.accuracy and "unusable" in caplog.text


def test_an_image_fooled_at_a_smaller_eps_stays_wrong_at_every_larger_one(monkeypatch):
    """A hand-built case where a larger eps overshoots and an image is right again: its raw score rises, the reported
    accuracy must not. Three images of class 0; image 2 is wrong when clean."""
    from engine.probes import adversarial

    said = {0.1: np.array([1, 0, 0]), 0.2: np.array([0, 0, 0])}  # image 0 fooled at 0.1, right again at 0.2
    monkeypatch.setattr(adversarial, "attack", lambda model, x, y, spec, eps: (x, said[eps]))
    spec = validate_adversarial(AdversarialSpec("fgsm", (0.0, 0.1, 0.2)))
    labels, clean = np.zeros(3, dtype=int), np.array([0, 0, 1])
    scores, raw, _ = adversarial.adversarial_accuracy(None, np.zeros((3, 2, 2, 1)), labels, clean, spec)
    assert raw == pytest.approx([2 / 3, 2 / 3, 1.0])
    assert scores == pytest.approx([2 / 3, 1 / 3, 1 / 3])  # right throughout: image 1 only


def test_pgd_keeps_the_step_that_fooled_the_model(monkeypatch):
    """A hand-built loss whose gradient walks back once a pixel passes 0.7, and a model wrong only for pixels in
    0.75..0.85: the FGSM point (0.5 + 0.3 = 0.8) fools it, later steps would return to 0.7 and undo that."""
    from engine.probes import adversarial

    monkeypatch.setattr(adversarial, "loss_gradient", lambda model, x, y: np.where(x > 0.7, -1.0, 1.0))
    monkeypatch.setattr(
        adversarial,
        "_predict",
        lambda model, x: (
            (x.reshape(len(x), -1).mean(axis=1) > 0.75) & (x.reshape(len(x), -1).mean(axis=1) < 0.85)
        ).astype(int),
    )
    images = np.full((2, 2, 2, 1), 0.5, dtype=np.float32)
    perturbed, predicted = adversarial.pgd(None, images, np.zeros(2, dtype=int), eps=0.3, steps=5, step=0.1)
    np.testing.assert_allclose(perturbed, 0.8, atol=1e-6)
    assert list(predicted) == [1, 1]

"""Explanations: each method on a hand-built model whose answer is known, the stored-run path through BatchNorm
and merged classes, the image-file validator, the CLI, and the deletion test on a trained digits run."""

from __future__ import annotations

import json

import numpy as np
import pytest

from engine.cli import main
from engine.errors import InvalidConfig, InvalidDataFile
from engine.probes.explain import (
    METHODS,
    ExplainSettings,
    conv_layer_names,
    deletion_test,
    explain_images,
    explain_run,
    load_image_file,
    read_image_array,
)

ROW, COL, WEIGHT = 3, 4, 2.0  # the one pixel the hand-built model reads, and its logit weight


@pytest.fixture(scope="module")
def one_pixel_model():
    """8x8 input -> 1x1 identity conv -> flatten -> softmax over 2 classes, logits (-2 x, +2 x), x = pixel (3, 4)."""
    import keras

    model = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Conv2D(1, 1, name="conv", use_bias=False),
            keras.layers.Flatten(),
            keras.layers.Dense(2, activation="softmax", name="output"),
        ]
    )
    model.get_layer("conv").set_weights([np.ones((1, 1, 1, 1))])
    kernel = np.zeros((64, 2))
    kernel[ROW * 8 + COL] = [-WEIGHT, WEIGHT]
    model.get_layer("output").set_weights([kernel, np.zeros(2)])
    return model


def _image(value: float = 0.5) -> np.ndarray:
    rng = np.random.default_rng(0)
    image = rng.uniform(0.1, 1.0, size=(1, 8, 8, 1)).astype(np.float32)
    image[0, ROW, COL, 0] = value
    return image


def test_saliency_is_nonzero_exactly_at_the_pixel_the_model_reads(one_pixel_model):
    for samples in (0, 8):  # vanilla and SmoothGrad: the model is linear, so both equal |weight| there
        result = explain_images(one_pixel_model, _image(), ExplainSettings("saliency", smooth_samples=samples), 1)
        expected = np.zeros((8, 8))
        expected[ROW, COL] = WEIGHT
        np.testing.assert_allclose(result.heatmaps[0], expected, atol=1e-6)


def test_integrated_gradients_are_complete_on_the_linear_model(one_pixel_model):
    result = explain_images(one_pixel_model, _image(0.5), ExplainSettings("integrated-gradients"), 1)
    expected = np.zeros((8, 8))
    expected[ROW, COL] = WEIGHT * 0.5  # logit(x) - logit(black) = 2 x 0.5, all of it on the one pixel
    np.testing.assert_allclose(result.heatmaps[0], expected, atol=1e-6)


def test_occlusion_changes_the_probability_only_at_that_pixel(one_pixel_model):
    result = explain_images(one_pixel_model, _image(0.5), ExplainSettings("occlusion", patch=1), 1)
    # p(class 1) = sigmoid(2 x 2 x 0.5) before, 0.5 with the pixel blanked.
    drop = 1 / (1 + np.exp(-2 * WEIGHT * 0.5)) - 0.5
    expected = np.zeros((8, 8))
    expected[ROW, COL] = drop
    np.testing.assert_allclose(result.heatmaps[0], expected, atol=1e-6)
    assert result.predicted == (1,) and result.probabilities[0, 1] == pytest.approx(drop + 0.5, abs=1e-6)


def test_gradcam_matches_the_hand_formula(one_pixel_model):
    image = _image(0.5)
    result = explain_images(one_pixel_model, image, ExplainSettings("gradcam"), 1)
    # The conv map is the image itself; d logit1 / d map is WEIGHT at the pixel, 0 elsewhere; its mean is the
    # channel weight, so the map is ReLU(WEIGHT / 64 x image).
    np.testing.assert_allclose(result.heatmaps[0], np.maximum(WEIGHT / 64 * image[0, ..., 0], 0), atol=1e-6)
    assert result.layer == "conv"
    with pytest.raises(InvalidConfig, match="needs a conv layer"):
        explain_images(one_pixel_model, image, ExplainSettings("gradcam", layer="output"))


def test_bad_settings_and_targets_are_refused(one_pixel_model):
    with pytest.raises(InvalidConfig, match="Unknown"):
        ExplainSettings("lime")
    with pytest.raises(InvalidConfig, match="class to explain"):
        explain_images(one_pixel_model, _image(), ExplainSettings("saliency"), target=2)
    with pytest.raises(InvalidConfig, match="must fit"):  # refused, not silently shrunk to 8
        explain_images(one_pixel_model, _image(), ExplainSettings("occlusion", patch=9))


def test_image_files_are_validated(tmp_path):
    good = tmp_path / "good.npy"
    np.save(good, np.full((8, 8), 16, dtype=np.uint8))
    assert load_image_file(good, (8, 8), 16.0).shape == (1, 8, 8)
    cases = {
        "range": np.full((8, 8), 17.0),
        "shape": np.zeros((7, 8)),
        "nan": np.full((8, 8), np.nan),
        "pickled": np.array([{"a": 1}], dtype=object),
    }
    for name, array in cases.items():
        path = tmp_path / f"{name}.npy"
        np.save(path, array, allow_pickle=True)
        with pytest.raises(InvalidDataFile):
            load_image_file(path, (8, 8), 16.0)


def test_uploaded_bytes_pass_the_same_checks_as_a_file(tmp_path):
    import io

    def npy(array) -> bytes:
        buffer = io.BytesIO()
        np.save(buffer, array, allow_pickle=True)
        return buffer.getvalue()

    stack = np.arange(3 * 64, dtype=np.float64).reshape(3, 8, 8) % 17
    np.testing.assert_array_equal(read_image_array(npy(stack), "stack.npy", (8, 8), 16.0), stack)
    for data, message in [
        (npy(np.full((8, 8), 17.0)), "range 0..16"),
        (npy(np.zeros((7, 8))), "images of 8x8"),
        (npy(np.array([{"a": 1}], dtype=object)), "plain numeric"),
        (b"not an array at all", "plain numeric"),
        (b"", "plain numeric"),
    ]:
        with pytest.raises(InvalidDataFile, match=message):
            read_image_array(data, "upload.npy", (8, 8), 16.0)
    archive = io.BytesIO()
    np.savez(archive, x=np.zeros((8, 8)))
    with pytest.raises(InvalidDataFile, match="npz"):
        read_image_array(archive.getvalue(), "upload.npy", (8, 8), 16.0)


def test_one_class_per_image_is_explained_for_each(one_pixel_model):
    images = np.concatenate([_image(0.5), _image(0.9)])
    both = explain_images(one_pixel_model, images, ExplainSettings("saliency"), targets=[0, 1])
    assert both.targets == (0, 1)
    # On the linear model the saliency of either class is |weight| at the pixel it reads.
    np.testing.assert_allclose(both.heatmaps[:, ROW, COL], [WEIGHT, WEIGHT], atol=1e-6)
    ig = explain_images(one_pixel_model, images, ExplainSettings("integrated-gradients"), targets=[0, 1])
    np.testing.assert_allclose(ig.heatmaps[:, ROW, COL], [-WEIGHT * 0.5, WEIGHT * 0.9], atol=1e-6)
    with pytest.raises(InvalidConfig, match="one per image"):
        explain_images(one_pixel_model, images, ExplainSettings("saliency"), targets=[1])
    with pytest.raises(InvalidConfig, match="class to explain"):
        explain_images(one_pixel_model, images, ExplainSettings("saliency"), targets=[0, 2])


@pytest.mark.parametrize("method", METHODS)
def test_every_method_runs_on_a_batchnorm_run(digits_run, method):
    model = digits_run.load_model()
    assert len(conv_layer_names(model)) == 2
    result = explain_run(digits_run, ExplainSettings(method), index=3)
    assert result.heatmaps.shape == (1, 8, 8) and np.isfinite(result.heatmaps).all()
    assert result.heatmaps.any()
    assert result.predicted[0] == int(digits_run.test_probabilities()[3].argmax())


def test_gradcam_on_the_first_conv_layer_by_name(digits_run):
    first = conv_layer_names(digits_run.load_model())[0]
    result = explain_run(digits_run, ExplainSettings("gradcam", layer=first), index=0, target=5)
    assert result.layer == first and result.targets == (5,)


def test_merged_class_run_explains_its_merged_classes(trained_cache):
    from engine.datasets import load_dataset
    from engine.runs import get_or_train
    from engine.store import RunStore
    from engine.training.config import TrainConfig
    from tests.probes.conftest import SPEC

    config = TrainConfig(epochs=1, limit_train=300, batch_size=64, label_mapping="seed004-4class")
    spec = SPEC.for_data((8, 8, 1), 4)
    run = get_or_train(load_dataset("digits"), spec, config, store=RunStore(trained_cache / "runs")).run
    result = explain_run(run, ExplainSettings("gradcam"), index=0)
    assert result.probabilities.shape == (1, len(run.meta["class_names"])) and len(run.meta["class_names"]) < 10


def test_cli_explain_with_an_image_file(digits_run, probe_cache, tmp_path, capsys):
    from engine.datasets import load_dataset

    path = tmp_path / "two.npy"
    np.save(path, load_dataset("digits").x_test[:2, :, :, 0])
    code = main(["explain", digits_run.run_id, "--method", "saliency", "--image", str(path), "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and np.asarray(out["heatmaps"]).shape == (2, 8, 8)
    assert len(out["predicted"]) == 2 and np.allclose(np.sum(out["probabilities"], axis=1), 1, atol=1e-4)
    np.save(path, np.full((8, 8), 99.0))
    assert main(["explain", digits_run.run_id, "--method", "saliency", "--image", str(path), "--json"]) == 2
    assert "0..16" in capsys.readouterr().err


# Measured on this run (40 test images, k = 10): integrated gradients 2.0, occlusion 2.1, saliency 1.1, Grad-CAM
# 0.75 on the last conv layer and 0.6 on the first. Grad-CAM's map is a coarse, upsampled region that ranks
# background pixels (already 0, so blanking them changes nothing) among its top 10 on an 8x8 digit. Only the two
# methods with a clear margin are held to a floor here: saliency's 1.1 and Grad-CAM's 0.75 could cross 1.0 either
# way on another CPU's arithmetic; bench/explain_probes.py reports every method's ratio.
DELETION_FLOORS = {"integrated-gradients": 1.5, "occlusion": 1.5}


@pytest.mark.parametrize("method", list(DELETION_FLOORS))
def test_deletion_test_on_a_trained_digits_run(digits_run, method):
    """Masking a method's top-10 pixels must hurt the true class more than masking 10 random ink pixels."""
    from engine.probes.run_data import run_data

    data = run_data(digits_run).data
    model = digits_run.load_model()
    images, labels = data.x_test[:40], data.y_test[:40]
    heatmaps = explain_images(model, images, ExplainSettings(method), None).heatmaps
    result = deletion_test(model, images, labels, heatmaps, k=10, method=method)
    assert result.n_images == 40 and result.random_drop > 0
    assert result.ratio > DELETION_FLOORS[method], (method, result)

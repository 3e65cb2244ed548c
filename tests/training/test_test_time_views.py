"""Test-time mirror views (`TrainConfig.test_time_mirror`, `engine.test_time_views`): a model that predicts from
each image and its mirror, checked against the same weights in a plain model fed hand-mirrored images."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from engine.architectures.build import build_model
from engine.architectures.flops import flop_count, run_training_flops, training_flops
from engine.architectures.spec import ConvBlock, DenseLayer, ModelSpec
from engine.reports.recipe import _model_lines
from engine.test_time_views import MEAN_LAYER, MIRROR_LAYER, fold_views, has_mirror_views
from engine.training.augmentation import flip_notice
from engine.training.config import TrainConfig

SPEC = ModelSpec(
    conv_blocks=(ConvBlock(6, padding="same", batch_norm="after_pool"),),
    dense_layers=(DenseLayer(12, dropout=0.3),),
    input_shape=(8, 8, 1),
    num_classes=4,
    batch_norm_momentum=0.5,
)


@pytest.fixture(scope="module")
def models():
    """(plain model, mirror-view model) holding the same weights, batch norm statistics moved off their start."""
    plain = build_model(SPEC)
    rng = np.random.default_rng(0)
    images = rng.random((64, 8, 8, 1)).astype(np.float32)
    plain.fit(images, np.eye(4, dtype=np.float32)[rng.integers(0, 4, 64)], epochs=2, batch_size=16, verbose=0)
    mirror = build_model(SPEC, test_time_mirror=True)
    mirror.set_weights(plain.get_weights())
    return plain, mirror


@pytest.fixture(scope="module")
def images():
    # Not symmetric left-right, so a model that skipped the mirror would predict differently.
    return np.random.default_rng(1).random((5, 8, 8, 1)).astype(np.float32)


def _plain_logits(plain, images):
    """The plain model's logits: its output layer's matmul on its penultimate activations."""
    import keras

    penultimate = keras.Model(plain.inputs, plain.layers[-2].output)
    kernel, bias = (np.asarray(w, np.float64) for w in plain.layers[-1].get_weights())
    return np.asarray(penultimate(images, training=False), np.float64) @ kernel + bias


def _softmax(logits):
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def test_predictions_are_the_softmax_of_the_mean_logits_of_the_image_and_its_mirror(models, images):
    plain, mirror = models
    assert [layer.name for layer in mirror.layers][0] == MIRROR_LAYER
    assert [layer.name for layer in mirror.layers][-2:] == [MEAN_LAYER, "output"]
    expected = _softmax((_plain_logits(plain, images) + _plain_logits(plain, images[:, :, ::-1])) / 2)
    np.testing.assert_allclose(mirror.predict(images, verbose=0), expected, atol=1e-5)
    np.testing.assert_allclose(np.asarray(mirror(images, training=False)), expected, atol=1e-5)
    # The plain model alone predicts something else for these asymmetric images: the views matter.
    assert np.abs(plain.predict(images, verbose=0) - expected).max() > 1e-3


def test_training_is_unchanged_one_view_per_image(models):
    """One fit step from the same weights on the same batch moves both models' weights identically."""
    plain, _ = models
    rng = np.random.default_rng(2)
    batch = rng.random((16, 8, 8, 1)).astype(np.float32)
    labels = np.eye(4, dtype=np.float32)[rng.integers(0, 4, 16)]
    # Without dropout: each model instance draws its own dropout masks.
    spec = replace(SPEC, dense_layers=(DenseLayer(12),))
    first, second = build_model(spec), build_model(spec, test_time_mirror=True)
    first.set_weights(plain.get_weights())
    second.set_weights(plain.get_weights())
    first.train_on_batch(batch, labels)
    second.train_on_batch(batch, labels)
    assert np.abs(first.get_weights()[0] - plain.get_weights()[0]).max() > 1e-5  # the step moved the weights
    for a, b in zip(first.get_weights(), second.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-6)


def test_a_saved_model_loads_through_the_store_and_predicts_the_same(tmp_path, models, images):
    import keras

    from engine.test_time_views import view_layers

    _, mirror = models
    mirror.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(
        str(tmp_path / "model.keras"), safe_mode=True, compile=False, custom_objects=view_layers()
    )
    np.testing.assert_array_equal(loaded.predict(images, verbose=0), mirror.predict(images, verbose=0))


def test_saliency_is_the_mean_of_both_views_gradients(models, images):
    """d mean-logit / d x = (g(x) + mirror of g(mirror x)) / 2, with g the plain model's logit gradient."""
    from engine.probes.explain import _input_gradients

    plain, mirror = models
    targets = np.array([0, 1, 2, 3, 0])
    expected = (
        _input_gradients(plain, images, targets)
        + _input_gradients(plain, images[:, :, ::-1].copy(), targets)[:, :, ::-1]
    ) / 2
    np.testing.assert_allclose(_input_gradients(mirror, images, targets), expected, atol=1e-5)


def test_gradcam_adds_each_views_map_on_the_pixels_it_came_from(models, images):
    import tensorflow as tf

    from engine.probes.explain import gradcam

    plain, mirror = models
    targets = np.array([3, 2, 1, 0, 3])
    heatmaps, layer = gradcam(mirror, images, targets)
    assert layer == "block1_conv" and heatmaps.shape == (5, 8, 8)

    # By hand on the plain model: the mean logit of both views, each view's maps weighted by their own gradients.
    conv_index = [layer.name for layer in plain.layers].index("block1_conv")
    views = [tf.constant(images), tf.constant(images[:, :, ::-1].copy())]
    with tf.GradientTape() as tape:
        maps, features = [], []
        for view in views:
            x = view
            for position, layer in enumerate(plain.layers[:-1]):
                x = layer(x, training=False)
                if position == conv_index:
                    tape.watch(x)
                    maps.append(x)
            features.append(x)
        logits = tf.matmul((features[0] + features[1]) / 2, plain.layers[-1].kernel) + plain.layers[-1].bias
        picked = tf.gather(logits, targets, axis=1, batch_dims=1)
    cams = []
    for view_maps, grads in zip(maps, tape.gradient(picked, maps), strict=True):
        weights = tf.reduce_mean(grads, axis=(1, 2), keepdims=True)
        cams.append(np.asarray(tf.nn.relu(tf.reduce_sum(weights * view_maps, axis=-1)), np.float64))
    np.testing.assert_allclose(heatmaps, cams[0] + cams[1][:, :, ::-1], atol=1e-5)


def test_the_embedding_map_uses_the_features_the_output_layer_sees(models, images):
    import keras

    from engine.probes.embedding_map import penultimate_activations

    plain, mirror = models
    penultimate = keras.Model(plain.inputs, plain.layers[-2].output)
    expected = (np.asarray(penultimate(images)) + np.asarray(penultimate(images[:, :, ::-1].copy()))) / 2
    np.testing.assert_allclose(penultimate_activations(mirror, images), expected, atol=1e-5)


def test_the_exported_recipe_builds_the_same_model_in_plain_keras(models, images):
    import keras
    from keras import layers

    _, mirror = models
    namespace = {"keras": keras, "layers": layers}
    exec("\n".join(_model_lines(SPEC, test_time_mirror=True)), namespace)
    exported = namespace["model"]
    assert [layer.name for layer in exported.layers] == [layer.name for layer in mirror.layers]
    exported.set_weights(mirror.get_weights())
    np.testing.assert_allclose(exported.predict(images, verbose=0), mirror.predict(images, verbose=0), atol=1e-6)
    # And without the setting, no view layer is written.
    assert "MirrorViews" not in "\n".join(_model_lines(SPEC))


def test_fold_views_flips_the_mirrors_maps_back():
    identity = np.arange(6, dtype=float).reshape(1, 2, 3)
    mirrored = np.array([[[10.0, 20.0, 30.0], [40.0, 50.0, 60.0]]])
    folded = fold_views(np.concatenate([identity, mirrored]), 1)
    np.testing.assert_array_equal(folded, [[[30.0, 21.0, 12.0], [63.0, 54.0, 45.0]]])
    np.testing.assert_array_equal(fold_views(identity, 1), identity)
    with pytest.raises(ValueError, match="expected 1 or 2"):
        fold_views(np.zeros((3, 2, 2)), 1)


def test_validation_passes_count_twice_with_the_mirror():
    count = flop_count(SPEC)
    plain = training_flops(count, 100, 20, epochs=2, batch_size=10)
    assert training_flops(count, 100, 20, epochs=2, batch_size=10, views=2) - plain == 2 * 20 * count.forward_per_image
    meta = {
        "spec": SPEC.to_dict(),
        "dataset": {"n_train": 100, "n_validation": 20},
        "config": {**TrainConfig(batch_size=10).to_dict(), "test_time_mirror": True},
        "epochs_run": 2,
    }
    assert run_training_flops(meta) == plain + 2 * 20 * count.forward_per_image
    # A stored meta is untrusted: a setting that is not exactly true counts one view; a damaged recipe, no count.
    assert run_training_flops({**meta, "config": {**meta["config"], "test_time_mirror": "yes"}}) == plain
    assert run_training_flops({**meta, "config": ["test_time_mirror"]}) is None


def test_the_mirror_on_digits_is_warned_about():
    digits = [str(d) for d in range(10)]
    assert "mirror views" in flip_notice(TrainConfig(test_time_mirror=True), digits)
    both = flip_notice(TrainConfig(test_time_mirror=True, augment_flip=True), digits)
    assert both.startswith("Left-right flips are on and the model predicts")
    assert flip_notice(TrainConfig(test_time_mirror=True), ["T-shirt/top", "Trouser"]) == ""


def test_a_stored_run_predicts_with_its_views_on_every_path():
    """Train on digits through the engine: the stored test probabilities, the reloaded model and the plain layers
    fed hand-mirrored images agree, and the run's key differs from the same run without views."""
    from engine.datasets.registry import load_dataset
    from engine.runs import get_or_train, run_id_for

    digits = load_dataset("digits")
    spec = SPEC.for_data((8, 8, 1), 10)
    config = TrainConfig(epochs=1, batch_size=64, validation_split=0.2, test_time_mirror=True)
    result = get_or_train(digits, spec, config, record_dynamics=False)
    assert result.run.run_id != run_id_for(digits, spec, config.replace(test_time_mirror=False))
    assert has_mirror_views(result.run.meta)
    assert not has_mirror_views({"config": {"test_time_mirror": "true"}}) and not has_mirror_views({"config": []})
    model = result.run.load_model()
    x_test = (digits.x_test / 16.0).astype(np.float32).reshape(-1, 8, 8, 1)
    stored = result.run.test_probabilities()
    np.testing.assert_allclose(model.predict(x_test, verbose=0), stored, atol=1e-5)
    plain = build_model(spec)
    plain.set_weights(model.get_weights())
    by_hand = _softmax((_plain_logits(plain, x_test) + _plain_logits(plain, x_test[:, :, ::-1])) / 2)
    np.testing.assert_allclose(stored, by_hand, atol=1e-5)


def test_a_mirror_view_model_answers_the_same_for_an_image_and_its_mirror(models, images):
    """mean(z(x), z(mirror x)) does not change when x is mirrored: the model is exactly left-right symmetric."""
    _, mirror = models
    np.testing.assert_allclose(
        mirror.predict(images[:, :, ::-1].copy(), verbose=0), mirror.predict(images, verbose=0), atol=1e-6
    )


def test_scoring_batches_are_estimated_at_twice_the_images():
    from engine.memory_estimate import EVAL_BATCH, FLOAT_BYTES, MB, training_size

    plain = training_size(SPEC, TrainConfig(), 1_000, 300)
    views = training_size(SPEC, TrainConfig(test_time_mirror=True), 1_000, 300)
    per_image = plain.activations_per_image * FLOAT_BYTES / MB
    assert plain.eval_activation_mb == pytest.approx(min(EVAL_BATCH, 300) * per_image)
    assert views.eval_activation_mb == pytest.approx(2 * min(EVAL_BATCH, 300) * per_image)
    assert views.activation_mb == plain.activation_mb  # training batches are not doubled


def test_mirror_views_without_flips_are_warned_about_with_the_run():
    from engine.datasets.registry import load_dataset
    from engine.runs import run_warnings
    from engine.training.augmentation import mirror_views_notice

    assert "never trains on a mirrored image" in mirror_views_notice(TrainConfig(test_time_mirror=True))
    assert mirror_views_notice(TrainConfig(test_time_mirror=True, augment_flip=True)) == ""
    assert mirror_views_notice(TrainConfig()) == ""
    digits = load_dataset("digits")
    spec = SPEC.for_data((8, 8, 1), 10)
    assert any("never trains" in w for w in run_warnings(digits, spec, TrainConfig(test_time_mirror=True)))
    assert not any("never trains" in w for w in run_warnings(digits, spec, TrainConfig()))


def test_a_mirror_preset_states_twice_the_prediction_cost():
    from engine.architectures.presets import PRESETS

    plain, mirror = PRESETS["digitlab-fast28-v2"].summary(), PRESETS["digitlab-fast28-v3"].summary()
    assert plain["prediction_flops_per_image"] == plain["forward_flops_per_image"]
    assert mirror["prediction_flops_per_image"] == 2 * mirror["forward_flops_per_image"]
    # v3 adds only dropout to v2's network: one multiply per unit of its Dense 256.
    assert mirror["forward_flops_per_image"] - plain["forward_flops_per_image"] == 256

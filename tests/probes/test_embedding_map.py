"""The embedding map (issue 15, item 5): penultimate activations of hand-built models against numpy, the
PCA projection against scikit-learn, the stored run's map beside its raw-pixel map, the per-run probe cache (a
second call reads, a damaged record is recomputed, an unwritable cache still answers, a deleted run takes its
records with it) and the CLI."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from engine.cli import main
from engine.errors import InvalidConfig
from engine.probes import calibration, embedding_map, robustness, stored
from engine.store import RunStore

WEIGHTS = np.random.default_rng(3).normal(size=(64, 5))
BIAS = np.linspace(-0.5, 0.5, 5)


def _images(n: int = 40, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 1, size=(n, 8, 8, 1)).astype(np.float32)


def _sequential():
    """8x8 -> flatten -> Dense(5, relu) with set weights -> Dense(3, softmax): features = relu(x W + b)."""
    import keras

    model = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Flatten(),
            keras.layers.Dropout(0.5),  # must be off: activations are taken in inference mode
            keras.layers.Dense(5, activation="relu", name="features"),
            keras.layers.Dense(3, activation="softmax", name="output"),
        ]
    )
    model.get_layer("features").set_weights([WEIGHTS, BIAS])
    return model


def _functional_with_batchnorm():
    """Functional graph (its layers include the InputLayer) with a BatchNorm whose moving statistics are set:
    features = gamma (x W + b - mean) / sqrt(var + eps) + beta."""
    import keras

    inputs = keras.Input((8, 8, 1), name="image")
    x = keras.layers.Flatten()(inputs)
    x = keras.layers.Dense(5, name="features")(x)
    x = keras.layers.BatchNormalization(epsilon=1e-3, name="bn")(x)
    outputs = keras.layers.Dense(2, activation="softmax")(x)
    model = keras.Model(inputs, outputs)
    model.get_layer("features").set_weights([WEIGHTS, BIAS])
    gamma, beta, mean, var = np.full(5, 2.0), np.arange(5.0), np.full(5, 0.25), np.linspace(1, 3, 5)
    model.get_layer("bn").set_weights([gamma, beta, mean, var])
    return model, (gamma, beta, mean, var)


def test_penultimate_activations_of_a_sequential_model_equal_numpy():
    images = _images()
    expected = np.maximum(images.reshape(40, 64) @ WEIGHTS + BIAS, 0)
    got = embedding_map.penultimate_activations(_sequential(), images, batch_size=16)  # 3 batches, the last short
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_penultimate_activations_of_a_functional_model_with_batchnorm_equal_numpy():
    model, (gamma, beta, mean, var) = _functional_with_batchnorm()
    images = _images()
    dense = images.reshape(40, 64) @ WEIGHTS + BIAS
    expected = gamma * (dense - mean) / np.sqrt(var + 1e-3) + beta
    np.testing.assert_allclose(embedding_map.penultimate_activations(model, images), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    ("preset", "shape", "classes"),
    [("digitlab-small8", (8, 8, 1), 5), ("digitlab-fast28", (28, 28, 1), 10), ("seed001-cnn3", (28, 28, 1), 3)],
)
def test_builder_models_8x8_28x28_and_merged_classes_match_a_keras_sub_model(preset, shape, classes):
    """Every spec the builder makes (BatchNorm, dropout, merged classes, 8x8 and 28x28): the layer walk agrees with
    Keras' own sub-model from the input to the classifier's input."""
    import keras

    from engine.architectures.build import build_model
    from engine.architectures.presets import PRESETS

    model = build_model(PRESETS[preset].spec.for_data(shape, classes), compile=False)
    images = np.random.default_rng(1).uniform(0, 1, size=(6, *shape)).astype(np.float32)
    expected = np.asarray(keras.Model(model.inputs, model.layers[-1].input)(images, training=False))
    got = embedding_map.penultimate_activations(model, images)
    assert got.shape == (6, model.layers[-1].input.shape[-1])
    np.testing.assert_allclose(got, expected.reshape(6, -1), rtol=1e-5, atol=1e-5)


def test_a_model_not_ending_in_dense_is_refused_with_a_message():
    import keras

    model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Softmax()])
    with pytest.raises(InvalidConfig, match="ends in a Dense layer; this one ends in Softmax"):
        embedding_map.penultimate_activations(model, _images(4))


def test_pca_coordinates_match_scikit_learn_up_to_sign():
    from sklearn.decomposition import PCA

    images = _images(60)
    activations = np.maximum(images.reshape(60, 64) @ WEIGHTS + BIAS, 0)
    labels = np.arange(60) % 3
    predicted = labels.copy()
    predicted[:5] = (labels[:5] + 1) % 3
    result = embedding_map.compute_embedding_map(
        "r", activations, labels, predicted, space="features", method="pca", n_points=60
    )
    oracle = PCA(n_components=2).fit(activations.astype(np.float64))
    reference = oracle.transform(activations)
    for axis in range(2):
        sign = np.sign(result.coords[:, axis] @ reference[:, axis])
        np.testing.assert_allclose(result.coords[:, axis], sign * reference[:, axis], atol=1e-4)
    np.testing.assert_allclose(result.explained_variance, oracle.explained_variance_ratio_, atol=1e-5)
    assert np.array_equal(result.indices, np.arange(60)) and result.dimensions == 5
    assert result.mistakes.sum() == 5 and np.array_equal(np.flatnonzero(result.mistakes), np.arange(5))


# --------------------------------------------------------------------------------------------------------------
# A stored run (BatchNorm in the spec; conftest's digits run), copied per test so records start empty


@pytest.fixture
def own_run(digits_run, tmp_path):
    root = tmp_path / "runs"
    root.mkdir()
    shutil.copytree(digits_run.path, root / digits_run.run_id)
    return RunStore(root).get(digits_run.run_id)


def test_stored_run_map_and_pixel_map_show_the_same_images(own_run):
    from engine.datasets import load_dataset

    features = embedding_map.embedding_map(own_run, "pca")
    pixels = embedding_map.pixel_embedding_map(own_run, "pca")
    labels, predicted = own_run.test_labels(), own_run.test_probabilities().argmax(axis=1)
    assert len(features.indices) == len(labels) == features.test_size  # PCA: every test image by default
    for result in (features, pixels):
        assert np.array_equal(result.indices, pixels.indices)
        assert np.array_equal(result.true_labels, labels[result.indices])
        assert np.array_equal(result.predicted_labels, predicted[result.indices])
    assert features.dimensions == 32 and pixels.dimensions == 64  # Dense(32) feeds the classifier; 8x8 pixels
    # The pixel map is the Data page's map of the same test images (its own code path, same seed).
    from engine.exploration import embedding

    digits = load_dataset("digits")
    data_page = embedding(digits.x_test, digits.y_test, digits.value_max, n=len(labels), method="pca", seed=0)
    np.testing.assert_allclose(np.abs(pixels.coords), np.abs(data_page.coords), atol=1e-4)


def test_tsne_takes_a_stratified_subset_and_says_so(own_run):
    result = embedding_map.embedding_map(own_run, "tsne", limit=100)
    pixels = embedding_map.pixel_embedding_map(own_run, "tsne", limit=100)
    assert len(result.indices) == 100 and np.array_equal(result.indices, pixels.indices)
    assert set(result.true_labels) == set(own_run.test_labels())  # every class kept
    assert "stratified 100 of the 360 test images" in result.note and result.explained_variance is None
    default = embedding_map.check_request("tsne", "features", None, 10_000)
    assert default == 1_000  # the default subset on a 10 000-image test set
    with pytest.raises(InvalidConfig, match="t-SNE map takes 10 to 3,000 images"):
        embedding_map.check_request("tsne", "features", 5_000, 10_000)  # refused, never silently shrunk


def _counting(monkeypatch, module, name):
    calls = []
    original = getattr(module, name)

    def counted(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, counted)
    return calls


def test_second_call_reads_the_stored_map(own_run, monkeypatch):
    calls = _counting(monkeypatch, embedding_map, "compute_embedding_map")
    first = embedding_map.embedding_map(own_run, "pca")
    second = embedding_map.embedding_map(own_run, "pca")
    assert len(calls) == 1
    np.testing.assert_array_equal(first.coords, second.coords)
    assert first.to_dict() == second.to_dict()
    embedding_map.pixel_embedding_map(own_run, "pca")  # another parameter set is another record
    assert len(calls) == 2


@pytest.mark.parametrize(
    "damage",
    [
        lambda text: text[: len(text) // 2],  # truncated
        lambda text: "not json",
        lambda text: text.replace('"indices": [0,', '"indices": [99999,', 1),  # an index beyond the test set
        lambda text: text.replace('"coords": [[', '"coords": [[NaN, 0.0], [', 1),  # NaN and a row too many
        lambda text: text.replace('"run_digest": "', '"run_digest": "0', 1),  # computed from other run files
    ],
)
def test_a_damaged_record_is_recomputed_and_replaced(own_run, monkeypatch, damage):
    calls = _counting(monkeypatch, embedding_map, "compute_embedding_map")
    good = embedding_map.embedding_map(own_run, "pca")
    path = stored.record_path(own_run, "feature-map", json.loads(json.dumps(_params(own_run))))
    assert path.is_file()
    text = path.read_text()
    assert '"indices": [0,' in text and '"coords": [[' in text
    path.write_text(damage(text))
    again = embedding_map.embedding_map(own_run, "pca")
    assert len(calls) == 2
    assert again.to_dict() == good.to_dict()
    assert json.loads(path.read_text())["result"] == good.to_dict()  # the damaged record was replaced


def _params(run):
    return {"space": "features", "method": "pca", "points": len(run.test_labels()), "asked": None, "seed": 0}


def test_an_unwritable_cache_still_answers_without_storing(own_run, monkeypatch):
    blocker = own_run.path.parent / ".probes"
    blocker.write_text("a file where the probes folder should be")  # mkdir fails with a real OSError
    calls = _counting(monkeypatch, embedding_map, "compute_embedding_map")
    first = embedding_map.embedding_map(own_run, "pca")
    second = embedding_map.embedding_map(own_run, "pca")
    assert len(calls) == 2 and first.to_dict() == second.to_dict()
    assert blocker.read_text().startswith("a file")


def test_robustness_and_calibration_are_kept_and_go_with_the_run(own_run, monkeypatch):
    scored = _counting(monkeypatch, robustness, "accuracy_at")
    fitted = _counting(monkeypatch, calibration, "calibrate")
    curve = robustness.robustness_curve(own_run, "shift", [0, 1])
    assert robustness.robustness_curve(own_run, "shift", [0, 1]) == curve and len(scored) == 1
    result = calibration.run_calibration(own_run, 5)
    assert calibration.run_calibration(own_run, 5) == result and len(fitted) == 1
    calibration.run_calibration(own_run, 6)  # another bin count is another record
    assert len(fitted) == 2
    folder = stored.probe_folder(own_run)
    assert len(list(folder.glob("*.json"))) == 3
    RunStore(own_run.path.parent).delete(own_run.run_id)
    assert not folder.exists()


def test_cli_embedding_map_json(digits_run, probe_cache, capsys):
    assert main(["embedding-map", digits_run.run_id, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert {"coords", "indices", "true_labels", "predicted_labels", "explained_variance", "note"} <= set(out)
    assert out["space"] == "features" and out["method"] == "pca" and len(out["coords"]) == len(out["indices"]) == 360
    assert all(len(point) == 2 for point in out["coords"]) and len(out["explained_variance"]) == 2
    assert main(["embedding-map", digits_run.run_id, "--space", "pixels", "--limit", "50", "--json"]) == 0
    pixels = json.loads(capsys.readouterr().out)
    assert pixels["space"] == "pixels" and len(pixels["indices"]) == 50 and pixels["dimensions"] == 64
    assert main(["feature-map", digits_run.run_id, "--method", "tsne", "--limit", "5000", "--json"]) == 2  # old verb
    assert "t-SNE map takes 10 to 3,000 images" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("probe", "edit"),
    [
        ("robustness", lambda result: {**result, "accuracy": [1.5, 0.2]}),  # an accuracy above 1
        ("robustness", lambda result: {**result, "levels": [0]}),  # levels and accuracies of different lengths
        ("calibration", lambda result: {**result, "ece": -0.1}),
        ("calibration", lambda result: {**result, "bins": [{**result["bins"][0], "count": 3, "accuracy": None}]}),
        ("calibration", lambda result: {**result, "temperature": None}),  # an ECE after scaling without a T
    ],
)
def test_damaged_robustness_and_calibration_records_are_recomputed(own_run, monkeypatch, probe, edit):
    compute = (
        (lambda: robustness.robustness_curve(own_run, "shift", [0, 1]))
        if probe == "robustness"
        else (lambda: calibration.run_calibration(own_run, 5))
    )
    good = compute()
    (path,) = stored.probe_folder(own_run).glob(f"{probe}-*.json")
    record = json.loads(path.read_text())
    record["result"] = edit(record["result"])
    path.write_text(json.dumps(record))
    calls = _counting(monkeypatch, robustness if probe == "robustness" else calibration,
                      "accuracy_at" if probe == "robustness" else "calibrate")  # fmt: skip
    assert compute() == good and len(calls) == 1

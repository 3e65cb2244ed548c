"""Data statistics (`engine.exploration`) and model inspection (`engine.inspection`) on the bundled digits."""

from __future__ import annotations

import numpy as np
import pytest

from engine.architectures import build_model, layer_table
from engine.architectures.presets import PRESETS
from engine.datasets import load_dataset, normalised, stratified_indices
from engine.errors import DigitLabError
from engine.exploration import (
    ascii_thumbnail,
    class_distribution,
    dataset_card,
    embedding,
    mean_images,
    pixel_histogram,
    sample_indices,
)
from engine.inspection import (
    EmptyDrawing,
    activation_extractor,
    display_normalise,
    first_layer_kernels,
    layer_activations,
    predict,
    prepare_drawing,
)


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


@pytest.fixture(scope="module")
def small_model(digits):
    spec = PRESETS["digitlab-small8"].spec.for_data(digits.image_shape, digits.num_classes)
    return spec, build_model(spec, compile=False)


# ---- exploration ---------------------------------------------------------------------------------------------


def test_class_distribution_counts_and_shares(digits):
    table = class_distribution(digits)
    assert list(table["class"]) == list(range(10))
    assert table["train"].sum() == len(digits.y_train) and table["test"].sum() == len(digits.y_test)
    assert table["train %"].sum() == pytest.approx(100) and table["test %"].sum() == pytest.approx(100)
    assert table.loc[3, "train"] == int((digits.y_train == 3).sum())


def test_dataset_card_names_the_facts(digits):
    card = dict(dataset_card(digits, "UCI digits"))
    assert card["image shape"] == "8 x 8 x 1" and card["fingerprint"] == digits.fingerprint[:12]
    assert card["train images"] == f"{len(digits.x_train):,}" and "0 .. 16" in card["raw value range"]


def test_sample_indices_are_seeded_per_class_and_grow(digits):
    one = sample_indices(digits.y_train, 10, 1, seed=7)
    assert [len(p) for p in one] == [1] * 10
    assert all(digits.y_train[p[0]] == cls for cls, p in enumerate(one))
    again = sample_indices(digits.y_train, 10, 1, seed=7)
    assert all(np.array_equal(a, b) for a, b in zip(one, again, strict=True))
    five = sample_indices(digits.y_train, 10, 5, seed=7)
    assert all(f[0] == o[0] and len(set(f)) == 5 for f, o in zip(five, one, strict=True))
    other = sample_indices(digits.y_train, 10, 1, seed=8)
    assert any(a[0] != b[0] for a, b in zip(one, other, strict=True))


def test_mean_images_match_numpy(digits):
    means = mean_images(digits.x_train, digits.y_train, 10)
    assert means.shape == (10, 8, 8)
    expected = digits.x_train[digits.y_train == 4, :, :, 0].mean(axis=0)
    np.testing.assert_allclose(means[4], expected)


def test_pixel_histogram_counts_every_pixel(digits):
    hist = pixel_histogram(digits.x_train, digits.value_max)
    assert list(hist["value"]) == list(range(17))
    assert hist["count"].sum() == digits.x_train.size
    assert hist.loc[0, "count"] == int((digits.x_train == 0).sum())


def test_stratified_indices_keep_class_shares(digits):
    rows = stratified_indices(digits.y_train, 500, seed=1)
    assert len(rows) == 500 and len(set(rows)) == 500
    shares = np.bincount(digits.y_train[rows], minlength=10) / 500
    np.testing.assert_allclose(shares, np.bincount(digits.y_train) / len(digits.y_train), atol=0.01)
    assert len(stratified_indices(digits.y_train, 10**6, seed=1)) == len(digits.y_train)


def test_embedding_of_fewer_images_than_classes_still_shows_every_class(digits):
    result = embedding(digits.x_train, digits.y_train, digits.value_max, n=3, method="pca", seed=0)
    assert sorted(result.labels) == list(range(10))
    np.testing.assert_array_equal(result.indices, stratified_indices(digits.y_train, 10, seed=0))


def test_pca_embedding_matches_sklearn(digits):
    from sklearn.decomposition import PCA

    result = embedding(digits.x_train, digits.y_train, digits.value_max, n=300, method="pca", seed=3)
    assert result.coords.shape == (300, 2) and len(result.indices) == 300
    x = normalised(digits.x_train[result.indices].reshape(300, -1), digits.value_max)
    expected = PCA(n_components=2).fit_transform(x)
    # PCA axes are defined up to sign.
    for axis in range(2):
        assert np.allclose(result.coords[:, axis], expected[:, axis], atol=1e-4) or np.allclose(
            result.coords[:, axis], -expected[:, axis], atol=1e-4
        )
    assert 0 < sum(result.explained_variance) < 1


def test_tsne_embedding_is_reproducible(digits):
    a = embedding(digits.x_train, digits.y_train, digits.value_max, n=120, method="tsne", seed=0)
    b = embedding(digits.x_train, digits.y_train, digits.value_max, n=120, method="tsne", seed=0)
    assert a.coords.shape == (120, 2) and np.allclose(a.coords, b.coords)
    assert a.explained_variance is None


def test_ascii_thumbnail_shape():
    image = np.zeros((28, 28))
    image[4:24, 12:16] = 255
    text = ascii_thumbnail(image, 255)
    lines = text.split("\n")
    assert len(lines) == 14 and all(len(line) == 28 for line in lines)
    assert "█" in text


# ---- inspection: drawings ------------------------------------------------------------------------------------


def _canvas_with_bar(left=40, right=70, top=30, bottom=250, size=280):
    rgba = np.zeros((size, size, 4), dtype=np.uint8)
    rgba[..., 3] = 255  # opaque black background, as the page's canvas sends it
    rgba[top:bottom, left:right, :3] = 255
    return rgba


def test_drawn_bar_becomes_a_centred_mnist_bar():
    image = prepare_drawing(_canvas_with_bar(), (28, 28, 1), 255)
    assert image.shape == (28, 28, 1) and image.min() >= 0 and image.max() <= 255
    ink = image[..., 0] > 127
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    assert 18 <= rows[-1] - rows[0] + 1 <= 21  # fitted to the 20-pixel box
    assert abs((rows[0] + rows[-1]) / 2 - 13.5) <= 1 and abs((cols[0] + cols[-1]) / 2 - 13.5) <= 1
    assert cols[-1] - cols[0] + 1 <= 5  # aspect kept: still a thin bar


def test_drawn_bar_becomes_uci_block_counts():
    image = prepare_drawing(_canvas_with_bar(), (8, 8, 1), 16)
    assert image.shape == (8, 8, 1)
    assert np.array_equal(image, np.round(image)) and 8 <= image.max() <= 16 and image.min() == 0
    column_ink = image[..., 0].sum(axis=0)
    assert column_ink[3] + column_ink[4] > 0.9 * column_ink.sum()  # centred horizontally
    assert (image[..., 0].sum(axis=1) > 0).all()  # spans the full height


def test_empty_canvas_raises_empty_drawing():
    blank = np.zeros((280, 280, 4), dtype=np.uint8)
    blank[..., 3] = 255
    with pytest.raises(EmptyDrawing, match="draw a digit first"):
        prepare_drawing(blank, (28, 28, 1), 255)
    assert issubclass(EmptyDrawing, DigitLabError)


# ---- inspection: model ---------------------------------------------------------------------------------------


def test_layer_activations_follow_the_layer_table(digits, small_model):
    spec, model = small_model
    image01 = normalised(digits.x_test[0], digits.value_max)
    maps = layer_activations(model, image01)
    expected = [
        (row.name, row.kind, row.output_shape)
        for row in layer_table(spec)
        if row.kind in ("Conv2D", "MaxPooling2D", "AveragePooling2D")
    ]
    assert [(name, kind, fmap.shape) for name, kind, fmap in maps] == expected
    again = activation_extractor(model)(image01)
    assert all(np.allclose(a[2], b[2]) for a, b in zip(maps, again, strict=True))


def test_predict_is_a_distribution(digits, small_model):
    _, model = small_model
    probs = predict(model, normalised(digits.x_test[1], digits.value_max))
    assert probs.shape == (10,) and probs.sum() == pytest.approx(1, abs=1e-5)
    with pytest.raises(ValueError):
        predict(model, np.zeros((28, 28, 1)))


def test_first_layer_kernels_shape(small_model):
    spec, model = small_model
    kernels = first_layer_kernels(model)
    first = spec.conv_blocks[0]
    assert kernels.shape == (first.filters, first.kernel_size, first.kernel_size)
    np.testing.assert_allclose(kernels[2], model.get_layer("block1_conv").get_weights()[0][:, :, 0, 2])


def test_display_normalise_follows_seed_002():
    # Worked by hand: mean 1.5, deviations -1.5 -0.5 0.5 1.5, std sqrt(1.25) = 1.118; deviation / std * 64 + 128
    # = 42.1, 99.4, 156.6, 213.9, truncated to uint8.
    assert display_normalise(np.array([[0.0, 1.0], [2.0, 3.0]])).tolist() == [[42, 99], [156, 213]]
    # Nine 0s and one 10: mean 1, std 3, so 0 -> 128 - 64/3 = 106.7 and 10 -> 128 + 3 * 64 = 320, clipped to 255.
    spike = np.array([0.0] * 9 + [10.0]).reshape(2, 5)
    assert display_normalise(spike).ravel().tolist() == [106] * 9 + [255]
    assert display_normalise(-spike).ravel().tolist() == [149] * 9 + [0]  # 128 + 64/3, and 128 - 192 clipped to 0
    assert display_normalise(np.full((3, 3), 5.0)).tolist() == [[128] * 3] * 3  # std 0: no division
    assert display_normalise(spike).dtype == np.uint8

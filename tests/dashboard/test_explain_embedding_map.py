"""AppTest of the Explain page's "Embedding map" tab (issue 15, item 5): the learned map and the raw-pixel map of the
same test images, each checked against scikit-learn's PCA of an independent computation, mistakes marked where
the stored predictions are wrong, a clicked point's image and prediction, and the link carrying tab and method."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.dashboard.conftest import figures_by_title, open_page, plotly_array

EXPLAIN = "views/explain.py"


def _points(figure: dict) -> tuple[np.ndarray, np.ndarray, list[str], list[str]]:
    """(test indices, coordinates, trace name, symbol) of every point on a map, in the order of its indices."""
    indices, coords, names, symbols = [], [], [], []
    for trace in figure["data"]:
        if not trace.get("customdata"):
            continue  # the legend-only mistake marker
        indices += [int(row[0]) for row in trace["customdata"]]
        coords.append(np.stack([plotly_array(trace["x"]), plotly_array(trace["y"])], axis=1))
        names += [trace["name"]] * len(trace["customdata"])
        symbol = trace["marker"]["symbol"]
        symbols += symbol if isinstance(symbol, list) else [symbol] * len(trace["customdata"])
    order = np.argsort(indices)
    coords = np.concatenate(coords)[order]
    return np.asarray(indices)[order], coords, [names[i] for i in order], [symbols[i] for i in order]


def _same_up_to_sign(got: np.ndarray, reference: np.ndarray) -> None:
    for axis in range(2):
        sign = np.sign(got[:, axis] @ reference[:, axis])
        np.testing.assert_allclose(got[:, axis], sign * reference[:, axis], atol=1e-3)


def test_embedding_map_tab_maps_learned_features_and_pixels_like_scikit_learn(with_trained_run):
    import keras
    from sklearn.decomposition import PCA

    from engine.datasets import load_dataset
    from engine.store import RunStore

    app = open_page(EXPLAIN, query={"run": with_trained_run, "tab": "Embedding map"})
    assert not app.exception and not app.error
    figures = figures_by_title(app)
    learned, pixels = figures["Learned features, PCA"], figures["Raw pixels, PCA"]

    run = RunStore().get(with_trained_run)
    digits = load_dataset("digits")
    model = run.load_model()
    labels, predicted = run.test_labels(), run.test_probabilities().argmax(axis=1)
    # Independent activations: Keras' own sub-model up to the classifier's input (not the engine's layer walk).
    head = keras.Model(model.inputs, model.layers[-1].input)
    activations = np.asarray(head.predict(digits.x_test / 16.0, verbose=0)).reshape(len(labels), -1)

    for figure, values in ((learned, activations), (pixels, digits.x_test.reshape(len(labels), -1) / 16.0)):
        indices, coords, names, symbols = _points(figure)
        assert np.array_equal(indices, np.arange(len(labels)))  # PCA: every test image, once
        _same_up_to_sign(coords, PCA(n_components=2).fit_transform(values.astype(np.float64)))
        assert names == [str(c) for c in labels[indices]]  # coloured (one trace) by true class
        assert [s == "x" for s in symbols] == list(predicted[indices] != labels[indices])  # mistakes marked
    caption = " ".join(c.value for c in app.caption)
    assert f"{int((predicted != labels).sum())} of 360 are mistakes" in caption

    # A clicked point (what the chart's selection callback records) shows that image and its stored prediction.
    app.session_state["embedding_map_point"] = 17
    app.run()
    assert not app.exception
    figures = figures_by_title(app)
    shown = figures["Test image #17, clicked on the map"]
    assert np.array_equal(plotly_array(shown["data"][0]["z"]).reshape(8, 8), digits.x_test[17].reshape(8, 8))
    # The Embedding map tab is the page's last: its bars come after the other tabs' (which show image 0).
    charts = [json.loads(chart.proto.spec) for chart in app.get("plotly_chart")]
    bars = [f for f in charts if (f["layout"].get("title") or {}).get("text", "").startswith("Class probabilities")][-1]
    np.testing.assert_allclose(plotly_array(bars["data"][0]["y"]), run.test_probabilities()[17], atol=1e-6)


def test_embedding_map_link_carries_tab_and_method(with_trained_run):
    app = open_page(EXPLAIN, query={"run": with_trained_run, "tab": "Embedding map", "map": "tsne"})
    assert not app.exception and not app.error
    assert app.radio(key="embedding_map_method").value == "tsne"
    titles = list(figures_by_title(app))
    assert "Learned features, t-SNE" in titles and "Raw pixels, t-SNE" in titles
    assert app.query_params.get("map") in ("tsne", ["tsne"])
    assert app.query_params.get("tab") in ("Embedding map", ["Embedding map"])
    app.radio(key="embedding_map_method").set_value("pca").run()
    assert not app.exception
    assert "map" not in app.query_params  # the default is left out of the link


def test_a_link_from_before_the_tab_was_renamed_opens_the_embedding_map(with_trained_run):
    """Links shared when the tab was labelled "Feature map" open the same tab, without a notice, and the address
    bar then carries today's label."""
    app = open_page(EXPLAIN, query={"run": with_trained_run, "tab": "Feature map"})
    assert not app.exception and not app.error and not app.warning
    assert app.session_state["explain_tab"] == "Embedding map"
    assert "Learned features, PCA" in figures_by_title(app)
    assert app.query_params.get("tab") in ("Embedding map", ["Embedding map"])


@pytest.mark.parametrize("bad", ["umap", "<b>x</b>"])
def test_embedding_map_link_with_an_unknown_method_says_so(with_trained_run, bad):
    app = open_page(EXPLAIN, query={"run": with_trained_run, "tab": "Embedding map", "map": bad})
    assert not app.exception
    assert app.radio(key="embedding_map_method").value == "pca"
    assert any("map" in w.value for w in app.warning)

"""AppTest checks of the Data and Inspect pages, through the real entry point (Home.py)."""

from __future__ import annotations

import json

import pytest

from tests.dashboard.conftest import literal, open_app, open_page, open_tab, plotly_array


def _figures(app) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in app.get("plotly_chart")]


def _titles(app) -> list[str]:
    return [(figure["layout"].get("title") or {}).get("text", "") for figure in _figures(app)]


def test_data_page_shows_distribution_and_ten_classes():
    app = open_app("views/data.py")
    assert not app.exception
    figures = {(f["layout"].get("title") or {}).get("text", ""): f for f in _figures(app)}
    assert list(figures) == ["Class distribution: train vs test"]  # only the open tab (Classes) is drawn
    distribution = figures["Class distribution: train vs test"]
    assert [trace["name"] for trace in distribution["data"]] == ["train", "test"]
    assert all(len(trace["x"]) == 10 for trace in distribution["data"])
    table = next(df.value for df in app.dataframe if "train %" in df.value.columns)
    assert len(table) == 10 and table["train"].sum() == 1437 and table["test"].sum() == 360
    card_on_every_tab = next(df.value for df in app.dataframe if list(df.value.columns) == ["field", "value"])
    open_tab(app, "data_tab", "Images")
    assert not app.exception
    figures = {(f["layout"].get("title") or {}).get("text", ""): f for f in _figures(app)}
    titles = list(figures)
    assert "Class distribution: train vs test" not in titles
    samples = next(f for t, f in figures.items() if t.startswith("5 random samples per class"))  # five by default
    assert samples["data"][0]["colorscale"][0] == [0.0, "black"]  # value 0 black, as on Evaluate and Inspect
    assert samples["layout"]["xaxis"]["visible"] is False  # no axes, no stray ticks
    assert "Mean image per class (train set)" in titles
    assert any(t.startswith("Pixel intensities") for t in titles)
    assert not any(t.startswith("PCA of") for t in titles)
    open_tab(app, "data_tab", "2-D map")
    assert not app.exception
    assert [t for t in _titles(app) if t.startswith("PCA of 1,000 train images")]
    assert "Mean image per class (train set)" not in _titles(app)
    card_element = next(df for df in app.dataframe if list(df.value.columns) == ["field", "value"])
    card = card_element.value
    assert card.equals(card_on_every_tab)  # the dataset card stays above the tabs
    assert dict(zip(card["field"], card["value"], strict=True))["image shape"] == "8 x 8 x 1"
    # The value column is wide, so the source is not cut off (issue 14).
    assert json.loads(card_element.proto.columns)["value"]["width"] == "large"


def _block_path(node, key: str, path=()):
    """The block types from `node` down to the widget with `key` (None when absent)."""
    if getattr(node, "key", None) == key and not hasattr(node, "children"):
        return path
    for child in getattr(node, "children", {}).values():
        found = _block_path(child, key, (*path, getattr(child, "type", "")))
        if found is not None:
            return found
    return None


def test_sidebar_labels_have_room():
    app = open_app()
    path = _block_path(app.sidebar, "cfg_augmentation")
    assert path is not None and "column" not in path  # a half-width column cut the label to "Augme…"
    placeholder = app.text_input(key="cfg_label_mapping").placeholder
    assert placeholder and len(placeholder) <= 30  # a longer one was cut off in the sidebar


def test_reshuffle_changes_the_seed_and_the_samples():
    app = open_tab(open_app("views/data.py"), "data_tab", "Images")
    before = app.session_state["data_seed"]
    grid_before = next(t for t in _titles(app) if "random sample" in t)
    app.button(key="data_reshuffle").click().run()
    assert not app.exception
    assert app.session_state["data_seed"] == before + 1
    grid_after = next(t for t in _titles(app) if "random sample" in t)
    assert grid_after != grid_before and f"seed {before + 1}" in grid_after
    assert any(f"Seed **{before + 1}**" in c.value for c in app.caption)


def test_data_page_with_several_samples_per_class():
    app = open_tab(open_app("views/data.py"), "data_tab", "Images")
    app.slider(key="data_per_class").set_value(3).run()
    app.radio(key="data_split").set_value("test").run()
    assert not app.exception
    assert any(t.startswith("3 random samples per class (test set") for t in _titles(app))


def test_inspect_shows_activations_for_every_conv_and_pool_layer(with_trained_run):
    from engine.architectures import ModelSpec, layer_table
    from engine.store import RunStore

    app = open_app("views/inspect.py", query={"run": with_trained_run})
    assert not app.exception
    assert not app.error
    spec = ModelSpec.from_dict(RunStore().get(with_trained_run).meta["spec"])
    expected = [row.name for row in layer_table(spec) if row.kind in ("Conv2D", "MaxPooling2D", "AveragePooling2D")]
    titles = _titles(app)
    for name in expected:
        assert any(t.startswith(f"{name} (") for t in titles), f"no activation figure for {name}: {titles}"
    probabilities = next(f for f in _figures(app) if f["layout"]["title"]["text"].startswith("Class probabilities"))
    assert list(probabilities["data"][0]["x"]) == [str(d) for d in range(10)]
    assert not any(t.startswith("First-layer kernels") for t in titles)  # only the open tab is drawn
    assert not any("draw a digit first" in i.value for i in app.info)  # the drawing tab too (test_inspect_drawing)
    open_tab(app, "inspect_tab", "First-layer kernels")
    assert not app.exception
    titles = _titles(app)
    assert any(t.startswith("First-layer kernels") for t in titles)
    assert not any(t.startswith("Class probabilities") for t in titles)
    assert app.query_params.get("run") in (with_trained_run, [with_trained_run])


def test_inspect_random_pick_moves_to_another_image(with_trained_run):
    app = open_app("views/inspect.py", query={"run": with_trained_run})
    app.button(key="inspect_random").click().run()
    assert not app.exception
    index = app.session_state["inspect_index"]
    assert any(t.startswith(f"Test image #{index} ") for t in _titles(app))
    app.radio(key="inspect_scaling").set_value("raw activations").run()
    assert not app.exception
    assert any("raw activations" in t for t in _titles(app))


@pytest.fixture
def empty_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("DIGIT_LAB_CACHE", str(tmp_path / "empty-cache"))


def test_inspect_without_a_run_explains_what_to_do(empty_cache):
    app = open_app("views/inspect.py")
    assert not app.exception
    assert any("needs a trained model" in i.value for i in app.info)
    assert not app.get("plotly_chart")


def test_data_page_tsne_map_of_a_small_subset():
    app = open_tab(open_app("views/data.py"), "data_tab", "2-D map")
    app.slider(key="data_embed_n").set_value(100).run()
    app.radio(key="data_embed_method").set_value("tsne").run()
    assert not app.exception
    assert "t-SNE of 100 train images" in _titles(app)


def test_data_page_explains_an_unavailable_dataset(tmp_path, monkeypatch):
    from engine.datasets import mnist_like, network

    monkeypatch.setenv("HOME", str(tmp_path))  # no Keras download cache
    monkeypatch.delenv("KERAS_HOME", raising=False)
    monkeypatch.delenv(mnist_like.MNIST_ENV, raising=False)
    monkeypatch.setitem(network.FETCHERS, "mnist", lambda: (_ for _ in ()).throw(OSError("offline")))
    app = open_app("views/data.py", query={"dataset": "mnist"})
    assert not app.exception
    warnings = [w.value for w in app.warning]
    assert len(warnings) == 1 and "not available offline" in warnings[0] and "To use it" in warnings[0]
    assert not app.get("plotly_chart")


def test_inspect_answers_a_revisit_from_its_caches_with_the_same_numbers(with_trained_run, monkeypatch):
    """Coming back to Inspect runs no model: the probabilities and activations of that image are kept for the
    server. The kept numbers are the run's own: its stored test-set probabilities (scored at training time)."""
    import numpy as np

    from engine import inspection
    from engine.store import RunStore

    calls = {"model": 0}
    predict, extract = inspection.predict, inspection.ActivationExtractor.__call__

    def counted(function):
        def wrapper(*args, **kwargs):
            calls["model"] += 1
            return function(*args, **kwargs)

        return wrapper

    monkeypatch.setattr(inspection, "predict", counted(predict))
    monkeypatch.setattr(inspection.ActivationExtractor, "__call__", counted(extract))
    app = open_page("views/inspect.py", query={"run": with_trained_run, "image": "17"})
    assert not app.exception
    first = [f for f in _figures(app) if "maps" in f["layout"]["title"]["text"]]
    seen = calls["model"]
    app.switch_page("views/data.py").run()
    app.switch_page("views/inspect.py").run()
    assert not app.exception and app.number_input(key="inspect_index").value == 17
    assert calls["model"] == seen  # nothing recomputed
    assert [f for f in _figures(app) if "maps" in f["layout"]["title"]["text"]] == first
    bars = next(f for f in _figures(app) if f["layout"]["title"]["text"].startswith("Class probabilities"))
    stored = RunStore().get(with_trained_run).test_probabilities()[17]
    np.testing.assert_allclose(plotly_array(bars["data"][0]["y"]), stored, atol=1e-5)


def test_data_page_maps_a_small_upload_whole_and_lists_a_planted_bad_one(tmp_path, monkeypatch):
    """A split of 30 images (under the slider's 100) is mapped whole instead of a slider with min == max; a bad
    upload planted in the cache is in the picker as unavailable, with its reason on the page."""
    import io

    import numpy as np

    from engine.datasets.uploads import register_upload, uploads_dir

    monkeypatch.setenv("DIGIT_LAB_CACHE", str(tmp_path))
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 256, size=(30, 8, 8), dtype=np.uint8), np.arange(30) % 10
    buffer = io.BytesIO()
    np.savez(buffer, x_train=x, y_train=y, x_test=x[:20], y_test=y[:20])
    name = register_upload([("small.npz", buffer.getvalue())])
    app = open_tab(open_app("views/data.py", query={"dataset": name}), "data_tab", "2-D map")
    assert not app.exception
    assert "PCA of 30 train images" in " ".join(_titles(app))

    planted = uploads_dir() / "00112233445566ff"
    planted.mkdir()
    (planted / "info.json").write_text(json.dumps({"image_shape": [1, 1, 1], "num_classes": 10, "files": []}))
    app = open_app("views/data.py", query={"dataset": "upload-00112233445566ff"})
    assert not app.exception
    assert "upload-00112233445566ff (not available here)" in app.selectbox(key="dataset").options
    shown = literal(" ".join(str(w.value) for w in app.warning))
    assert "is unusable: the images are 1x1 pixels" in shown


def test_data_page_says_and_changes_an_uploads_pixel_scaling(tmp_path, monkeypatch):
    """A 0..16 upload is said to be divided by 16 (auto), and choosing 'type' selects the same files divided by 255."""
    import io

    import numpy as np
    from sklearn.datasets import load_digits

    from engine.datasets.uploads import register_upload

    monkeypatch.setenv("DIGIT_LAB_CACHE", str(tmp_path))
    digits = load_digits()
    x, y = digits.images.astype(np.uint8), digits.target
    buffer = io.BytesIO()
    np.savez(buffer, x_train=x[:300], y_train=y[:300], x_test=x[300:400], y_test=y[300:400])
    name = register_upload([("digits.npz", buffer.getvalue())])
    app = open_app("views/data.py", query={"dataset": name})
    assert not app.exception
    texts = [t.value for t in app.text]
    assert any(t.startswith("Pixel scaling: divided by 16 (auto)") for t in texts)
    assert app.selectbox(key="data_pixel_scaling").value == "auto"
    app.selectbox(key="data_pixel_scaling").set_value("type").run()
    assert not app.exception
    assert app.session_state["dataset"] != name
    assert any("divided by 255" in t and "reach only 16" in t for t in (t.value for t in app.text))
    assert app.selectbox(key="data_pixel_scaling").value == "type"


def test_every_sidebar_select_has_the_full_width():
    # In a half or third column a select showed "rel" for relu and "one_cycl" for one_cycle (issue 23, item 17).
    from dashboard.sidebar import ARCHITECTURE_KEY

    app = open_app()
    app.session_state["n_dense"] = 1  # a dense layer's activation select is drawn too
    app.session_state[ARCHITECTURE_KEY] = True
    app.run()
    keys = [box.key for box in app.sidebar.selectbox]
    assert {"conv1_activation", "dense1_activation", "cfg_schedule"} <= set(keys), keys
    in_columns = [key for key in keys if "column" in (_block_path(app.sidebar, key) or ())]
    assert not in_columns

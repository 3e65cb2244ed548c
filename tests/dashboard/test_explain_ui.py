"""AppTest checks of the explanation views added around the Explain page (issue 15, item 2): two runs side by
side, an uploaded array, only the open tab computing, the link carrying every option, the drawn digit's heatmap on
Inspect and the heatmaps over Evaluate's mistakes gallery.

Oracles: occlusion computed by hand from `model.predict` (blank a patch, measure the probability lost), the
model's own predictions, and the validator's message for a bad upload. The methods themselves are oracle-tested
on hand-built models in tests/probes/test_explain.py.
"""

from __future__ import annotations

import io
import json
import shutil
import sys
import types

import numpy as np
import pytest

from tests.dashboard.conftest import figures_by_title, literal, open_page, plotly_array

EXPLAIN = "views/explain.py"


@pytest.fixture(scope="module")
def explain_cache(trained_cache, tmp_path_factory):
    """A copy of the shared cache plus a second run with the same classes and one with merged classes, so the
    other dashboard tests keep their one-run cache. Returns (folder, first, same-classes, merged-classes ids)."""
    import os

    source, first = trained_cache
    folder = tmp_path_factory.mktemp("explain-cache") / "cache"
    shutil.copytree(source, folder)
    old = os.environ.get("DIGIT_LAB_CACHE")
    os.environ["DIGIT_LAB_CACHE"] = str(folder)
    try:
        from engine.datasets import load_dataset
        from engine.runs import get_or_train, preset_request

        dataset = load_dataset("digits")
        spec, config = preset_request("digitlab-small8", dataset, epochs=2, seed=7)
        same = get_or_train(dataset, spec, config, preset="digitlab-small8").run.run_id
        spec, config = preset_request("digitlab-small8", dataset, epochs=1, label_mapping="0,6|1,7|2,3,5,8|4,9")
        merged = get_or_train(dataset, spec, config, preset="digitlab-small8").run.run_id
    finally:
        if old is None:
            os.environ.pop("DIGIT_LAB_CACHE", None)
        else:
            os.environ["DIGIT_LAB_CACHE"] = old
    assert len({first, same, merged}) == 3
    return folder, first, same, merged


@pytest.fixture
def runs(explain_cache, monkeypatch):
    folder, first, same, merged = explain_cache
    monkeypatch.setenv("DIGIT_LAB_CACHE", str(folder))
    return first, same, merged


def _model(run_id):
    from engine.store import RunStore

    return RunStore().get(run_id).load_model()


def _digits():
    from engine.datasets import load_dataset

    return load_dataset("digits")


def _predict(model, images01: np.ndarray) -> np.ndarray:
    return np.asarray(model.predict(images01.reshape(-1, 8, 8, 1).astype(np.float32), verbose=0))


def _hand_occlusion(model, image01: np.ndarray, target: int, patch: int) -> np.ndarray:
    """Blank every patch x patch square in turn (stride 1), measure the target's probability lost, and average
    the losses of the squares covering each pixel."""
    base = _predict(model, image01)[0, target]
    positions = [(r, c) for r in range(9 - patch) for c in range(9 - patch)]
    batch = np.repeat(image01[None], len(positions), axis=0)
    for k, (r, c) in enumerate(positions):
        batch[k, r : r + patch, c : c + patch] = 0.0
    drops = base - _predict(model, batch)[:, target]
    heat, covered = np.zeros((8, 8)), np.zeros((8, 8))
    for (r, c), drop in zip(positions, drops, strict=True):
        heat[r : r + patch, c : c + patch] += drop
        covered[r : r + patch, c : c + patch] += 1
    return heat / covered


def _scaled(heat: np.ndarray) -> np.ndarray:
    return heat / np.abs(heat).max()


def _param(app, name):
    value = app.query_params.get(name)
    return value[0] if isinstance(value, list) else value


# --- two runs side by side --------------------------------------------------------------------------------------


def test_a_second_run_is_explained_beside_the_first_on_the_same_image(runs, monkeypatch):
    from dashboard import services
    from engine.store import RunStore

    first, same, merged = runs
    # A stored run on another dataset (same 8x8 size and classes, as a custom upload could be) is never offered.
    elsewhere_meta = {**RunStore().get(same).meta}
    elsewhere_meta["dataset"] = {**elsewhere_meta["dataset"], "name": "upload-0123456789abcdef"}
    elsewhere = types.SimpleNamespace(run_id="0123456789abcdef0123", meta=elsewhere_meta)
    other_copy_meta = {**RunStore().get(same).meta}  # the same name, other files: another dataset too
    other_copy_meta["dataset"] = {**other_copy_meta["dataset"], "fingerprint": "f" * 64}
    other_copy = types.SimpleNamespace(run_id="abcdef0123456789abcd", meta=other_copy_meta)

    class StoreWithAnotherDataset:
        def __init__(self):
            self.real = RunStore()

        def list(self):
            return [*self.real.list(), elsewhere, other_copy]

        def __getattr__(self, name):
            return getattr(self.real, name)

    monkeypatch.setattr(services, "store", StoreWithAnotherDataset)
    query = {"run": first, "second": same, "method": "Occlusion", "patch": "1", "class": "3", "image": "5"}
    app = open_page(EXPLAIN, query=query)
    assert not app.exception and not app.error
    offered = app.selectbox(key="explain_second").options
    assert any(same[:10] in option for option in offered)
    assert not any(merged[:10] in option for option in offered)  # other classes: never offered as comparable
    assert not any(elsewhere.run_id[:10] in option or other_copy.run_id[:10] in option for option in offered)
    # Every run offered (other tests may have stored more) fits: the same dataset copy, image size and classes.
    first_meta = RunStore().get(first).meta
    for option in offered[1:]:
        fits = [r for r in RunStore().list() if option.startswith(r.run_id[:10])]
        assert len(fits) == 1 and fits[0].run_id != first
        assert fits[0].meta["dataset"]["fingerprint"] == first_meta["dataset"]["fingerprint"]
        assert fits[0].meta["class_names"] == first_meta["class_names"]
    dataset = _digits()
    image01 = dataset.x_test[5].astype(np.float32) / dataset.value_max
    figures = figures_by_title(app)
    for run_id in (first, same):
        model = _model(run_id)
        title = next(t for t in figures if t.startswith("Occlusion") and t.endswith(f"class 3 ({run_id[:6]})"))
        heat = plotly_array(figures[title]["data"][1]["z"])
        np.testing.assert_allclose(heat, _scaled(_hand_occlusion(model, image01, 3, 1)), atol=1e-3)
        assert np.array_equal(plotly_array(figures[title]["data"][0]["z"]), dataset.x_test[5].reshape(8, 8))
    bars = [f for t, f in figures.items() if t.startswith("Class probabilities")]
    assert len(bars) == 2
    shown = sorted(tuple(np.round(plotly_array(b["data"][0]["y"]), 4)) for b in bars)
    expected = sorted(tuple(np.round(_predict(_model(r), image01)[0], 4)) for r in (first, same))
    np.testing.assert_allclose(np.array(shown), np.array(expected), atol=2e-4)
    assert any(first in m.value for m in app.markdown) and any(same in m.value for m in app.markdown)
    assert _param(app, "second") == same


def test_a_linked_second_run_with_other_classes_is_refused_and_says_why(runs):
    first, _, merged = runs
    app = open_page(EXPLAIN, query={"run": first, "second": merged})
    assert not app.exception
    assert any("second" in w.value and "same image size and classes" in w.value for w in app.warning)
    assert app.session_state["explain_second"] == ""
    assert len([t for t in figures_by_title(app) if "evidence for" in t]) == 1
    app = open_page(EXPLAIN, query={"run": first, "second": "../../etc"})
    assert not app.exception
    problems = " ".join(str(m.value) for m in [*app.warning, *app.info, *app.markdown, *app.caption])
    assert "not a run id" in problems


# --- an uploaded array ------------------------------------------------------------------------------------------


def _npy(array) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=True)
    return buffer.getvalue()


def test_an_uploaded_stack_is_explained_image_by_image(runs):
    first, _, _ = runs
    dataset = _digits()
    stack = dataset.x_test[[11, 12], ..., 0].astype(np.float64)  # N x H x W, as `--image` takes
    app = open_page(EXPLAIN, query={"run": first, "method": "Occlusion", "patch": "1"})
    app.radio(key="explain_source").set_value("An uploaded .npy array").run()
    assert not app.exception
    assert any("Upload a .npy file" in i.value for i in app.info)
    app.file_uploader(key="explain_upload").set_value(("two.npy", _npy(stack), "application/octet-stream")).run()
    assert not app.exception and not app.error
    model = _model(first)
    for pick in (0, 1):
        if pick:
            app.number_input(key="explain_upload_index").set_value(1).run()
            assert not app.exception
        image01 = stack[pick] / dataset.value_max
        probabilities = _predict(model, image01)[0]
        predicted = int(probabilities.argmax())
        overlay = next(f for t, f in figures_by_title(app).items() if t.startswith("Occlusion"))
        assert np.array_equal(plotly_array(overlay["data"][0]["z"]), stack[pick])
        np.testing.assert_allclose(
            plotly_array(overlay["data"][1]["z"]), _scaled(_hand_occlusion(model, image01, predicted, 1)), atol=1e-3
        )
        bars = next(f for t, f in figures_by_title(app).items() if t.startswith("Class probabilities"))
        np.testing.assert_allclose(plotly_array(bars["data"][0]["y"]), probabilities, atol=1e-5)
        assert any(f"two.npy [{pick}] of 2" in literal(c.value) for c in app.caption)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (_npy(np.full((8, 8), 17.0)), "pixel values must lie in this dataset's range 0..16"),
        (_npy(np.zeros((28, 28))), "the model takes images of 8x8"),
        (_npy(np.array([{"a": 1}], dtype=object)), "is not a plain numeric .npy array"),
        (b"<script>alert(1)</script>", "is not a plain numeric .npy array"),
    ],
    ids=["range", "shape", "pickled", "not-npy"],
)
def test_a_bad_upload_shows_the_validators_message(runs, data, message):
    first, _, _ = runs
    app = open_page(EXPLAIN, query={"run": first})
    app.radio(key="explain_source").set_value("An uploaded .npy array").run()
    app.file_uploader(key="explain_upload").set_value(("bad [x](http://e.com).npy", data, "text/plain")).run()
    assert not app.exception
    errors = [e.value.replace("\\", "") for e in app.error]
    assert any(message in e for e in errors), errors
    assert not any("evidence for" in t for t in figures_by_title(app))
    assert not any("](http" in e.value for e in app.error)  # the file name is escaped, never a link


# --- only the open tab computes; closed tabs keep their link ----------------------------------------------------


def test_only_the_open_tab_computes_and_closed_tabs_keep_their_values(runs, monkeypatch):
    import engine.probes.calibration as calibration
    import engine.probes.explain as explain
    import engine.probes.robustness as robustness

    first, _, _ = runs
    calls: dict[str, int] = {"explain": 0, "robustness": 0, "calibration": 0}

    def counting(name, function):
        def wrapper(*args, **kwargs):
            calls[name] += 1
            return function(*args, **kwargs)

        return wrapper

    monkeypatch.setattr(explain, "explain_images", counting("explain", explain.explain_images))
    monkeypatch.setattr(robustness, "robustness_curve", counting("robustness", robustness.robustness_curve))
    monkeypatch.setattr(calibration, "run_calibration", counting("calibration", calibration.run_calibration))
    query = {"run": first, "tab": "Calibration", "method": "Saliency", "opacity": "0.35", "bins": "13"}
    app = open_page(EXPLAIN, query=query)
    assert not app.exception and not app.error
    assert calls["explain"] == 0 and calls["robustness"] == 0
    assert not any("evidence for" in t or t.startswith("Test accuracy under") for t in figures_by_title(app))
    assert app.slider(key="calib_bins").value == 13
    # The explain tab's values were set by the link but its widgets were not drawn: still in the link.
    assert _param(app, "method") == "Saliency" and _param(app, "opacity") == "0.35"
    app.slider(key="calib_bins").set_value(12).run()
    assert _param(app, "method") == "Saliency" and _param(app, "opacity") == "0.35"

    app.session_state["explain_tab"] = "Explain a prediction"
    app.run()
    assert not app.exception
    assert app.slider(key="explain_opacity").value == pytest.approx(0.35)
    assert any(t.startswith("Saliency") for t in figures_by_title(app))
    assert not any(t.startswith("Reliability") for t in figures_by_title(app))
    assert _param(app, "bins") == "12"  # the closed calibration tab's slider kept its value


def test_the_link_carries_every_explain_option_both_ways(runs):
    first, same, _ = runs
    from engine.probes.explain import conv_layer_names

    first_layer = conv_layer_names(_model(first))[0]
    query = {
        "run": first,
        "tab": "Robustness",
        "image": "4",
        "method": "SmoothGrad",
        "class": "3",
        "layer": first_layer,
        "patch": "3",
        "opacity": "0.45",
        "smooth": "40",
        "ig_steps": "64",
        "level": "45",  # of rotation, the default perturbation (a default is left out of the link)
        "bins": "12",
        "second": same,
    }
    app = open_page(EXPLAIN, query=query)
    assert not app.exception and not app.error
    assert not app.warning, [w.value for w in app.warning]
    for name, value in query.items():
        assert _param(app, name) == value, name  # read, kept while its tab is closed, and written back
    assert app.select_slider(key="robust_level").value == 45
    app.session_state["explain_tab"] = "Explain a prediction"
    app.run()
    assert not app.exception and not app.error
    assert app.selectbox(key="explain_class").value == 3
    assert app.slider(key="explain_smooth").value == 40
    assert app.selectbox(key="explain_second").value == same
    assert app.number_input(key="explain_index").value == 4
    app.selectbox(key="explain_method").set_value("Grad-CAM").run()
    assert app.selectbox(key="explain_layer").value == first_layer
    assert any(t.startswith(f"Grad-CAM of layer {first_layer}") for t in figures_by_title(app))
    app.selectbox(key="explain_method").set_value("Occlusion").run()
    assert app.slider(key="explain_patch").value == 3
    for name, value in query.items():
        if name not in ("tab", "method"):
            assert _param(app, name) == value, name


def test_link_values_that_do_not_fit_are_refused_one_by_one(runs):
    first, _, _ = runs
    query = {"run": first, "class": "abc", "opacity": "nan", "patch": "99", "bins": "3", "level": "17"}
    app = open_page(EXPLAIN, query=query)
    assert not app.exception
    notices = " ".join(str(m.value) for m in [*app.warning, *app.info, *app.markdown, *app.caption])
    for name in ("class", "opacity", "patch", "bins"):
        assert f"link's {name}" in notices.replace("\\", ""), name
    assert app.selectbox(key="explain_class").value == -1
    app.session_state["explain_tab"] = "Robustness"
    app.run()
    assert not app.exception
    warnings = " ".join(w.value for w in app.warning).replace("\\", "")
    assert "link's level = 17 was not used" in warnings
    assert app.select_slider(key="robust_level").value == 0


# --- Inspect: the drawing's explanation -------------------------------------------------------------------------


@pytest.fixture
def drawn_canvas(monkeypatch):
    """The canvas component stood in for by one that returns a drawn '1' (a thick vertical white bar): the real
    one is a browser component that AppTest cannot run."""
    rgba = np.zeros((280, 280, 4), dtype=np.uint8)
    rgba[40:240, 120:160] = 255
    from PIL import Image

    png = io.BytesIO()
    Image.fromarray(rgba).save(png, format="PNG")
    stub = types.ModuleType("streamlit_drawable_canvas")
    stub.st_canvas = lambda **_: types.SimpleNamespace(
        json_data={"objects": [{"type": "Path"}]}, image_bytes=png.getvalue()
    )
    monkeypatch.setitem(sys.modules, "streamlit_drawable_canvas", stub)
    return rgba


def test_the_drawing_is_explained_beside_its_probabilities(runs, drawn_canvas):
    from engine.inspection import prepare_drawing

    first, _, _ = runs
    app = open_page("views/inspect.py", query={"run": first, "tab": "Draw a digit", "draw_method": "Occlusion"})
    assert not app.exception and not app.error
    dataset = _digits()
    drawn = prepare_drawing(drawn_canvas, dataset.image_shape, float(dataset.value_max))
    image01 = drawn[..., 0] / dataset.value_max
    model = _model(first)
    predicted = int(_predict(model, image01)[0].argmax())
    figures = figures_by_title(app)
    overlay = next(f for t, f in figures.items() if t.startswith("Occlusion") and "evidence for" in t)
    np.testing.assert_allclose(
        plotly_array(overlay["data"][1]["z"]), _scaled(_hand_occlusion(model, image01, predicted, 2)), atol=1e-3
    )
    assert np.array_equal(plotly_array(overlay["data"][0]["z"]), drawn[..., 0])
    assert _param(app, "draw_method") == "Occlusion"
    app.selectbox(key="inspect_draw_method").set_value("Grad-CAM").run()
    assert not app.exception
    assert any(t.startswith("Grad-CAM: evidence for") for t in figures_by_title(app))  # recomputed on the rerun


# --- Evaluate: heatmaps over the mistakes gallery --------------------------------------------------------------


def _tiles(z: np.ndarray, n: int, h: int = 8, w: int = 8, columns: int = 6) -> list[np.ndarray]:
    """Cut a captioned mosaic back into its tiles: 1-pixel gaps, a caption strip of ceil(0.3 h) above each row."""
    gap, vgap = max(1, round(min(h, w) / 8)), max(1, int(np.ceil(0.3 * h)))
    tiles = []
    for i in range(n):
        r, c = divmod(i, columns)
        y0, x0 = vgap + r * (h + vgap), c * (w + gap)
        tiles.append(z[y0 : y0 + h, x0 : x0 + w])
    return tiles


@pytest.mark.parametrize("explained", ["predicted", "true"])
def test_the_mistakes_gallery_draws_each_mistakes_heatmap_on_its_own_image(runs, explained):
    from engine.probes.explain import ExplainSettings, explain_images

    first, _, _ = runs
    query = {"run": first, "tab": "Mistakes", "shown": "4", "overlay": "Saliency", "overlay_class": explained}
    app = open_page("views/evaluate.py", query=query)
    assert not app.exception and not app.error
    from engine.store import RunStore

    run = RunStore().get(first)
    probabilities, labels = run.test_probabilities(), run.test_labels()
    predicted = probabilities.argmax(axis=1)
    wrong = np.flatnonzero(predicted != labels)
    wrong = wrong[np.argsort(-probabilities[wrong].max(axis=1), kind="stable")][:4]  # most confident first
    gallery = next(
        json.loads(c.proto.spec)
        for c in app.get("plotly_chart")
        if "Saliency evidence for the" in json.dumps(json.loads(c.proto.spec)["layout"].get("title", ""))
    )
    assert f"evidence for the {explained} class" in gallery["layout"]["title"]["text"]
    image_trace, heat_trace = gallery["data"]
    dataset = _digits()
    model = _model(first)
    for i, (image_tile, heat_tile) in enumerate(
        zip(_tiles(plotly_array(image_trace["z"]), 4), _tiles(plotly_array(heat_trace["z"]), 4), strict=True)
    ):
        index = int(wrong[i])
        assert np.array_equal(image_tile, dataset.x_test[index, ..., 0])
        target = int(labels[index] if explained == "true" else predicted[index])
        alone = explain_images(model, dataset.x_test[index : index + 1] / 16.0, ExplainSettings("saliency"), target)
        np.testing.assert_allclose(heat_tile, _scaled(alone.heatmaps[0]), atol=1e-4)
    assert heat_trace["opacity"] == pytest.approx(0.6)
    assert _param(app, "overlay") == "Saliency"
    assert _param(app, "overlay_class") == ("true" if explained == "true" else None)
    app.selectbox(key="eval_overlay").set_value("off").run()
    assert not app.exception
    assert _param(app, "overlay") is None


# --- robustness: the runs on the chart ---------------------------------------------------------------------------


def test_the_robustness_chart_draws_only_the_runs_chosen_and_never_another_datasets(runs, monkeypatch):
    """Runs kept on Compare are offered, not added; a run on another dataset (or other classes) is listed with why,
    never drawn; a curve is computed once per run, so adding a run computes only its own."""
    import engine.probes.robustness as robustness
    from engine.store import RunStore, run_key
    from tests.store.run_meta import run_meta

    first, same, merged = runs
    fashion = run_key({"robustness-chart": "fashion"})
    RunStore().create(fashion, lambda folder: run_meta(dataset={"name": "fashion-mnist", "image_shape": [28, 28, 1]}))
    computed: list[str] = []
    real = robustness.robustness_curve
    monkeypatch.setattr(
        robustness, "robustness_curve", lambda run, *a, **k: computed.append(run.run_id) or real(run, *a, **k)
    )
    try:
        app = open_page(EXPLAIN, query={"run": first, "tab": "Robustness"}, expanders=False)
        app.session_state["compare_runs"] = [same, fashion, merged]  # as Compare keeps a selection
        app.run()
        assert not app.exception and not app.error
        picker = app.multiselect(key="robust_runs")
        assert picker.value == [first]  # nothing added unasked
        # Other tests' runs on digits share the session's cache, so the comparable ones are a superset.
        assert {picker.format_func(first), picker.format_func(same)} <= set(picker.options)
        assert not any("fashion-mnist" in option for option in picker.options)
        curve = figures_by_title(app)
        (figure,) = [f for t, f in curve.items() if t.startswith("Test accuracy under")]
        assert len(figure["data"]) == 1
        listed = [t.value for t in app.text]
        assert any(fashion[:10] in line and "trained on fashion-mnist, not digits" in line for line in listed)
        assert any(merged[:10] in line and "other classes" in line for line in listed)
        assert computed.count(first) <= 1 and fashion not in computed and merged not in computed

        computed.clear()
        picker.set_value([first, same]).run()
        assert not app.exception
        (figure,) = [f for t, f in figures_by_title(app).items() if t.startswith("Test accuracy under")]
        assert len(figure["data"]) == 2
        assert first not in computed  # only the new run's curve was computed
    finally:
        RunStore().delete(fashion)

"""AppTest checks of the Explain page (issue 15): the explanation overlay, the robustness curve and the calibration
tab, each against an independent computation on the same stored run."""

from __future__ import annotations

import numpy as np
import pytest

from tests.dashboard.conftest import figures_by_title, open_app, open_page, plotly_array

EXPLAIN = "views/explain.py"


def _stored(run_id):
    from engine.datasets import load_dataset
    from engine.store import RunStore

    run = RunStore().get(run_id)
    return run, load_dataset("digits"), run.load_model()


def test_explain_occlusion_overlay_matches_a_hand_computed_occlusion(with_trained_run):
    app = open_page(EXPLAIN, query={"run": with_trained_run, "image": "7", "method": "Occlusion"})
    assert not app.exception and not app.error
    app.slider(key="explain_patch").set_value(1).run()
    assert not app.exception
    run, dataset, model = _stored(with_trained_run)
    image01 = dataset.x_test[7].astype(np.float32) / dataset.value_max
    probabilities = np.asarray(model.predict(image01[None, ..., None], verbose=0))[0]
    predicted = int(probabilities.argmax())
    # Independent occlusion with a 1-pixel patch: blank each pixel in turn, measure the probability lost.
    batch = np.repeat(image01[None], 64, axis=0)
    for k in range(64):
        batch[k, k // 8, k % 8] = 0.0
    hand = probabilities[predicted] - np.asarray(model.predict(batch[..., None], verbose=0))[:, predicted]
    figures = figures_by_title(app)
    overlay = next(f for t, f in figures.items() if t.startswith("Occlusion"))
    image_trace, heat_trace = overlay["data"]
    assert np.array_equal(plotly_array(image_trace["z"]), dataset.x_test[7].reshape(8, 8))
    assert image_trace["colorscale"][0][1] == "black"  # pixel 0 drawn black
    assert overlay["layout"]["xaxis"]["visible"] is False
    np.testing.assert_allclose(plotly_array(heat_trace["z"]), hand.reshape(8, 8) / np.abs(hand).max(), atol=1e-3)
    bars = next(f for t, f in figures.items() if t.startswith("Class probabilities"))
    np.testing.assert_allclose(plotly_array(bars["data"][0]["y"]), probabilities, atol=1e-5)
    # Opacity slider reaches the figure; the link carries the view.
    app.slider(key="explain_opacity").set_value(0.3).run()
    overlay = next(f for t, f in figures_by_title(app).items() if t.startswith("Occlusion"))
    assert overlay["data"][1]["opacity"] == pytest.approx(0.3)
    assert app.query_params.get("method") in ("Occlusion", ["Occlusion"])


@pytest.mark.parametrize("method", ["Grad-CAM", "Saliency", "SmoothGrad", "Integrated gradients"])
def test_explain_every_method_draws_an_overlay_for_any_class(with_trained_run, method):
    app = open_page(EXPLAIN, query={"run": with_trained_run, "method": method})
    assert not app.exception and not app.error
    app.selectbox(key="explain_class").set_value(3).run()
    assert not app.exception and not app.error
    titles = list(figures_by_title(app))
    assert any(t.startswith(method) and t.endswith("evidence for class 3") for t in titles), titles


def test_explain_link_with_an_image_past_the_test_set_says_so(with_trained_run):
    app = open_page(EXPLAIN, query={"run": with_trained_run, "image": "99999"})
    assert not app.exception
    assert any("99999" in w.value and "360 images" in w.value for w in app.warning)
    assert app.session_state["explain_index"] == 0


def test_robustness_curve_starts_at_the_stored_accuracy(with_trained_run):
    from sklearn.metrics import accuracy_score

    app = open_page(EXPLAIN, query={"run": with_trained_run, "tab": "Robustness", "perturbation": "rotation"})
    assert not app.exception and not app.error
    run, dataset, model = _stored(with_trained_run)
    curve = figures_by_title(app)["Test accuracy under rotation"]
    (trace,) = curve["data"]
    assert list(plotly_array(trace["x"])) == [0, 10, 20, 30, 45, 60]
    y = plotly_array(trace["y"])
    assert y[0] == pytest.approx(accuracy_score(run.test_labels(), run.test_probabilities().argmax(axis=1)))
    # Rotating digits by 60 degrees costs a small CNN accuracy: the curve is not flat.
    assert y[-1] < y[0]
    # Level 0 shows the image unchanged.
    shown = next(f for t, f in figures_by_title(app).items() if t.startswith("Test image #0, rotation 0"))
    assert np.array_equal(plotly_array(shown["data"][0]["z"]), dataset.x_test[0].reshape(8, 8))
    app.select_slider(key="robust_level").set_value(45).run()
    assert not app.exception
    assert any(t.startswith("Test image #0, rotation 45") for t in figures_by_title(app))


def test_calibration_tab_ece_matches_a_hand_computed_ece(with_trained_run):
    app = open_page(EXPLAIN, query={"run": with_trained_run, "tab": "Calibration"})
    assert not app.exception and not app.error
    run, _, _ = _stored(with_trained_run)
    probabilities, labels = run.test_probabilities(), run.test_labels()
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == labels
    # Independent ECE: ten equal-width bins (the first closed at 0), image-weighted |accuracy - confidence|.
    which = np.clip(np.ceil(confidence * 10).astype(int) - 1, 0, 9)
    ece = sum(
        abs(correct[which == b].mean() - confidence[which == b].mean()) * np.count_nonzero(which == b)
        for b in range(10)
        if np.any(which == b)
    ) / len(labels)
    metrics = {m.label: m.value for m in app.metric}
    assert float(metrics["ECE as trained"]) == pytest.approx(ece, abs=1e-4)
    assert float(metrics["Fitted temperature"]) > 0
    assert "Reliability diagram (marker size: images in the bin)" in figures_by_title(app)


def test_explain_without_a_run_explains_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv("DIGIT_LAB_CACHE", str(tmp_path / "empty-cache"))
    app = open_app("views/explain.py")
    assert not app.exception
    assert any("needs a trained model" in i.value for i in app.info)


def test_a_mirror_view_run_is_explained_and_inspected_through_both_views():
    """A run that predicts with the mirror views (trained here, in the test's own cache): Explain's bars are the
    stored model's mean-logit answer, its caption says both views are explained, and Inspect says its maps are the
    image's own."""
    from engine.datasets import load_dataset
    from engine.runs import get_or_train, preset_request

    dataset = load_dataset("digits")
    spec, config = preset_request("digitlab-small8", dataset, epochs=1)
    run = get_or_train(dataset, spec, config.replace(test_time_mirror=True), preset="digitlab-small8").run
    app = open_page(EXPLAIN, query={"run": run.run_id, "image": "5", "method": "Grad-CAM"})
    assert not app.exception and not app.error
    assert any("mirror views" in c.value and "flipped back" in c.value for c in app.caption)
    image01 = dataset.x_test[5].astype(np.float32) / dataset.value_max
    bars = next(f for t, f in figures_by_title(app).items() if t.startswith("Class probabilities"))
    expected = np.asarray(run.load_model().predict(image01[None, ..., None], verbose=0))[0]
    np.testing.assert_allclose(plotly_array(bars["data"][0]["y"]), expected, atol=1e-5)
    # The same weights without the views answer otherwise for this (asymmetric) digit: the bars are the views'.
    from engine.architectures.build import build_model

    plain = build_model(spec, compile=False)
    plain.set_weights(run.load_model().get_weights())
    alone = np.asarray(plain.predict(image01[None, ..., None], verbose=0))[0]
    assert np.abs(alone - expected).max() > 1e-3

    inspect = open_page("views/inspect.py", query={"run": run.run_id})
    assert not inspect.exception
    assert any("mirror views" in c.value and "image's own" in c.value for c in inspect.caption)

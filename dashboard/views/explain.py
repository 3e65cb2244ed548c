"""Explain: why a trained model answers as it does (issue 15) — a heatmap of the evidence for one test image's
class (Grad-CAM, saliency, SmoothGrad, integrated gradients, occlusion), the accuracy curve as the test set is
damaged step by step, and how well its confidence matches its accuracy before and after temperature scaling.

The run is the one opened elsewhere (or in the link), else the stored run of the sidebar's model. All numbers come
from `engine.probes`, the same code as `digit-lab explain|robustness|calibration`.
"""

import streamlit as st

from dashboard import components, links, services, state
from dashboard.charts.explain import explanation_overlay, reliability_diagram, robustness_curves
from dashboard.charts.inspect import input_image, probability_bars
from engine import inspection
from engine.architectures.presets import run_model_label
from engine.datasets import normalised
from engine.errors import DigitLabError
from engine.probes.calibration import Calibration, run_calibration
from engine.probes.explain import ExplainSettings, Explanation, conv_layer_names, explain_images
from engine.probes.robustness import PERTURBATIONS, RobustnessCurve, perturb, robustness_curve

INDEX_KEY = "explain_index"
PREDICTED = -1  # the class picker's "explain the predicted class"
# The page's method names and the engine's settings for each (SmoothGrad is saliency over noisy copies).
METHOD_SETTINGS = {
    "Grad-CAM": "gradcam",
    "Saliency": "saliency",
    "SmoothGrad": "saliency",
    "Integrated gradients": "integrated-gradients",
    "Occlusion": "occlusion",
}
assert tuple(METHOD_SETTINGS) == links.EXPLAIN_METHODS


@st.cache_resource(show_spinner=False, max_entries=16)
def _conv_layers(run_id: str, copy: str) -> list[str]:
    return conv_layer_names(services.model(run_id))


@st.cache_data(show_spinner="Computing the explanation…", max_entries=64)
def _explanation(run_id: str, copy: str, index: int, settings: ExplainSettings, target: int | None) -> Explanation:
    run = services.run(run_id)
    dataset = services.dataset(run.meta["dataset"]["name"])
    image01 = normalised(dataset.x_test[index : index + 1], float(dataset.value_max))
    return explain_images(services.model(run_id), image01, settings, target)


@st.cache_data(show_spinner="Scoring the damaged test set…", max_entries=64)
def _curve(run_id: str, copy: str, perturbation: str) -> RobustnessCurve:
    return robustness_curve(services.run(run_id), perturbation)


@st.cache_data(show_spinner="Fitting the temperature on the validation split…", max_entries=32)
def _calibration(run_id: str, copy: str, n_bins: int) -> Calibration:
    return run_calibration(services.run(run_id), n_bins)


st.title("Explain")
components.link_problems()
selection = state.selection()

run, dataset, labels, model = components.run_with_test_data("Explain", selection)
meta = run.meta
class_names = list(meta["class_names"])
chart_names = [components.plain(name, 40, chart=True) for name in class_names]
value_max = float(dataset.value_max)
n_test = len(dataset.x_test)
st.caption(
    f"Run `{run.run_id}` · {components.plain(run_model_label(meta), 120)} · "
    f"{components.plain(dataset.name)} · test accuracy {meta['metrics']['test_accuracy']:.2%}"
)

explain_tab, robust_tab, calib_tab = st.tabs(list(links.EXPLAIN_TABS), key="explain_tab", on_change="rerun")

with explain_tab:
    components.link_view_check(
        "image",
        (INDEX_KEY,),
        int(st.session_state.get(INDEX_KEY, 0)) < n_test,
        f"this run's test set has {n_test:,} images, numbered 0 to {n_test - 1:,}",
    )
    st.session_state[INDEX_KEY] = min(int(st.session_state.get(INDEX_KEY, 0)), n_test - 1)
    pick = st.columns([1, 1.4, 1.6])
    index = int(pick[0].number_input(f"Test image (0..{n_test - 1})", 0, n_test - 1, key=INDEX_KEY))
    method = pick[1].selectbox(
        "Method",
        links.EXPLAIN_METHODS,
        key="explain_method",
        help="Grad-CAM weighs a conv layer's maps by their gradient (coarse, class-specific); saliency is the "
        "input gradient; SmoothGrad averages it over noisy copies; integrated gradients sums gradients from a "
        "black image; occlusion blanks a sliding patch and measures the probability lost.",
    )
    explain_options = [PREDICTED, *range(len(class_names))]
    target = pick[2].selectbox(
        "Class to explain",
        explain_options,
        format_func=lambda c: "the predicted class" if c == PREDICTED else f"class {c}: {class_names[c][:40]}",
        key="explain_class",
    )
    settings_args: dict = {"method": METHOD_SETTINGS[method]}
    option_cols = st.columns([1.4, 1.4, 1.2])
    if method == "Grad-CAM":
        layers = _conv_layers(run.run_id, services.stored_copy(run))
        if layers:
            settings_args["layer"] = option_cols[0].selectbox(
                "Conv layer", layers, index=len(layers) - 1, key="explain_layer", help="The last one by default."
            )
    elif method == "SmoothGrad":
        settings_args["smooth_samples"] = option_cols[0].slider("Noisy copies", 5, 100, 25, key="explain_smooth")
    elif method == "Integrated gradients":
        settings_args["ig_steps"] = option_cols[0].slider("Steps from black", 8, 128, 32, key="explain_ig_steps")
    elif method == "Occlusion":
        h, w = dataset.image_shape[:2]
        settings_args["patch"] = option_cols[0].slider("Patch size (pixels)", 1, min(h, w) // 2, 2, key="explain_patch")
    opacity = option_cols[1].slider("Heatmap opacity", 0.0, 1.0, 0.6, 0.05, key="explain_opacity")

    try:
        explanation = _explanation(
            run.run_id,
            services.stored_copy(run),
            index,
            ExplainSettings(**settings_args),
            None if target == PREDICTED else int(target),
        )
    except DigitLabError as error:  # e.g. Grad-CAM on a model without conv layers; the other tabs still draw
        components.show_error(error)
    else:
        true_class = int(labels[index])
        explained = explanation.targets[0]
        layer_note = f" of layer {explanation.layer}" if explanation.layer else ""
        left, right = st.columns([1, 1.2])
        left.plotly_chart(
            explanation_overlay(
                dataset.x_test[index],
                value_max,
                explanation.heatmaps[0],
                opacity,
                f"{method}{components.plain(layer_note, chart=True)}: evidence for class {chart_names[explained]}",
            ),
            key="explain_overlay",
            config={"displayModeBar": False},
        )
        right.plotly_chart(
            probability_bars(explanation.probabilities[0], chart_names, true_class), key="explain_probabilities"
        )
        st.caption(
            "Red: pixels that raise the explained class's score; blue: pixels that lower it (occlusion and integrated "
            "gradients can show both). The heatmap is scaled so its strongest pixel is full colour."
        )

with robust_tab:
    names = list(PERTURBATIONS)
    perturbation = st.selectbox("Perturbation", names, key="robust_perturbation")
    kind = PERTURBATIONS[perturbation]
    ss = st.session_state
    wanted = list(dict.fromkeys(ss.get(state.COMPARE_KEPT_KEY, ss.get(state.COMPARE_KEY, []))))
    curve_runs = [run] + [r for r in (services.run(rid) for rid in wanted if rid != run.run_id) if r is not None]
    curves = []
    for curve_run in curve_runs:
        try:
            curve = _curve(curve_run.run_id, services.stored_copy(curve_run), perturbation)
        except DigitLabError as error:
            st.warning(f"Run `{curve_run.run_id}` left out of the curve: {components.plain(error, 200)}")
            continue
        label = components.plain(f"{curve_run.run_id[:10]} {run_model_label(curve_run.meta)}", 60, chart=True)
        curves.append((label, curve.levels, curve.accuracy))
    if len(curve_runs) > 1:
        st.caption(f"This run and the {len(curve_runs) - 1} other run(s) selected on Compare.")
    st.plotly_chart(robustness_curves(curves, perturbation, kind.unit), key="robust_curve")

    level = st.select_slider(
        f"Level ({kind.unit})", options=list(kind.default_levels), value=kind.default_levels[0], key="robust_level"
    )
    index = int(st.session_state.get(INDEX_KEY, 0))
    damaged = perturb(dataset.x_test[index : index + 1], perturbation, float(level), value_max)[0]
    probabilities = inspection.predict(model, normalised(damaged, value_max))
    left, right = st.columns([1, 1.2])
    left.plotly_chart(
        input_image(damaged, value_max, f"Test image #{index}, {perturbation} {level:g}"),
        key="robust_image",
        config={"displayModeBar": False},
    )
    right.plotly_chart(probability_bars(probabilities, chart_names, int(labels[index])), key="robust_probabilities")
    st.caption("The image is the one chosen on the first tab.")

with calib_tab:
    n_bins = st.slider("Confidence bins", 5, 30, 10, key="calib_bins")
    try:
        calibration = _calibration(run.run_id, services.stored_copy(run), n_bins)
    except DigitLabError as error:
        components.show_error(error)
        calibration = None  # not st.stop(): the view below must still be published to the link
    if calibration is not None:
        cols = st.columns(3)
        cols[0].metric("ECE as trained", f"{calibration.ece:.4f}")
        if calibration.temperature is None:
            cols[1].metric("ECE after temperature scaling", "—")
            cols[2].metric("Fitted temperature", "—")
            st.info(f"No temperature fitted: {components.plain(calibration.note, 300)}", icon=":material/info:")
        else:
            cols[1].metric(
                "ECE after temperature scaling",
                f"{calibration.ece_after:.4f}",
                delta=f"{calibration.ece_after - calibration.ece:+.4f}",
                delta_color="inverse",
            )
            cols[2].metric(
                "Fitted temperature",
                f"{calibration.temperature:.3f}",
                help="Fitted on the validation split by minimising its negative log-likelihood: above 1 softens "
                "overconfident probabilities, below 1 sharpens underconfident ones. Predictions do not change.",
            )
            st.caption(
                f"Validation NLL {calibration.validation_nll_before:.4f} → {calibration.validation_nll_after:.4f}. "
                "ECE (expected calibration error) is the image-weighted mean gap between confidence and accuracy."
            )
        st.plotly_chart(
            reliability_diagram(calibration.bins, calibration.bins_after, calibration.ece, calibration.ece_after),
            key="calib_diagram",
        )

links.publish_view("explain")

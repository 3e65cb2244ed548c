"""Explain: why a trained model answers as it does (issue 15) — a heatmap of the evidence for one test image's
class (Grad-CAM, saliency, SmoothGrad, integrated gradients, occlusion), the accuracy curve as the test set is
damaged step by step, and how well its confidence matches its accuracy before and after temperature scaling.

The run is the one opened elsewhere (or in the link), else the stored run of the sidebar's model. All numbers come
from `engine.probes`, the same code as `digit-lab explain|robustness|calibration`.
"""

from dataclasses import replace

import numpy as np
import streamlit as st

from charts.explain import explanation_overlay, reliability_diagram, robustness_curves
from charts.feature_map import feature_map_chart
from charts.inspect import input_image, probability_bars
from dashboard import components, explaining, links, services, state
from engine import inspection
from engine.architectures.presets import run_model_label
from engine.datasets import normalised
from engine.errors import DigitLabError
from engine.probes.calibration import Calibration, run_calibration
from engine.probes.explain import ExplainSettings, conv_layer_names, explain_images, read_image_array
from engine.probes.feature_map import FeatureMap, feature_map
from engine.probes.robustness import PERTURBATIONS, RobustnessCurve, perturb, robustness_curve

INDEX_KEY = "explain_index"
SOURCE_KEY, UPLOAD_KEY, SECOND_KEY = "explain_source", "explain_upload", "explain_second"
PREDICTED = links.EXPLAIN_PREDICTED  # the class picker's "explain the predicted class"
SOURCES = ("A test image", "An uploaded .npy array")


@st.cache_resource(show_spinner=False, max_entries=16)
def _conv_layers(run_id: str, copy: str) -> list[str]:
    return conv_layer_names(services.model(run_id))


@st.cache_data(show_spinner="Computing the explanation…", max_entries=64)
def _explanation(
    run_id: str, copy: str, image: np.ndarray, value_max: float, settings: ExplainSettings, target: int | None
):
    """One raw image (H, W), as the dataset stores it, explained by the run's model (cached by its pixels)."""
    return explain_images(services.model(run_id), normalised(image[None], value_max), settings, target)


@st.cache_data(show_spinner=False, max_entries=8)
def _uploaded(data: bytes, name: str, image_hw: tuple[int, int], value_max: float) -> np.ndarray:
    return read_image_array(data, name, image_hw, value_max)  # the CLI's --image checks, not a second copy


@st.cache_data(show_spinner="Scoring the damaged test set…", max_entries=64)
def _curve(run_id: str, copy: str, perturbation: str) -> RobustnessCurve:
    # The server's shared model and dataset; the engine keeps the curve with the run for other sessions.
    found = services.run(run_id)
    dataset_used = services.dataset(found.meta["dataset"]["name"])
    return robustness_curve(found, perturbation, model=services.model(run_id), dataset=dataset_used)


@st.cache_data(show_spinner="Fitting the temperature on the validation split…", max_entries=32)
def _calibration(run_id: str, copy: str, n_bins: int) -> Calibration:
    found = services.run(run_id)
    dataset_used = services.dataset(found.meta["dataset"]["name"])
    return run_calibration(found, n_bins, model=services.model(run_id), dataset=dataset_used)


def _second_run_candidates(run) -> list:
    """Other stored runs that can explain this run's images with the same classes: the same dataset (name and
    fingerprint: another copy of "mnist" is another dataset), image size and class names. A run on another dataset
    is never offered. Runs kept on Compare come first."""
    data = run.meta["dataset"]
    kept = st.session_state.get(state.COMPARE_KEPT_KEY, st.session_state.get(state.COMPARE_KEY, []))
    fits = [
        other
        for other in services.store().list()
        if other.run_id != run.run_id
        and other.meta["dataset"]["name"] == data["name"]
        and other.meta["dataset"].get("fingerprint") == data.get("fingerprint")
        and list(other.meta["dataset"]["image_shape"][:2]) == list(data["image_shape"][:2])
        and list(other.meta["class_names"]) == list(run.meta["class_names"])
    ]
    return sorted(fits, key=lambda other: other.run_id not in kept)  # stable: newest first within each group


def _run_option(run) -> str:
    """A selectbox option label (plain text there, so stored meta needs no escaping, only shortening)."""
    if run is None:
        return "none"
    return f"{run.run_id[:10]} · {state.shorten(run_model_label(run.meta), 60)}"


@st.cache_data(show_spinner="Projecting the test set…", max_entries=32)
def _feature_map(run_id: str, copy: str, method: str, space: str) -> FeatureMap:
    # The server's shared model and dataset; the engine keeps the result with the run for other sessions.
    found = services.run(run_id)
    loaded = services.model(run_id) if space == "features" else None
    dataset_used = services.dataset(found.meta["dataset"]["name"])
    return feature_map(found, method, space=space, model=loaded, dataset=dataset_used)


def _remember_point(chart_key: str) -> None:
    points = st.session_state[chart_key].selection.points
    custom = points[0].get("customdata") if points else None
    if custom:
        st.session_state["featuremap_point"] = int(custom[0])


st.title("Explain")
components.link_problems()
links.keep_view_state("explain")  # before any widget: a closed tab's widgets keep their values and their link
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

# Keyed and rerun on change: the open tab is in the link, and only the open tab's content is computed.
tabs = st.tabs(list(links.EXPLAIN_TABS), key="explain_tab", on_change="rerun")
explain_tab, robust_tab, calib_tab, feature_tab = tabs

# The test image is shared by the first two tabs, so it is checked whichever is open.
components.checked_test_index(INDEX_KEY, n_test)

with explain_tab:
    if explain_tab.open:
        h, w = dataset.image_shape[:2]
        source = st.radio(
            "Image to explain",
            SOURCES,
            horizontal=True,
            key=SOURCE_KEY,
            help="An uploaded array is read like `digit-lab explain --image FILE.npy`: one raw H x W image or an "
            f"N x H x W stack, {h}x{w}, in this dataset's own value range 0..{value_max:g}. Uploads do not travel "
            "in links.",
        )
        image, true_class, image_label = None, None, ""
        if source == SOURCES[0]:
            index = int(st.number_input(f"Test image (0..{n_test - 1})", 0, n_test - 1, key=INDEX_KEY))
            image, true_class, image_label = dataset.x_test[index], int(labels[index]), f"test image #{index}"
        else:
            upload = st.file_uploader(f"A .npy array of {h}x{w} images", type=["npy"], key=UPLOAD_KEY)
            if upload is None:
                st.info("Upload a .npy file to explain it, or pick a test image.", icon=":material/upload_file:")
            else:
                try:
                    stack = _uploaded(upload.getvalue(), upload.name, (h, w), value_max)
                except DigitLabError as error:  # the validator's own message, as plain text
                    components.show_error(error)
                else:
                    pick = 0
                    if len(stack) > 1:
                        pick = int(
                            st.number_input(
                                f"Image in the array (0..{len(stack) - 1})",
                                0,
                                len(stack) - 1,
                                key="explain_upload_index",
                            )
                        )
                    image = stack[pick]
                    image_label = f"uploaded {state.shorten(upload.name, 40)} [{pick}] of {len(stack)}"

        pick = st.columns([1.4, 1.6, 1.6])
        method = pick[0].selectbox(
            "Method",
            links.EXPLAIN_METHODS,
            key="explain_method",
            help="Grad-CAM weighs a conv layer's maps by their gradient (coarse, class-specific); saliency is the "
            "input gradient; SmoothGrad averages it over noisy copies; integrated gradients sums gradients from a "
            "black image; occlusion blanks a sliding patch and measures the probability lost.",
        )
        components.link_view_check(
            "class",
            ("explain_class",),
            st.session_state.get("explain_class", PREDICTED) in range(PREDICTED, len(class_names)),
            f"this run has {len(class_names)} classes, numbered 0 to {len(class_names) - 1}",
        )
        target = pick[1].selectbox(
            "Class to explain",
            [PREDICTED, *range(len(class_names))],
            format_func=lambda c: "the predicted class" if c == PREDICTED else f"class {c}: {class_names[c][:40]}",
            key="explain_class",
        )
        candidates = {other.run_id: other for other in _second_run_candidates(run)}
        components.link_view_check(
            "second",
            (SECOND_KEY,),
            st.session_state.get(SECOND_KEY, "") in ("", *candidates),
            "it is not another stored run on this dataset with the same image size and classes",
        )
        second_id = pick[2].selectbox(
            "Second run, side by side",
            ["", *candidates],
            format_func=lambda rid: _run_option(candidates.get(rid)),
            key=SECOND_KEY,
            help="Another stored run on the same dataset, with the same image size and classes (runs kept on "
            "Compare first), explained on the same image with the same method and class.",
        )
        settings_args: dict = {}
        option_cols = st.columns([1.4, 1.4, 1.2])
        layers = _conv_layers(run.run_id, services.stored_copy(run)) if method == "Grad-CAM" else []
        if layers:
            components.link_view_check(
                "layer",
                ("explain_layer",),
                st.session_state.get("explain_layer", layers[-1]) in layers,
                f"this run's conv layers are {', '.join(layers)}",
            )
            settings_args["layer"] = option_cols[0].selectbox(
                "Conv layer", layers, index=len(layers) - 1, key="explain_layer", help="The last one by default."
            )
        elif method == "SmoothGrad":
            settings_args["smooth_samples"] = option_cols[0].slider("Noisy copies", 5, 100, 25, key="explain_smooth")
        elif method == "Integrated gradients":
            settings_args["ig_steps"] = option_cols[0].slider("Steps from black", 8, 128, 32, key="explain_ig_steps")
        elif method == "Occlusion":
            most = min(h, w) // 2
            components.link_view_check(
                "patch",
                ("explain_patch",),
                int(st.session_state.get("explain_patch", 2)) <= most,
                f"a {h}x{w} image takes patches of 1 to {most} pixels",
            )
            settings_args["patch"] = option_cols[0].slider("Patch size (pixels)", 1, most, 2, key="explain_patch")
        opacity_col = option_cols[1] if settings_args else option_cols[0]  # no empty gap before it (saliency)
        opacity = opacity_col.slider("Heatmap opacity", 0.0, 1.0, 0.6, 0.05, key="explain_opacity")

        # The two runs explained, each in a column of its own: (run, settings, note on what differs).
        settings = explaining.settings_for(method, **settings_args)
        shown = [(run, settings, "")]
        second = candidates.get(second_id)
        if second is not None:
            second_settings, note = settings, ""
            if settings.layer is not None and settings.layer not in _conv_layers(
                second.run_id, services.stored_copy(second)
            ):
                second_settings = replace(settings, layer=None)
                note = (
                    f"Grad-CAM uses its own last conv layer: it has no layer named "
                    f"{state.shorten(settings.layer, 40)} (that name is the first run's)."
                )
            shown.append((second, second_settings, note))
        columns = st.columns(len(shown)) if len(shown) > 1 else [st.container()]
        for column, (shown_run, shown_settings, note) in zip(columns, shown, strict=True):
            if image is None:
                break
            with column:
                if len(shown) > 1:
                    st.markdown(
                        f"**Run `{shown_run.run_id}`** · {components.plain(run_model_label(shown_run.meta), 80)}"
                    )
                if note:
                    st.caption(components.plain(note))
                try:
                    explanation = _explanation(
                        shown_run.run_id,
                        services.stored_copy(shown_run),
                        np.asarray(image),
                        value_max,
                        shown_settings,
                        None if target == PREDICTED else int(target),
                    )
                except DigitLabError as error:  # e.g. Grad-CAM on a model without conv layers; the tabs still draw
                    components.show_error(error)
                    continue
                explained = explanation.targets[0]
                layer_note = f" of layer {explanation.layer}" if explanation.layer else ""
                suffix = f" ({shown_run.run_id[:6]})" if len(shown) > 1 else ""
                overlay = components.cached_figure(
                    explanation_overlay,
                    image,
                    value_max,
                    explanation.heatmaps[0],
                    opacity,
                    f"{method}{components.plain(layer_note, chart=True)}: evidence for class "
                    f"{chart_names[explained]}{suffix}",
                )
                bars = components.cached_figure(probability_bars, explanation.probabilities[0], chart_names, true_class)
                key = "" if shown_run is run else "_second"
                if len(shown) > 1:  # two runs: each run's overlay above its own prediction
                    st.plotly_chart(overlay, key=f"explain_overlay{key}", config={"displayModeBar": False})
                    st.plotly_chart(bars, key=f"explain_probabilities{key}")
                else:
                    left, right = st.columns([1, 1.2])
                    left.plotly_chart(overlay, key="explain_overlay", config={"displayModeBar": False})
                    right.plotly_chart(bars, key="explain_probabilities")
        if image is not None:
            st.caption(
                f"Explaining {components.plain(image_label)}. Red: pixels that raise the explained class's score; "
                "blue: pixels that lower it (occlusion and integrated gradients can show both). Each heatmap is "
                "scaled so its strongest pixel is full colour."
                + (" Each run explains its own predicted class." if second is not None and target == PREDICTED else "")
            )

with robust_tab:
    if robust_tab.open:
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

        components.link_view_check(
            "level",
            ("robust_level",),
            st.session_state.get("robust_level", kind.default_levels[0]) in kind.default_levels,
            f"{perturbation} is shown at the levels {', '.join(f'{v:g}' for v in kind.default_levels)}",
        )
        if "robust_level" in st.session_state:  # a link's 45.0 is the option 45: select_slider matches by identity
            wanted_level = st.session_state["robust_level"]
            st.session_state["robust_level"] = next(v for v in kind.default_levels if v == wanted_level)
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
        st.caption(f"Test image #{index}, the one chosen on the first tab (an uploaded array is not perturbed here).")

with calib_tab:
    if calib_tab.open:
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

with feature_tab:
    if feature_tab.open:
        map_method = st.radio(
            "Projection",
            links.EMBEDDINGS,
            horizontal=True,
            key="featuremap_method",
            format_func={"pca": "PCA", "tsne": "t-SNE"}.get,
            help="PCA is instant and linear; t-SNE keeps neighbours together (a stratified subset, cached per run).",
        )
        try:
            learned = _feature_map(run.run_id, services.stored_copy(run), map_method, "features")
            pixels = _feature_map(run.run_id, services.stored_copy(run), map_method, "pixels")
        except DigitLabError as error:  # e.g. a model that does not end in a Dense layer; the view is still published
            components.show_error(error)
            learned = pixels = None
        if learned is not None and pixels is not None:
            st.caption(
                f"{components.plain(learned.note)} {int(learned.mistakes.sum()):,} of {len(learned.indices):,} are "
                "mistakes (x). Beside it, the same images' raw pixels mapped the same way, as on the Data page."
            )
            name = "t-SNE" if map_method == "tsne" else "PCA"
            left, right = st.columns(2)
            for column, result, key, what in (
                (left, learned, "featuremap_learned", "Learned features"),
                (right, pixels, "featuremap_pixels", "Raw pixels"),
            ):
                column.plotly_chart(
                    feature_map_chart(
                        result.coords,
                        result.indices,
                        result.true_labels,
                        result.predicted_labels,
                        chart_names,
                        map_method,
                        result.explained_variance,
                        f"{what}, {name}",  # short: the chart's toolbar sits over a long title
                    ),
                    key=key,
                    on_select=lambda key=key: _remember_point(key),
                    selection_mode="points",
                )
            point = st.session_state.get("featuremap_point")
            if point is None or not 0 <= point < n_test:
                st.caption("Click a point on either map to see its image and the model's prediction.")
            else:
                left, right = st.columns([1, 1.2])
                left.plotly_chart(
                    input_image(dataset.x_test[point], value_max, f"Test image #{point}, clicked on the map"),
                    key="featuremap_image",
                    config={"displayModeBar": False},
                )
                right.plotly_chart(
                    probability_bars(run.test_probabilities()[point], chart_names, int(labels[point])),
                    key="featuremap_probabilities",
                )

links.publish_view("explain")

"""Explain's first tab: one image's heatmap of the evidence for a class, by any method, for this run and
optionally a second run side by side; the image is a test image or an uploaded array."""

from dataclasses import replace

import numpy as np
import streamlit as st

from charts.explain import explanation_overlay
from charts.inspect import probability_bars
from dashboard import components, explain_methods, hosting, links, services, state
from dashboard.views.explain_run import ExplainedRun
from dashboard.views.explain_view import METHODS, PREDICTED, VIEW
from engine.compare import comparable_runs
from engine.datasets import normalised
from engine.errors import DigitLabError
from engine.probes.explain import ExplainSettings, conv_layer_names, explain_images, read_image_array
from engine.runs import labels_of, run_label
from engine.test_time_views import has_mirror_views

INDEX_KEY = "explain_index"
SOURCE_KEY, UPLOAD_KEY, SECOND_KEY = "explain_source", "explain_upload", "explain_second"
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


def _second_run_candidates(run) -> list:
    """Other stored runs that can explain this run's images with the same classes: the same dataset (name and
    fingerprint: another copy of "mnist" is another dataset), image size and class names. A run on another dataset
    is never offered. Runs kept on Compare come first."""
    kept = st.session_state.get(state.COMPARE_KEPT_KEY, st.session_state.get(state.COMPARE_KEY, []))
    fits, _ = comparable_runs(run, hosting.visible_runs(services.store().list()))  # the engine's one rule
    return sorted(fits, key=lambda other: other.run_id not in kept)  # stable: newest first within each group


def _run_option(run_id: str, labels: dict[str, str]) -> str:
    """A selectbox option label (plain text there, so stored meta needs no escaping, only shortening)."""
    return f"{run_id[:10]} · {state.shorten(labels[run_id], 80)}" if run_id in labels else "none"


def show_explanation(ex: ExplainedRun) -> None:
    run, dataset, labels, value_max, n_test = ex.run, ex.dataset, ex.labels, ex.value_max, ex.n_test
    class_names, chart_names = ex.class_names, ex.chart_names
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
        METHODS,
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
    # Named among themselves and this run, by what tells them apart (fold, changed settings, layers).
    option_labels = labels_of([run, *candidates.values()])
    components.link_view_check(
        "second",
        (SECOND_KEY,),
        st.session_state.get(SECOND_KEY, "") in ("", *candidates),
        "it is not another stored run on this dataset with the same image size and classes",
    )
    second_id = pick[2].selectbox(
        "Second run, side by side",
        ["", *candidates],
        format_func=lambda rid: _run_option(rid, option_labels),
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
        st.session_state.setdefault("explain_layer", layers[-1])
        settings_args["layer"] = option_cols[0].selectbox(
            "Conv layer", layers, key="explain_layer", help="The last one by default."
        )
    elif method == "SmoothGrad":
        smooth_key = links.seeded(VIEW, "explain_smooth")
        settings_args["smooth_samples"] = option_cols[0].slider("Noisy copies", 5, 100, key=smooth_key)
    elif method == "Integrated gradients":
        steps_key = links.seeded(VIEW, "explain_ig_steps")
        settings_args["ig_steps"] = option_cols[0].slider("Steps from black", 8, 128, key=steps_key)
    elif method == "Occlusion":
        most = min(h, w) // 2
        components.link_view_check(
            "patch",
            ("explain_patch",),
            int(st.session_state.get("explain_patch", 2)) <= most,
            f"a {h}x{w} image takes patches of 1 to {most} pixels",
        )
        patch_key = links.seeded(VIEW, "explain_patch")
        settings_args["patch"] = option_cols[0].slider("Patch size (pixels)", 1, most, key=patch_key)
    opacity_col = option_cols[1] if settings_args else option_cols[0]  # no empty gap before it (saliency)
    opacity = opacity_col.slider("Heatmap opacity", 0.0, 1.0, step=0.05, key=links.seeded(VIEW, "explain_opacity"))

    # The two runs explained, each in a column of its own: (run, settings, note on what differs).
    settings = explain_methods.settings_for(method, **settings_args)
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
                st.markdown(f"**Run `{shown_run.run_id}`** · {components.plain(run_label(shown_run), 80)}")
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
            + (
                " A model that predicts from each image and its mirror together (mirror views) is explained "
                "through both: its heatmap adds the mirror's evidence, flipped back onto the image."
                if any(has_mirror_views(shown_run.meta) for shown_run, _, _ in shown)
                else ""
            )
        )

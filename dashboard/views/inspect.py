"""Inspect: look inside a trained CNN — one test image's class probabilities and the feature maps of every
conv and pooling layer (seed 002), the learned first-layer kernels, and a digit you draw yourself, prepared
exactly as the training images were.

The run is the one opened elsewhere (or in the link), else the stored run of the sidebar's model.
"""

import numpy as np
import streamlit as st

from dashboard import components, explaining, links, services, state
from dashboard.charts.explain import explanation_overlay
from dashboard.charts.inspect import feature_map_grid, input_image, kernel_grid, probability_bars
from engine import inspection
from engine.architectures.presets import run_model_label
from engine.datasets import normalised
from engine.drawing import drawing_objects, drawing_pixels
from engine.errors import DigitLabError
from engine.probes.explain import Explanation, explain_images
from engine.runs import spec_summary

INDEX_KEY, PICKS_KEY = "inspect_index", "_inspect_picks"
BRUSH_KEY, KEPT_BRUSH_KEY = "inspect_brush", "_inspect_brush"


@st.cache_resource(show_spinner=False, max_entries=8)
def _extractor(run_id: str, copy: str) -> inspection.FeatureExtractor:
    # One activation model per run for the whole server; rebuilding it on every rerun costs a Keras graph.
    return inspection.feature_extractor(services.model(run_id))


@st.cache_data(show_spinner=False, max_entries=32)
def _mistakes(run_id: str, copy: str) -> np.ndarray:
    run = services.run(run_id)
    return inspection.mistake_indices(run.test_labels(), run.test_probabilities())


@st.cache_data(show_spinner=False, max_entries=256)
def _probabilities(run_id: str, copy: str, index: int, _image01: np.ndarray) -> np.ndarray:
    """Test image `index` (`_image01`, fixed by the run and index, so not hashed) through the run's model."""
    return inspection.predict(services.model(run_id), _image01)


@st.cache_resource(show_spinner=False, max_entries=64)
def _feature_map_figures(run_id: str, copy: str, index: int, per_map: bool, _image01: np.ndarray) -> list:
    """(layer name, figure) for every conv and pooling layer on one test image, built once per run, image and
    scaling for the server: coming back to the page (or another session on that image) runs no model and builds
    no figure. Streamlit sends a copy of a figure, so one object serves every session."""
    return [
        (name, feature_map_grid(_chart_layer_name(name), kind, inspection.layer_display(fmap, per_map), per_map))
        for name, kind, fmap in _extractor(run_id, copy)(_image01)
    ]


def _drawing_explanation(run_id: str, drawn01: np.ndarray, method: str) -> Explanation:
    # Not cached: every stroke is a new image, and one explanation takes 0.015-0.23 s (bench/explain_probes.py).
    return explain_images(services.model(run_id), drawn01[None], explaining.settings_for(method))


def _chart_layer_name(name: str) -> str:
    # The stored model's own layer name: untrusted text, and Plotly reads titles as HTML.
    return components.plain(name, 60, chart=True)


def _clear_drawing() -> None:
    # Forget the drawing and mount a fresh canvas (a new key) with nothing to restore: the canvas's own bin only
    # returns to the drawing it was mounted with, which after a tab or page switch is the old drawing.
    ss = st.session_state
    ss.pop(state.INSPECT_DRAWING_KEY, None)
    ss.pop(state.INSPECT_CANVAS_SEED_KEY, None)
    ss[state.INSPECT_CANVAS_CLEARS_KEY] = ss.get(state.INSPECT_CANVAS_CLEARS_KEY, 0) + 1


def _canvas_pixels(brush: int) -> np.ndarray | None:
    """Draw the canvas and return the RGBA pixels of the drawing on it (None while empty).

    The canvas forgets its strokes whenever a run does not draw it (another tab, another page), so what it sends is
    kept in session state, and it mounts again with those strokes as `initial_drawing`. That value is fixed when the
    canvas mounts and kept while it stays drawn: the canvas reloads itself whenever `initial_drawing` changes, which
    would reset its undo history on every stroke. Until the canvas sends something after mounting it answers with
    no pixels, so the kept PNG is what the model is shown: a drawing's results are back at once on return."""
    ss = st.session_state
    canvas_key = f"inspect_canvas_{ss.get(state.INSPECT_CANVAS_CLEARS_KEY, 0)}"
    kept = ss.get(state.INSPECT_DRAWING_KEY)
    if canvas_key not in ss:  # not drawn in the last run (first visit, tab or page switch, Clear): it mounts now
        ss[state.INSPECT_CANVAS_SEED_KEY] = kept.objects if kept is not None else None
    try:
        from streamlit_drawable_canvas import st_canvas

        drawing = st_canvas(
            stroke_width=brush,
            stroke_color="#FFFFFF",
            background_color="#000000",
            height=280,
            width=280,
            drawing_mode="freedraw",
            initial_drawing=ss.get(state.INSPECT_CANVAS_SEED_KEY),
            return_image_data=True,
            key=canvas_key,
        )
    except Exception as error:  # the component needs a browser-side bundle; say so instead of failing the page
        components.show_error(error)
        return None
    png = drawing.image_bytes
    if png is not None:  # sent by the canvas: a stroke, an undo, its bin
        ss.pop(state.INSPECT_DRAWING_KEY, None)
        try:  # the browser's data: checked before it is read or decoded, and kept only if it passes
            objects = drawing_objects(drawing.json_data or {})
            if not objects.get("objects"):  # emptied (its bin, undo to the start)
                return None
            pixels = drawing_pixels(png)
        except DigitLabError as error:
            components.show_error(error)
            return None
        ss[state.INSPECT_DRAWING_KEY] = state.KeptDrawing(objects, png)
        return pixels
    if kept is None:
        return None
    return drawing_pixels(kept.png)  # passed when it was kept


def _pick(pool_name: str, pool_size: int, pool: np.ndarray | None = None) -> None:
    # Seeded picks: the n-th "Random" click of a session always lands on the same image.
    picks = st.session_state.get(PICKS_KEY, 0) + 1
    st.session_state[PICKS_KEY] = picks
    rng = np.random.default_rng([picks, 2002])
    st.session_state[INDEX_KEY] = int(rng.choice(pool) if pool is not None else rng.integers(pool_size))
    st.session_state["_inspect_pick_note"] = f"{pool_name} pick #{picks}"


st.title("Inspect")
components.link_problems()
links.keep_view_state("inspect")  # before any widget: a closed tab's widgets keep their values and their link
selection = state.selection()

run, dataset, labels, model = components.run_with_test_data("Inspect", selection)
meta = run.meta
try:
    extractor = _extractor(run.run_id, services.stored_copy(run))
except DigitLabError as error:
    components.show_error(error)
    st.stop()
class_names = list(meta["class_names"])  # from stored meta: HTML-escaped for Plotly, which reads HTML
chart_names = [components.plain(name, 40, chart=True) for name in class_names]
value_max = float(dataset.value_max)
accuracy = meta["metrics"]["test_accuracy"]
st.caption(
    f"Run `{run.run_id}` · {components.plain(run_model_label(meta), 120)} · `{spec_summary(meta['spec'])}` · "
    f"{components.plain(dataset.name)} · test accuracy {accuracy:.2%}"
)

# Keyed, and rerun on change: the open tab is part of the link (`links.VIEW_PARAMS`). Each tab is computed and
# drawn only while open; the canvas, which forgets its strokes while not drawn, is given them back from session
# state when its tab opens again (`_canvas_pixels`).
n_test = len(dataset.x_test)
components.checked_test_index(INDEX_KEY, n_test)  # whichever tab is open: a link's bad image is named at once
test_tab, draw_tab, kernel_tab = st.tabs(list(links.INSPECT_TABS), key="inspect_tab", on_change="rerun")

with test_tab:
    if test_tab.open:
        mistakes = _mistakes(run.run_id, services.stored_copy(run))
        pick_cols = st.columns([2, 1, 1.5, 2.5], vertical_alignment="bottom")
        pick_cols[0].number_input(f"Test image (0..{n_test - 1})", 0, n_test - 1, key=INDEX_KEY)
        pick_cols[1].button("Random", key="inspect_random", on_click=_pick, args=("Random", n_test))
        pick_cols[2].button(
            "Random mistake",
            key="inspect_random_mistake",
            disabled=len(mistakes) == 0,
            on_click=_pick,
            args=("Mistake", n_test, mistakes),
            help=f"One of the {len(mistakes)} test images this model gets wrong.",
        )
        note = st.session_state.get("_inspect_pick_note")
        if note:
            pick_cols[3].caption(f"{note} (picks are seeded: the same sequence every session)")
        index = int(st.session_state[INDEX_KEY])
        image01 = normalised(dataset.x_test[index], value_max)
        true_class = int(labels[index])
        probabilities = _probabilities(run.run_id, services.stored_copy(run), index, image01)
        left, right = st.columns([1, 2])
        caption = f"Test image #{index} (class {chart_names[true_class]})"
        left.plotly_chart(
            components.cached_figure(input_image, dataset.x_test[index], value_max, caption),
            key="inspect_image",
            config={"displayModeBar": False},
        )
        right.plotly_chart(probability_bars(probabilities, chart_names, true_class), key="inspect_probabilities")

        st.markdown("#### Feature maps")
        scaling = st.radio(
            "Scale",
            list(links.INSPECT_SCALES),
            horizontal=True,
            key="inspect_scaling",
            help="Seed 002 scales every map on its own (mean 128, one std = 64 grey levels), which shows "
            "patterns but hides strength; raw activations share one colour scale per layer.",
        )
        per_map = scaling.startswith("each")
        for name, figure in _feature_map_figures(run.run_id, services.stored_copy(run), index, per_map, image01):
            st.plotly_chart(figure, key=f"inspect_fmap_{name}")

with draw_tab:
    if draw_tab.open:
        h, w = dataset.image_shape[:2]
        recipe = (
            "UCI's recipe: the digit is fitted into a 32x32 bitmap and the set pixels of each 4x4 block are counted "
            "(0..16)"
            if (h, w) == (8, 8)
            else "MNIST's recipe: the digit is fitted into a 20x20 box and centred by its centre of mass in 28x28"
        )
        thing = "digit" if all(name.isdigit() for name in class_names) else "item (one of the classes above)"
        st.caption(
            f"Draw one {thing}, large, in the middle. It is turned into a {h}x{w} image by {recipe}, then shown "
            "to the model."
        )
        canvas_col, input_col, prob_col = st.columns([1.3, 1, 1.7])
        with canvas_col:
            st.session_state.setdefault(BRUSH_KEY, st.session_state.get(KEPT_BRUSH_KEY, 20))
            brush = st.slider("Brush", 8, 40, key=BRUSH_KEY)
            st.session_state[KEPT_BRUSH_KEY] = brush  # the slider is not drawn while the tab is closed
            draw_method = st.selectbox(
                "Explain the drawing with",
                links.EXPLAIN_METHODS,
                key="inspect_draw_method",
                help="The heatmap of the predicted class, recomputed on every stroke (the Explain page has the "
                "options).",
            )
            rgba = _canvas_pixels(brush)
            st.button(
                "Clear",
                key="inspect_clear_drawing",
                on_click=_clear_drawing,
                help="Empty the canvas and forget the drawing. (The canvas's bin returns it to the drawing it showed "
                "when this tab opened.)",
            )
        try:
            if rgba is None:
                raise inspection.EmptyDrawing("The canvas is empty: draw a digit first.")
            drawn = inspection.prepare_drawing(rgba, dataset.image_shape, value_max)
        except inspection.EmptyDrawing as empty:
            input_col.info(components.plain(empty), icon=":material/info:")
        else:
            input_col.plotly_chart(
                components.cached_figure(input_image, drawn, value_max, f"What the model sees ({h}x{w})"),
                key="inspect_drawn",
                config={"displayModeBar": False},
            )
            drawn01 = normalised(drawn, value_max)
            try:
                explanation = _drawing_explanation(run.run_id, drawn01, draw_method)
            except DigitLabError as error:  # e.g. Grad-CAM on a model without conv layers
                input_col.error(components.plain(error), icon=":material/warning:")
            else:  # under the input it explains, beside the probabilities
                input_col.plotly_chart(
                    explanation_overlay(
                        drawn,
                        value_max,
                        explanation.heatmaps[0],
                        0.6,
                        f"{draw_method}: evidence for {chart_names[explanation.targets[0]]}",
                    ),
                    key="inspect_drawn_explanation",
                    config={"displayModeBar": False},
                )
                if explanation.layer:
                    input_col.caption(f"Grad-CAM of layer {components.plain(explanation.layer)}.")
            prob_col.plotly_chart(
                probability_bars(inspection.predict(model, drawn01), chart_names), key="inspect_drawn_probabilities"
            )
            with st.expander("Feature maps of your drawing (each map scaled like seed 002)"):
                for name, kind, fmap in extractor(drawn01):
                    st.plotly_chart(
                        components.cached_figure(
                            feature_map_grid, _chart_layer_name(name), kind, inspection.layer_display(fmap), True
                        ),
                        key=f"inspect_drawn_fmap_{name}",
                    )

with kernel_tab:
    if kernel_tab.open:
        try:
            kernels = inspection.first_layer_kernels(model)
        except DigitLabError as error:
            components.show_error(error)
        else:
            st.plotly_chart(components.cached_figure(kernel_grid, kernels), key="inspect_kernels")
            st.caption(
                "The weights each first-layer filter slides over the image: red pixels add, blue pixels subtract. "
                "Edge and stroke detectors show as red next to blue."
            )

links.publish_view("inspect")

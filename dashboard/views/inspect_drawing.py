"""Inspect's drawing tab: a digit drawn on a canvas, prepared exactly as the training images were, its
probabilities, a heatmap of the evidence and its layers' activations; the drawing survives tab and page switches."""

import numpy as np
import streamlit as st

from charts.explain import explanation_overlay
from charts.inspect import activation_grid, input_image, probability_bars
from dashboard import components, explain_methods, services, state
from dashboard.views.explain_view import METHODS
from dashboard.views.inspect_layers import chart_layer_name
from engine import inspection
from engine.datasets import normalised
from engine.drawing import drawing_objects, drawing_pixels
from engine.errors import DigitLabError
from engine.probes.explain import Explanation, explain_images

BRUSH_KEY, KEPT_BRUSH_KEY = "inspect_brush", "_inspect_brush"
CANVAS_TOOLBAR_PX = 48  # streamlit-drawable-canvas 0.13: its toolbar card sits 2.65rem (42 px) above the canvas


def _drawing_explanation(run_id: str, drawn01: np.ndarray, method: str) -> Explanation:
    # Not cached: every stroke is a new image, and one explanation takes 0.015-0.23 s (bench/explain_probes.py).
    return explain_images(services.model(run_id), drawn01[None], explain_methods.settings_for(method))


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


def show_drawing(run, dataset, model, extractor, class_names, chart_names) -> None:
    value_max = float(dataset.value_max)
    h, w = dataset.image_shape[:2]
    recipe = (
        "UCI's recipe: the digit is fitted into a 32x32 bitmap and the set pixels of each 4x4 block are counted (0..16)"
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
            METHODS,
            key="inspect_draw_method",
            help="The heatmap of the predicted class, recomputed on every stroke (the Explain page has the options).",
        )
        # The canvas's toolbar (undo, redo, bin) floats 2.65rem above its top edge, over the select above it:
        # a band of its own keeps both readable and clickable.
        st.space(CANVAS_TOOLBAR_PX)
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
            for name, kind, activations in extractor(drawn01):
                st.plotly_chart(
                    components.cached_figure(
                        activation_grid, chart_layer_name(name), kind, inspection.layer_display(activations), True
                    ),
                    key=f"inspect_drawn_fmap_{name}",
                )

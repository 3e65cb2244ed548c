"""Inspect's tabs about a test image: its class probabilities and the activations of every conv and pooling
layer (seed 002), with seeded random picks; and the learned first-layer kernels."""

import numpy as np
import streamlit as st

from charts.inspect import activation_grid, input_image, kernel_grid, probability_bars
from dashboard import components, services
from dashboard.views.inspect_view import SCALES
from engine import inspection
from engine.datasets import normalised
from engine.errors import DigitLabError
from engine.test_time_views import has_mirror_views

INDEX_KEY, PICKS_KEY = "inspect_index", "_inspect_picks"


@st.cache_resource(show_spinner=False, max_entries=8)
def extractor_for(run_id: str, copy: str) -> inspection.ActivationExtractor:
    # One activation model per run for the whole server; rebuilding it on every rerun costs a Keras graph.
    return inspection.activation_extractor(services.model(run_id))


@st.cache_data(show_spinner=False, max_entries=32)
def _mistakes(run_id: str, copy: str) -> np.ndarray:
    run = services.run(run_id)
    return inspection.mistake_indices(run.test_labels(), run.test_probabilities())


@st.cache_data(show_spinner=False, max_entries=256)
def _probabilities(run_id: str, copy: str, index: int, _image01: np.ndarray) -> np.ndarray:
    """Test image `index` (`_image01`, fixed by the run and index, so not hashed) through the run's model."""
    return inspection.predict(services.model(run_id), _image01)


@st.cache_resource(show_spinner=False, max_entries=64)
def _activation_figures(run_id: str, copy: str, index: int, per_map: bool, _image01: np.ndarray) -> list:
    """(layer name, figure) for every conv and pooling layer on one test image, built once per run, image and
    scaling for the server: coming back to the page (or another session on that image) runs no model and builds
    no figure. Streamlit sends a copy of a figure, so one object serves every session."""
    return [
        (name, activation_grid(chart_layer_name(name), kind, inspection.layer_display(activations, per_map), per_map))
        for name, kind, activations in extractor_for(run_id, copy)(_image01)
    ]


def chart_layer_name(name: str) -> str:
    # The stored model's own layer name: untrusted text, and Plotly reads titles as HTML.
    return components.plain(name, 60, chart=True)


def _pick(pool_name: str, pool_size: int, pool: np.ndarray | None = None) -> None:
    # Seeded picks: the n-th "Random" click of a session always lands on the same image.
    picks = st.session_state.get(PICKS_KEY, 0) + 1
    st.session_state[PICKS_KEY] = picks
    rng = np.random.default_rng([picks, 2002])
    st.session_state[INDEX_KEY] = int(rng.choice(pool) if pool is not None else rng.integers(pool_size))
    st.session_state["_inspect_pick_note"] = f"{pool_name} pick #{picks}"


def show_test_image(run, dataset, labels, chart_names) -> None:
    value_max, n_test = float(dataset.value_max), len(dataset.x_test)
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
        list(SCALES),
        horizontal=True,
        key="inspect_scaling",
        help="Seed 002 scales every map on its own (mean 128, one std = 64 grey levels), which shows "
        "patterns but hides strength; raw activations share one colour scale per layer.",
    )
    per_map = scaling.startswith("each")
    if has_mirror_views(run.meta):
        st.caption(
            "This model predicts from each image and its left-right mirror together (mirror views): the "
            "probabilities above are for both views; the maps below are the image's own."
        )
    for name, figure in _activation_figures(run.run_id, services.stored_copy(run), index, per_map, image01):
        st.plotly_chart(figure, key=f"inspect_fmap_{name}")


def show_kernels(model) -> None:
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

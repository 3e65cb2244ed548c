"""Inspect: look inside a trained CNN — one test image's class probabilities and the activations of every
conv and pooling layer (seed 002), the learned first-layer kernels, and a digit you draw yourself, prepared
exactly as the training images were.

The run is the one opened elsewhere (or in the link), else the stored run of the sidebar's model.
"""

import streamlit as st

from dashboard import components, links, services
from dashboard.views.inspect_drawing import show_drawing
from dashboard.views.inspect_layers import INDEX_KEY, extractor_for, show_kernels, show_test_image
from dashboard.views.inspect_view import TABS, VIEW
from engine.errors import DigitLabError
from engine.runs import run_label, spec_summary

selection = components.open_page("Inspect", VIEW)

run, dataset, labels, model = components.run_with_test_data("Inspect", selection)
meta = run.meta
try:
    extractor = extractor_for(run.run_id, services.stored_copy(run))
except DigitLabError as error:
    components.show_error(error)
    st.stop()
class_names = list(meta["class_names"])  # from stored meta: HTML-escaped for Plotly, which reads HTML
chart_names = [components.plain(name, 40, chart=True) for name in class_names]
accuracy = meta["metrics"]["test_accuracy"]
st.caption(
    f"Run `{run.run_id}` · {components.plain(run_label(run, dataset=False), 120)} · `{spec_summary(meta['spec'])}` · "
    f"{components.plain(dataset.name)} · test accuracy {accuracy:.2%}"
)

# Keyed, and rerun on change: the open tab is part of the link (`inspect_view.VIEW`). Each tab is computed and
# drawn only while open; the canvas, which forgets its strokes while not drawn, is given them back from session
# state when its tab opens again (`inspect_drawing._canvas_pixels`).
n_test = len(dataset.x_test)
components.checked_test_index(INDEX_KEY, n_test)  # whichever tab is open: a link's bad image is named at once
tabs = st.tabs(list(TABS), key="inspect_tab", on_change="rerun")

shows = (
    lambda: show_test_image(run, dataset, labels, chart_names),
    lambda: show_drawing(run, dataset, model, extractor, class_names, chart_names),
    lambda: show_kernels(model),
)
components.draw_open_tab(tabs, shows)

links.publish_view(VIEW)

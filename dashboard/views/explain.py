"""Explain: why a trained model answers as it does (issue 15) — a heatmap of the evidence for one test image's
class (Grad-CAM, saliency, SmoothGrad, integrated gradients, occlusion), the accuracy curve as the test set is
damaged step by step, how well its confidence matches its accuracy before and after temperature scaling, and
how its accuracy falls under adversarial attacks (FGSM, PGD).

The run is the one opened elsewhere (or in the link), else the stored run of the sidebar's model. All numbers come
from `engine.probes`, the same code as `digit-lab explain|robustness|calibration`.
"""

from functools import partial

import streamlit as st

from dashboard import components, links
from dashboard.views.explain_adversarial import show_adversarial
from dashboard.views.explain_prediction import INDEX_KEY, show_explanation
from dashboard.views.explain_probes import show_calibration, show_embedding_map, show_robustness
from dashboard.views.explain_run import ExplainedRun
from dashboard.views.explain_view import TABS, VIEW
from engine.runs import run_label

selection = components.open_page("Explain", VIEW)

run, dataset, labels, model = components.run_with_test_data("Explain", selection)
meta = run.meta
class_names = list(meta["class_names"])
chart_names = [components.plain(name, 40, chart=True) for name in class_names]
explained = ExplainedRun(run, dataset, labels, model, class_names, chart_names)
st.caption(
    f"Run `{run.run_id}` · {components.plain(run_label(run, dataset=False), 120)} · "
    f"{components.plain(dataset.name)} · test accuracy {meta['metrics']['test_accuracy']:.2%}"
)

# Keyed and rerun on change: the open tab is in the link, and only the open tab's content is computed.
tabs = st.tabs(list(TABS), key="explain_tab", on_change="rerun")

# The test image is shared by the first two tabs, so it is checked whichever is open.
components.checked_test_index(INDEX_KEY, explained.n_test)

components.draw_open_tab(
    tabs,
    [
        partial(show, explained)
        for show in (show_explanation, show_robustness, show_calibration, show_embedding_map, show_adversarial)
    ],
)

links.publish_view(VIEW)

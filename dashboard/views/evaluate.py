"""Evaluate: everything a report shows about one trained run, read from its stored test-set predictions.

Headline metrics, the classification report, the confusion matrix (choose a cell to see its images), the
most-confused pairs, misclassified and random sample images, one-vs-rest matrices, ROC curves, training
curves, the training-dynamics map and CSV downloads. The run is the link's `?run=`, else the stored run of the
sidebar's model.
"""

import streamlit as st

from dashboard import components, links, services, state
from dashboard.views.evaluate_dynamics import show_dynamics
from dashboard.views.evaluate_errors import show_confusion, show_mistakes, show_samples
from dashboard.views.evaluate_run import EvaluatedRun, show_headline, test_images
from dashboard.views.evaluate_scores import show_curves, show_downloads, show_one_vs_rest, show_report, show_roc
from dashboard.views.evaluate_view import TABS, VIEW
from engine.errors import DigitLabError

PICK_KEYS = ("eval_true", "eval_pred")

selection = components.open_page("Evaluate", VIEW)

# --- which run ----------------------------------------------------------------------------------------------
run_id = state.current_run_id()
run = services.run(run_id)
sidebar_run = services.find_current_run(selection)
if run_id and run is None:
    st.warning(
        f"Run `{run_id}` from the link: this run is not cached here yet. Runs live on the machine that "
        "trained them; the link's dataset, model and settings are in the sidebar, so it can be trained here.",
        icon=":material/database:",
    )
    state.set_page_param("run", run_id)  # keep the link pointing at what it asked for until something replaces it
    if selection.ready:
        if st.button("Train it now", key="eval_train_now", type="primary"):
            result = components.train_with_progress(selection)
            if result is not None:
                run = result.run
                if result.run.run_id != run_id:
                    st.info(
                        f"The sidebar's model trained here as run `{result.run.run_id}`: the link's id came from "
                        "other library versions or settings, so the numbers may differ slightly."
                    )
    else:
        st.caption(f"The sidebar's model cannot be trained as it stands: {components.plain(selection.error)}")
if run is None:
    run = sidebar_run
    if run is not None and run_id:
        st.caption(f"Showing the stored run of the sidebar's model, `{run.run_id}`, meanwhile.")
if run is None:
    st.info("No trained run to evaluate yet. Train the sidebar's model first, or open a stored run from Home.")
    st.page_link("views/train.py", label="Go to Train", icon=":material/model_training:")
    st.stop()

state.set_page_param("run", run.run_id)
if (
    sidebar_run is not None
    and sidebar_run.run_id != run.run_id
    and st.button(
        f"Show the sidebar model's run (`{sidebar_run.run_id}`) instead",
        key="eval_use_sidebar",
        help="The sidebar's dataset, model and settings have their own stored run.",
    )
):
    state.open_run(sidebar_run.run_id)
    st.rerun()

try:
    evaluation = services.evaluation(run.run_id)
except DigitLabError as error:
    components.show_error(error)
    st.stop()
# A refused history costs only the curves tab, which says why; the scores and images come from other files.
try:
    history, history_problem = services.history(run.run_id), ""
except DigitLabError as error:
    history, history_problem = None, str(error)
if evaluation is None:
    st.error(f"Run `{run.run_id}` disappeared from the store while loading; reload the page.")
    st.stop()

# --- headline -----------------------------------------------------------------------------------------------
refresh_share_box = show_headline(run, evaluation)
names = list(evaluation.class_names)  # raw for widgets and tables; chart_names for Plotly, which reads HTML
chart_names = [components.plain(name, 40, chart=True) for name in names]
k = evaluation.num_classes
images, value_max, no_images = test_images(run.meta, evaluation)
if images is None:
    st.warning(f"Metrics only, no images: {components.plain(no_images)}.", icon=":material/image:")
ev = EvaluatedRun(run, evaluation, history, names, chart_names, images, value_max, history_problem)


# The view values every tab's widgets start from, checked and defaulted whichever tab is open (all cheap: the
# confusion matrix and the sorted mistakes), so a link's notice shows at once and the link names the same view.
pairs = evaluation.most_confused_pairs(10)
wrong = evaluation.misclassified()
components.link_view_check(
    "cell",
    PICK_KEYS,
    all(st.session_state.get(key, 0) in range(k) for key in PICK_KEYS),
    f"this run has {k} classes, numbered 0 to {k - 1}",
)
for key, default in zip(
    PICK_KEYS, (pairs.iloc[0][["true_label", "predicted_label"]] if not pairs.empty else (0, 0)), strict=True
):
    if st.session_state.get(key) not in range(k):
        st.session_state[key] = int(default)
components.link_view_check(
    "ovr", ("eval_ovr_class",), st.session_state.get("eval_ovr_class", 0) in range(k), f"this run has {k} classes"
)
if st.session_state.get("eval_ovr_class") not in range(k):
    st.session_state["eval_ovr_class"] = 0
if not wrong.empty:
    components.link_view_check(
        "shown",
        ("eval_gallery_n",),
        int(st.session_state.get("eval_gallery_n", 1)) <= min(100, len(wrong)),
        f"this run has {len(wrong)} mistakes",
    )
    st.session_state.setdefault("eval_gallery_n", min(20, len(wrong)))  # not the slider's value: links set it
    listed = wrong["index"].head(1 if len(wrong) == 1 else int(st.session_state["eval_gallery_n"]))
    components.link_view_check(
        "mistake",
        ("eval_inspect",),
        st.session_state.get("eval_inspect") in set(listed),
        "that test image is not among the mistakes listed",
    )
    st.session_state.setdefault("eval_inspect", int(listed.iloc[0]))

# The confusion matrix's epoch: one of this run's epochs, the stored model's by default.
epochs_run = len(history["epochs"]) if history else 0
components.link_view_check(
    "epoch",
    ("eval_epoch",),
    st.session_state.get("eval_epoch", 1) in range(1, epochs_run + 1),
    f"this run has {epochs_run} epochs",
)
if epochs_run and st.session_state.get("eval_epoch") not in range(1, epochs_run + 1):
    st.session_state["eval_epoch"] = int(history.get("restored_epoch") or epochs_run)

# Keyed, and rerun on change: the open tab is part of the link (`evaluate_view.VIEW`), and only the open tab's
# content is computed and drawn (eight tabs' figures on every rerun made each page switch cost seconds).
tabs = st.tabs(list(TABS), key="eval_tab", on_change="rerun")
shows = (
    lambda: show_report(ev),
    lambda: show_confusion(ev, pairs),
    lambda: show_mistakes(ev, wrong),
    lambda: show_samples(ev),
    lambda: show_one_vs_rest(ev),
    lambda: show_roc(ev),
    lambda: show_curves(ev),
    lambda: show_dynamics(ev),
    lambda: show_downloads(ev),
)
components.draw_open_tab(tabs, shows)

links.publish_view(VIEW)
refresh_share_box()  # now the link names the open tab, cell and toggles, as the address bar does

"""Evaluate: everything a report shows about one trained run, read from its stored test-set predictions.

Headline metrics, the classification report, the confusion matrix (choose a cell to see its images), the
most-confused pairs, misclassified and random sample images, one-vs-rest matrices, ROC curves, training
curves and CSV downloads. The run is the link's `?run=`, else the stored run of the sidebar's model.
"""

from dataclasses import replace

import numpy as np
import pandas as pd
import streamlit as st

from charts import evaluation as charts
from charts.training import training_curves
from dashboard import components, explaining, links, services, state
from dashboard.report_buttons import report_buttons
from engine.architectures import PRESETS
from engine.architectures.presets import run_model_label
from engine.compare import reported_test_accuracy
from engine.datasets import normalised as normalised_images
from engine.errors import DigitLabError
from engine.evaluation import one_vs_rest_matrix
from engine.evaluation.predictions import predictions_table, sample_predictions
from engine.probes.explain import explain_images
from engine.reports import run_subject

MAX_CELL_IMAGES = 30
PICK_KEYS = ("eval_true", "eval_pred")

st.title("Evaluate")
components.link_problems()
links.keep_view_state("evaluate")  # before any widget: a closed tab's widgets keep their values and their link
selection = state.selection()

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
    history = services.history(run.run_id)
except DigitLabError as error:
    components.show_error(error)
    st.stop()
if evaluation is None:
    st.error(f"Run `{run.run_id}` disappeared from the store while loading; reload the page.")
    st.stop()

# --- headline -----------------------------------------------------------------------------------------------
meta = run.meta
names = list(evaluation.class_names)  # raw for widgets and tables; chart_names for Plotly, which reads HTML
chart_names = [components.plain(name, 40, chart=True) for name in names]
k = evaluation.num_classes
cols = st.columns(5)
cols[0].metric(
    "Test accuracy",
    f"{evaluation.accuracy:.2%}",
    help=f"{evaluation.num_errors} of {evaluation.num_samples} test images wrong",
)
cols[1].metric("Macro precision", f"{evaluation.macro_precision:.4f}")
cols[2].metric("Macro recall", f"{evaluation.macro_recall:.4f}")
cols[3].metric("Macro F1", f"{evaluation.macro_f1:.4f}")
cols[4].metric("Log loss", f"{evaluation.log_loss:.4f}")
preset_name = meta.get("preset") or ""
plain = components.plain  # stored meta is untrusted: names from it are shown as literal text
st.markdown(
    f"Run `{run.run_id}` · dataset **{plain(meta['dataset']['name'], 60)}** "
    f"({meta['dataset'].get('n_test', evaluation.num_samples):,} "
    f"test images, {k} classes) · model **{plain(run_model_label(meta), 120)}** · "
    f"{meta['parameters']['total']:,} parameters · {plain(meta.get('epochs_run', '?'), 10)} epochs in "
    f"{meta.get('train_seconds', 0):.1f} s · created {plain(meta.get('created', '?'), 40)}"
)
reported_accuracy = reported_test_accuracy(preset_name, meta["dataset"]["name"])  # NaN on another dataset
if reported_accuracy == reported_accuracy:
    st.caption(
        f"Test accuracy — report: {reported_accuracy:.2%} (on {PRESETS[preset_name].dataset}) · "
        f"ours: {evaluation.accuracy:.2%} (on {plain(meta['dataset']['name'], 60)})"
    )
if meta.get("warnings"):
    with st.container(border=True, key="evaluate_run_warnings"):
        st.caption(":material/warning: Stored with this run — read its scores with these in mind:")
        for warning in meta["warnings"]:
            st.text(warning)  # stored meta is untrusted: plain text, never Markdown
for note in evaluation.notes:
    st.info(plain(note), icon=":material/info:")
components.share_box()


def test_images():
    """The run's test images (same order as its stored labels) and their value range, or None and why not."""
    name = meta["dataset"]["name"]
    try:
        dataset = services.dataset(name)
    except DigitLabError as error:
        return None, 1.0, f"the dataset {name} cannot be loaded here ({error})"
    if meta["dataset"].get("fingerprint", dataset.fingerprint) != dataset.fingerprint:
        return None, 1.0, f"the {name} images here differ from the ones this run was trained on"
    if len(dataset.x_test) != evaluation.num_samples:
        return (
            None,
            1.0,
            (f"the run has {evaluation.num_samples} test labels but {name} has {len(dataset.x_test)} test images here"),
        )
    return dataset.x_test, dataset.value_max, ""


images, value_max, no_images = test_images()
if images is None:
    st.warning(f"Metrics only, no images: {plain(no_images)}.", icon=":material/image:")


@st.cache_data(show_spinner="Explaining the mistakes shown…", max_entries=32)
def gallery_heatmaps(
    run_id: str, copy: str, indices: tuple[int, ...], method: str, explained: str, _images01, _targets
):
    """Heatmaps of the shown mistakes in one batched engine call, cached by run id (and stored copy), indices,
    method and the class explained: those fix the images (the run's test images at `indices`) and the classes, so
    they are not hashed."""
    return explain_images(services.model(run_id), _images01, explaining.settings_for(method), targets=_targets).heatmaps


def show_images(
    indices, title: str, key: str, columns: int = 6, panel_px: int | None = None, heatmaps=None, heat_opacity=0.6
) -> None:
    if images is None or len(indices) == 0:
        return
    titles, colours = [], []
    for i in indices:
        truth, guess = evaluation.y_true[i], evaluation.y_pred[i]
        titles.append(
            f"#{i} · {chart_names[guess]} ({evaluation.confidence[i]:.0%})"
            if truth != guess
            else f"#{i} · {chart_names[truth]}"
        )
        colours.append("#d62728" if truth != guess else "#222222")
    st.plotly_chart(
        components.cached_figure(
            charts.image_grid,
            images[np.asarray(indices)],
            titles,
            value_max,
            columns=columns,
            title=title,
            title_colours=colours,
            panel_px=panel_px,
            heatmaps=heatmaps,
            heat_opacity=heat_opacity,
        ),
        key=key,
    )


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

# Keyed, and rerun on change: the open tab is part of the link (`links.VIEW_PARAMS`), and only the open tab's
# content is computed and drawn (eight tabs' figures on every rerun made each page switch cost seconds).
(report_tab, confusion_tab, mistakes_tab, samples_tab, ovr_tab, roc_tab, curves_tab, download_tab) = st.tabs(
    list(links.EVALUATE_TABS), key="eval_tab", on_change="rerun"
)

with report_tab:
    if report_tab.open:
        st.subheader("Classification report")
        # The accuracy row has no precision or recall: blank, as in scikit-learn's report. The grid shows a NaN as
        # "None" whatever the formatting, so the ratios travel as fixed-width text (it still sorts correctly).
        report = evaluation.report.rename_axis("class").reset_index()
        for name in ("precision", "recall", "f1-score"):
            report[name] = ["" if pd.isna(value) else f"{value:.4f}" for value in report[name]]
        st.dataframe(report, hide_index=True, key="eval_report", height=35 * (len(evaluation.report) + 1) + 3)
        with st.expander("As text (scikit-learn's layout)"):
            st.code(evaluation.report_text(), language=None)

with confusion_tab:
    if confusion_tab.open:
        normalised = st.toggle("Show shares of each true class (normalised rows)", key="eval_normalised")
        title = f"Confusion matrix · {evaluation.num_samples:,} test images" + (" · row shares" if normalised else "")
        chart_event = st.plotly_chart(
            components.cached_figure(
                charts.confusion_heatmap, evaluation.confusion, chart_names, normalised, title=title
            ),
            key=f"eval_confusion_{run.run_id}",
            on_select="rerun",
            selection_mode="points",
        )
        st.caption(
            "Rows are the true class, columns the prediction; the diagonal is correct. Click a cell to see its images."
        )

        st.subheader("Most confused pairs")
        if pairs.empty:
            st.success("No test image was misclassified.")
            pairs_event = None
        else:
            pairs_event = st.dataframe(
                pairs[["true", "predicted", "count", "share_of_true"]],
                hide_index=True,
                key=f"eval_pairs_{run.run_id}",
                on_select="rerun",
                selection_mode="single-row",
                column_config={"share_of_true": st.column_config.NumberColumn("share of true class", format="percent")},
            )

        # A chosen chart cell or table row moves the two select boxes, which stay the one source of truth.
        picks = []
        points = chart_event.selection.points if chart_event else []
        cell_number = points[0].get("point_index", points[0].get("point_number")) if points else None
        if cell_number is not None and points[0].get("curve_number") == 1 and 0 <= int(cell_number) < k * k:
            # Markers run row by row: index = true * k + predicted.
            picks.append(("chart", *divmod(int(cell_number), k)))
        rows = pairs_event.selection.rows if pairs_event else []
        if rows:
            picks.append(("table", int(pairs.iloc[rows[0]]["true_label"]), int(pairs.iloc[rows[0]]["predicted_label"])))
        seen = st.session_state.setdefault("_eval_seen_picks", {})
        for source, truth, guess in picks:
            if seen.get(source) != (run.run_id, truth, guess):
                seen[source] = (run.run_id, truth, guess)
                st.session_state["eval_true"], st.session_state["eval_pred"] = truth, guess

        st.subheader("Images behind one cell")
        left, right = st.columns(2)
        truth = left.selectbox("True class", range(k), format_func=lambda i: names[i], key="eval_true")
        guess = right.selectbox("Predicted class", range(k), format_func=lambda i: names[i], key="eval_pred")
        cell = evaluation.cell_indices(truth, guess)
        st.markdown(
            f"**{len(cell):,}** test images of class **{plain(names[truth], 40)}** predicted as "
            f"**{plain(names[guess], 40)}**"
            + (f" (showing the first {MAX_CELL_IMAGES})" if len(cell) > MAX_CELL_IMAGES else "")
        )
        show_images(
            cell[:MAX_CELL_IMAGES],
            f"True {chart_names[truth]} · predicted {chart_names[guess]}",
            key="eval_cell_images",
        )

with mistakes_tab:
    if mistakes_tab.open:
        st.subheader(f"Misclassified test images ({len(wrong):,})")
        if wrong.empty:
            st.success("No test image was misclassified.")
        else:
            limit = (
                1
                if len(wrong) == 1
                else st.slider(
                    "How many (most confident mistakes first)", 1, min(100, len(wrong)), key="eval_gallery_n"
                )
            )
            shown = wrong["index"].to_numpy()[:limit]
            overlay_col, target_col = st.columns([1, 2], vertical_alignment="bottom")
            overlay = overlay_col.selectbox(
                "Heatmap over each mistake",
                links.GALLERY_OVERLAYS,
                format_func=lambda name: "none" if name == "off" else name,
                key="eval_overlay",
                disabled=images is None,
                help="Why the model answered as it did, drawn over each image (the Explain page has every method and "
                "its options). Computed for the mistakes shown, in one batch, and kept; integrated gradients is the "
                "slowest (32 gradient passes per image: about 10 s for 100 Fashion-MNIST mistakes on 2 cores).",
            )
            explained = target_col.radio(
                "Explaining",
                links.GALLERY_TARGETS,
                format_func=lambda which: f"the {which} class",
                horizontal=True,
                key="eval_overlay_class",
                disabled=overlay == "off" or images is None,
                help="Predicted: what made the model say the wrong class. True: where it saw (or missed) the evidence "
                "for the right one.",
            )
            heatmaps = None
            if overlay != "off" and images is not None:
                try:
                    heatmaps = gallery_heatmaps(
                        run.run_id,
                        services.stored_copy(run),
                        tuple(int(i) for i in shown),
                        overlay,
                        explained,
                        normalised_images(images[shown], value_max),
                        [int(evaluation.y_true[i]) for i in shown] if explained == "true" else None,
                    )
                except DigitLabError as error:
                    components.show_error(error)
            title = "Most confident mistakes (title: predicted class and confidence)"
            if heatmaps is not None:
                title += f" · {overlay} evidence for the {explained} class"
            show_images(shown, title, key="eval_mistake_images", heatmaps=heatmaps)
            st.dataframe(
                wrong.drop(columns=["true_label", "predicted_label"]).head(limit),
                hide_index=True,
                key="eval_mistakes",
                column_config={
                    "confidence": st.column_config.ProgressColumn(format="%.3f", min_value=0, max_value=1),
                    "true_probability": st.column_config.NumberColumn("probability of the true class", format="%.3f"),
                },
            )
            if st.session_state.get("eval_inspect") not in set(wrong["index"].head(limit)):
                st.session_state["eval_inspect"] = int(wrong["index"].iloc[0])  # the slider now lists fewer
            inspect = st.selectbox(
                "Look at one mistake",
                wrong["index"].head(limit),
                key="eval_inspect",
                format_func=lambda i: (
                    f"#{i}: true {names[evaluation.y_true[i]]}, predicted {names[evaluation.y_pred[i]]}"
                ),
            )
            if inspect is not None:
                image_col, bars_col = st.columns([1, 3])
                with image_col:
                    show_images([inspect], f"Test image #{inspect}", key="eval_inspect_image", columns=1, panel_px=200)
                bars_col.plotly_chart(
                    charts.probability_bars(
                        evaluation.probabilities[inspect],
                        chart_names,
                        int(evaluation.y_true[inspect]),
                        title=f"Probabilities for test image #{inspect}",
                    ),
                    key="eval_inspect_bars",
                )

with samples_tab:
    if samples_tab.open:
        st.subheader("Random sample predictions")

        def reshuffle() -> None:
            st.session_state["eval_sample_seed"] = int(st.session_state.get("eval_sample_seed", 0)) + 1

        seed_col, button_col = st.columns([1, 4], vertical_alignment="bottom")
        seed = seed_col.number_input("Seed", 0, 2**31 - 1, key="eval_sample_seed")
        button_col.button("Reshuffle", key="eval_reshuffle", on_click=reshuffle)
        table = sample_predictions(evaluation.y_true, evaluation.probabilities, names, seed=int(seed))
        if images is None:
            st.dataframe(table, hide_index=True, key="eval_samples")
        else:
            pairs = list(zip(table["true"], table["predicted"], strict=True))
            titles = [
                f"True: {components.plain(t, 40, chart=True)} / Pred: {components.plain(g, 40, chart=True)}"
                for t, g in pairs
            ]
            colours = ["#d62728" if truth != guess else "#222222" for truth, guess in pairs]
            st.plotly_chart(
                components.cached_figure(
                    charts.image_grid,
                    images[table["index"].to_numpy()],
                    titles,
                    value_max,
                    columns=5,
                    panel_px=160,
                    title=f"10 random test images (seed {seed})",
                    title_colours=colours,
                ),
                key="eval_sample_images",
            )
            st.caption(f"{int((table['true'] == table['predicted']).sum())} of {len(table)} right; wrong ones in red.")

with ovr_tab:
    if ovr_tab.open:
        st.subheader("One class against the rest")
        st.markdown(
            "The multi-class matrix folds into one 2x2 matrix per class: **TP** the class predicted as itself, "
            "**FN** the class predicted as another, **FP** another class predicted as this one, **TN** the rest."
        )
        chosen = st.selectbox("Class", range(k), format_func=lambda i: names[i], key="eval_ovr_class")
        matrix_col, table_col = st.columns([2, 3])
        matrix_col.plotly_chart(
            charts.one_vs_rest_heatmap(one_vs_rest_matrix(evaluation.confusion, chosen), chart_names[chosen]),
            key="eval_ovr_heatmap",
        )
        table_col.dataframe(evaluation.one_vs_rest(), hide_index=True, key="eval_ovr_table")


@st.cache_resource(show_spinner="Computing ROC curves…", max_entries=16)
def roc_for(run_id: str, copy: str):
    return services.evaluation(run_id).roc_curves()


with roc_tab:
    if roc_tab.open:
        try:
            roc = roc_for(run.run_id, services.stored_copy(run))
        except DigitLabError as error:
            components.show_error(error)
        else:
            axes = {
                "log": "log scale",
                "zoom": f"zoom to FPR ≤ {charts.ROC_ZOOM_FPR:g}",
                "linear": "whole range",
            }
            if st.session_state.get("eval_roc_axis") not in axes:
                # Near-perfect curves hug the corner on a linear axis; start where they can be told apart.
                st.session_state["eval_roc_axis"] = "log" if roc.macro.defined and roc.macro.auc >= 0.99 else "linear"
            fpr_axis = st.radio(
                "False-positive axis",
                list(axes),
                format_func=axes.get,
                horizontal=True,
                key="eval_roc_axis",
                help="A good model's curves sit in the top-left corner; a log scale or a zoom spreads the low "
                "false-positive rates where they differ. On a log axis each curve starts at its first false positive.",
            )
            # Curve names are class names from the run's meta: HTML-escaped, since Plotly's legend reads HTML.
            curves = [replace(curve, name=components.plain(curve.name, 40, chart=True)) for curve in roc.per_class]
            st.plotly_chart(charts.roc_figure(curves, roc.micro, roc.macro, fpr_axis=fpr_axis), key="eval_roc")
            for note in roc.notes:
                st.info(plain(note), icon=":material/info:")
            st.dataframe(
                roc.auc_table(),
                hide_index=True,
                key="eval_auc",
                height=35 * (k + 3) + 3,
                column_config={"auc": st.column_config.NumberColumn("AUC", format="%.5f")},
            )

with curves_tab:
    if curves_tab.open:
        if history and history.get("epochs"):
            st.plotly_chart(
                components.cached_figure(training_curves, history, title=f"Training curves · run {run.run_id}"),
                key="eval_curves",
            )
            st.caption(
                "Epoch 0 is the validation score before any training (seed 004); without a validation split only "
                "training curves exist."
            )
        else:
            st.info("This run has no training history.")

with download_tab:
    if download_tab.open:
        st.download_button(
            "Classification report (CSV)",
            data=evaluation.report.to_csv(index_label="class"),
            file_name=f"report-{run.run_id}.csv",
            mime="text/csv",
            key="eval_dl_report",
            on_click="ignore",
        )

        def predictions_csv() -> str:
            return predictions_table(evaluation.y_true, evaluation.probabilities, names).to_csv(index=False)

        st.download_button(
            "Test-set predictions (CSV)",
            data=predictions_csv,
            file_name=f"predictions-{run.run_id}.csv",
            mime="text/csv",
            key="eval_dl_predictions",
            on_click="ignore",
        )
        st.caption(
            "Predictions: one row per test image (same order as the dataset's test set) with every class's probability."
        )
        report_buttons(
            lambda: run_subject(run.run_id), f"digit-lab-run-{run.run_id}", "eval_report", meta["dataset"]["name"]
        )

links.publish_view("evaluate")

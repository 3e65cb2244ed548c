"""Compare: any stored runs side by side (table, aligned curves, accuracy vs size, confusions) and seed 003's study."""

import math

import pandas as pd
import streamlit as st

from charts.compare import accuracy_vs_parameters, aligned_curves, confusion_grid
from dashboard import components, hosting, job_panel, links, services, state
from dashboard.report_buttons import report_buttons
from dashboard.views.compare_view import METRICS, VIEW
from engine.architectures import PRESETS
from engine.compare import (
    PRESET_STUDIES,
    comparison_with_reports,
    preset_study_tasks,
    reported_test_accuracy,
    run_preset_study,
)
from engine.compare import accuracy_vs_parameters as accuracy_points
from engine.compare import aligned_curves as curve_table
from engine.errors import DigitLabError
from engine.jobs import JobRequest
from engine.reports import runs_subject
from engine.reports.subject import best_run
from engine.runs import labels_of

KEPT = state.COMPARE_KEPT_KEY
MAX_CONFUSIONS = 6
PRESET_STUDY = "seed003"


def _request_study() -> None:
    st.session_state["_study_requested"] = True


@st.cache_data(show_spinner=False, max_entries=64)
def _curves(run_ids: tuple[str, ...], labels: tuple[str, ...], _runs) -> tuple[pd.DataFrame, list[tuple[str, str]]]:
    # A run id is a content hash, so the ids key the stored histories; the labels too, as a run stored since can
    # change how another is told apart.
    problems: list[tuple[str, str]] = []
    return curve_table(_runs, problems, dict(zip(run_ids, labels, strict=True))), problems


# The side-by-side table's columns, in px: the label names preset, changes, fold and dataset, so the preset,
# dataset and architecture columns would repeat it; fixed widths fit a 1400 px window (components.TABLE_WIDTH_PX).
COMPARE_COLUMNS = {
    "label": 300,
    "test_accuracy": 115,
    "reported_accuracy": 75,
    "macro_f1": 70,
    "parameters": 85,
    "train_seconds": 60,
    "epochs": 55,
    "batch_size": 50,
    "learning_rate": 70,
}


# The view is kept before any widget: the curve metric keeps its value and link past a visit elsewhere.
selection = components.open_page(
    "Compare", VIEW, caption="Pick any stored runs, across datasets too, and read them side by side."
)
ss = st.session_state

with st.expander("Seed 003's ten-model study", expanded=False):
    st.markdown(
        "Seed 003 trained ten small MNIST CNNs that differ in filters, kernel size, layer order, batch size, "
        "epochs, learning rate and activation. Run all ten on the current dataset (each is cached), then "
        "compare them here (on MNIST, with the report's accuracies beside ours)."
    )
    dataset = selection.dataset
    fits = dataset is not None and tuple(dataset.image_shape[:2]) == (28, 28)
    if dataset is None:
        st.warning(
            f"The dataset {components.plain(selection.dataset_name, 60)} cannot be loaded here: "
            f"{components.plain(selection.error)}"
        )
    elif not fits:
        h, w = dataset.image_shape[:2]
        st.warning(
            f"The seed 003 models were designed for 28x28 images; {components.plain(dataset.name)} has {h}x{w} images, "
            "too small "
            "for most of them. Choose **fashion-mnist** in the sidebar (available offline here via Debian's "
            "`dataset-fashion-mnist` package) or **mnist** (with a local copy), then run the study.",
            icon=":material/straighten:",
        )
    left, right = st.columns(2)
    left.number_input(
        "Training subset (images, 0 = all)",
        0,
        1_000_000,
        5000,
        step=1000,
        key="study_limit_train",
        help="A stratified subset keeps the ten models to minutes on a laptop CPU.",
    )
    right.number_input(
        "Epochs (0 = each preset's own)",
        0,
        100,
        0,
        key="study_epochs",
        help="The report trained 10 epochs (5 for model 8).",
    )
    study_executor = components.executor_choice("study_executor")
    st.button(
        f"Run the {PRESET_STUDY} study",
        key="study_run",
        disabled=not fits,
        type="primary",
        on_click=_request_study,
        help="Trains (or fetches) all ten models." if fits else "The study needs a dataset of 28x28 images.",
    )

# A study on Ray runs in a job driver of its own (never in this server); this page follows it, and a reload or the
# link (?job=) finds it again. When it is done its runs are selected below, as after a study run here.
study_job_request, study_job = job_panel.current("study")
if study_job is not None:
    with st.container(border=True):
        st.markdown(f"**{job_panel.plain(study_job_request.title)}**")
        if job_panel.follow(study_job_request, study_job) and not ss.get(f"_job_selected_{study_job.job_id}"):
            ss[f"_job_selected_{study_job.job_id}"] = True
            ss[state.COMPARE_KEY] = list(dict.fromkeys(run.run_id for run in study_job.runs))
            for run in study_job.runs:  # the job's link shares its runs, as a runs= link does (hosted mode)
                hosting.grant_run(run.run_id)
            st.success(f"The study's {study_job.total} runs are stored and selected below.")

study_requested = ss.pop("_study_requested", False)
if study_requested and fits and study_executor == "ray":
    try:
        tasks = preset_study_tasks(
            PRESET_STUDY,
            dataset,
            limit_train=int(ss["study_limit_train"]) or None,
            epochs=int(ss["study_epochs"]) or None,
        )
    except DigitLabError as error:
        components.show_error(error)
        st.stop()
    title = f"The {PRESET_STUDY} study on {dataset.name}"
    if job_panel.start(JobRequest("study", "model", title, "ray", tuple(task.portable() for task in tasks))):
        st.rerun()
elif study_requested:
    if not fits:
        st.warning(
            "The seed 003 study needs 28x28 images (fashion-mnist or mnist); nothing was trained.",
            icon=":material/straighten:",
        )
    else:
        presets = PRESET_STUDIES[PRESET_STUDY]
        title = f"Running the {PRESET_STUDY} study on {dataset.name}…"
        with components.batch_progress(title, "model", len(presets)) as panel:
            try:
                results = run_preset_study(
                    PRESET_STUDY,
                    dataset,
                    progress=panel,
                    store=services.store(),
                    executor=study_executor,
                    limit_train=int(ss["study_limit_train"]) or None,
                    epochs=int(ss["study_epochs"]) or None,
                )
            except DigitLabError as error:
                panel.stopped("The study stopped", error)
            panel.finished(f"{PRESET_STUDY} study: {len(results)} models in {panel.elapsed:.0f} s")
        first_preset: dict[str, str] = {}
        for preset_name, result in zip(presets, results, strict=True):
            first_preset.setdefault(result.run.run_id, preset_name)
        # Overrides can make two presets identical (m7 and m8 differ only in epochs): one cached run serves both.
        shared = [
            f"{p} = {first_preset[r.run.run_id]}"
            for p, r in zip(presets, results, strict=True)
            if first_preset[r.run.run_id] != p
        ]
        ss[state.COMPARE_KEY] = list(first_preset)
        # The table shows a report's figure only beside runs on the report's dataset (engine.compare): say so
        # rather than promise a column that a study on Fashion-MNIST does not get.
        if any(not math.isnan(reported_test_accuracy(p, dataset.name)) for p in presets):
            beside = "the table shows seed 003's reported accuracies beside ours."
        else:
            report_data = ", ".join(sorted({PRESETS[p].dataset for p in presets}))
            beside = (
                f"seed 003 reports its accuracies on {report_data} only, so the table has no reported column for "
                f"runs on {components.plain(dataset.name)}."
            )
        st.success(
            f"Selected the {len(first_preset)} study runs below; {beside}"
            + (f" With these settings {', '.join(shared)} (the same run)." if shared else "")
        )

runs = hosting.visible_runs(services.store().list())  # hosted: not the runs on another visitor's upload
if not runs:
    st.info("No stored runs yet. Train a model on the Train page (or run the study above), then compare runs here.")
    st.page_link("views/train.py", label="Go to Train", icon=":material/model_training:")
    st.stop()
by_id = {run.run_id: run for run in runs}
run_names = labels_of(runs)  # over every stored run, so a choice reads the same in the picker, table and charts
wanted = list(dict.fromkeys(ss.get(state.COMPARE_KEY, ss.get(KEPT, []))))
missing = [run_id for run_id in wanted if run_id not in by_id]
if missing:
    st.warning(
        f"{len(missing)} selected run(s) are not in this store and were dropped: {', '.join(m[:8] for m in missing)}.",
        icon=":material/link:",
    )
ss[state.COMPARE_KEY] = [run_id for run_id in wanted if run_id in by_id]
chosen_ids = st.multiselect(
    "Runs to compare",
    list(by_id),
    key=state.COMPARE_KEY,
    format_func=run_names.__getitem__,
    placeholder="Choose stored runs (any dataset)",
)
ss[KEPT] = chosen_ids
state.set_page_param("runs", ",".join(chosen_ids))
if not chosen_ids:
    st.info(f"{len(runs)} runs are stored. Choose one or more above to compare them.")
    st.stop()
chosen = [by_id[run_id] for run_id in chosen_ids]

table = comparison_with_reports(chosen, run_names)
# Scores first: the table is wide and the right-hand columns scroll out of view.
columns = dict(COMPARE_COLUMNS)
if table["reported_accuracy"].isna().all():
    columns.pop("reported_accuracy")
# The grid prints a missing number as "None": the figure travels as fixed-width text, blank where no source
# reports one (it still sorts correctly).
table["reported_accuracy"] = ["" if pd.isna(value) else f"{value:.4f}" for value in table["reported_accuracy"]]
table = table[["run_id", *columns]]  # only what is shown (run_id: which run a selected row is)
st.subheader("Side by side")
number = st.column_config.NumberColumn
picked = st.dataframe(
    table,
    hide_index=True,
    on_select="rerun",
    selection_mode="single-row",
    key="compare_table",
    column_order=list(columns),
    column_config=components.fixed_columns(
        columns,
        {
            "label": st.column_config.TextColumn("run", pinned=True),
            "parameters": number("params", format="localized"),
            "batch_size": number("batch"),
            "learning_rate": number("lr", format="%g", help="learning rate"),
            "test_accuracy": st.column_config.ProgressColumn("test accuracy", format="%.4f", min_value=0, max_value=1),
            "reported_accuracy": st.column_config.TextColumn(
                "reported",
                help="The source report's test accuracy for this preset; blank for custom models and Digit Lab's own.",
            ),
            "macro_f1": number("macro F1", format="%.4f"),
            "train_seconds": number("train s", format="%.1f"),
            "epochs": number("epochs"),
        },
    ),
)
rows = picked.selection.rows if picked else []
if rows and st.button(f"Open {components.plain(table.iloc[rows[0]]['label'], 80)} in Evaluate", key="compare_open"):
    state.open_run(table.iloc[rows[0]]["run_id"])
    st.switch_page("views/evaluate.py")
st.caption("Select a row to open that run in Evaluate. Click a column header to sort.")
best_id = best_run(chosen)[0]  # reads metas only; the files are built on a click
report_buttons(
    lambda: runs_subject(chosen_ids, kind="comparison"),
    f"digit-lab-comparison-{len(chosen_ids)}-runs-{best_id}",
    "compare_report",
    by_id[best_id].meta["dataset"]["name"],
)


def chart_text(text) -> str:
    return components.plain(text, 60, chart=True)


st.subheader("Training curves")
curves, unreadable = _curves(tuple(chosen_ids), tuple(run_names[run_id] for run_id in chosen_ids), chosen)
for run_id, reason in unreadable:  # a refused file costs that run its curve, not the page
    st.text(f"No curve for run {run_id}: {reason}")
metrics = [m for m in METRICS if m in set(curves["metric"])]
if metrics:
    asked = ss.get("compare_metric")
    if asked is not None and asked not in metrics:  # e.g. a link's validation curve for runs trained without one
        st.caption(
            f"None of these runs recorded {asked.replace('_', ' ')}, the metric asked for; showing "
            f"{metrics[0].replace('_', ' ')} instead."
        )
        ss["compare_metric"] = metrics[0]
    metric = st.selectbox(
        "Metric",
        metrics,
        key="compare_metric",
        format_func=lambda m: {
            "val_accuracy": "validation accuracy",
            "accuracy": "training accuracy",
            "val_loss": "validation loss",
            "loss": "training loss",
        }[m],
    )
    # Run labels carry preset and dataset names from stored meta; Plotly reads HTML in legends and hovers.
    shown_curves = curves.assign(label=curves["label"].map(chart_text))
    labels = [chart_text(label) for label in table["label"]]
    st.plotly_chart(aligned_curves(shown_curves, metric, labels), key="compare_curves")
    absent = [
        label for label in table["label"] if not ((curves["label"] == label) & (curves["metric"] == metric)).any()
    ]
    if absent:
        st.caption(
            f"No {metric.replace('_', ' ')} recorded for {components.plain(', '.join(absent), 300)} "
            "(trained without a validation split); pick a training metric to see them."
        )
else:
    st.info("These runs stored no per-epoch history.")

st.subheader("Accuracy against size")
points = accuracy_points(chosen, run_names)
points = points.assign(label=points["label"].map(chart_text), dataset=points["dataset"].map(chart_text))
st.plotly_chart(accuracy_vs_parameters(points), key="compare_scatter")

st.subheader("Confusion matrices")
matrices = []
for run in chosen[:MAX_CONFUSIONS]:
    scores = services.evaluation(run.run_id)
    if scores is not None:
        class_names = [chart_text(name) for name in scores.class_names]
        matrices.append((chart_text(run_names[run.run_id]), scores.confusion_normalised, class_names))
if len(chosen) > MAX_CONFUSIONS:
    st.caption(f"Showing the first {MAX_CONFUSIONS} of {len(chosen)} selected runs.")
if matrices:
    st.plotly_chart(confusion_grid(matrices), key="compare_confusions")

links.publish_view(VIEW)

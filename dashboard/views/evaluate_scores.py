"""Evaluate's tabs about the run's scores: the classification report, one class against the rest, ROC curves,
the training curves and the downloads."""

from dataclasses import replace

import pandas as pd
import streamlit as st

from charts import evaluation as charts
from charts.training import training_curves
from dashboard import components, services
from dashboard.report_buttons import report_buttons
from dashboard.views.evaluate_run import EvaluatedRun
from engine.errors import DigitLabError
from engine.evaluation import one_vs_rest_matrix
from engine.evaluation.predictions import predictions_table
from engine.reports import run_subject


def show_report(ev: EvaluatedRun) -> None:
    evaluation = ev.evaluation
    st.subheader("Classification report")
    # The accuracy row has no precision or recall: blank, as in scikit-learn's report. The grid shows a NaN as
    # "None" whatever the formatting, so the ratios travel as fixed-width text (it still sorts correctly).
    report = evaluation.report.rename_axis("class").reset_index()
    for name in ("precision", "recall", "f1-score"):
        report[name] = ["" if pd.isna(value) else f"{value:.4f}" for value in report[name]]
    st.dataframe(report, hide_index=True, key="eval_report", height=35 * (len(evaluation.report) + 1) + 3)
    with st.expander("As text (scikit-learn's layout)"):
        st.code(evaluation.report_text(), language=None)


def show_one_vs_rest(ev: EvaluatedRun) -> None:
    evaluation, names, chart_names, k = ev.evaluation, ev.names, ev.chart_names, ev.k
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


def show_roc(ev: EvaluatedRun) -> None:
    k, run = ev.k, ev.run
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
            st.info(components.plain(note), icon=":material/info:")
        st.dataframe(
            roc.auc_table(),
            hide_index=True,
            key="eval_auc",
            height=35 * (k + 3) + 3,
            column_config={"auc": st.column_config.NumberColumn("AUC", format="%.5f")},
        )


def show_curves(ev: EvaluatedRun) -> None:
    history, run = ev.history, ev.run
    if ev.history_problem:
        st.warning(f"No training curves: {components.plain(ev.history_problem)}", icon=":material/show_chart:")
    elif history and history.get("epochs"):
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


def show_downloads(ev: EvaluatedRun) -> None:
    evaluation, names, run = ev.evaluation, ev.names, ev.run
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
        lambda: run_subject(run.run_id), f"digit-lab-run-{run.run_id}", "eval_report", run.meta["dataset"]["name"]
    )

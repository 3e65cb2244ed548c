"""Cross-validation: stratified k-fold of the sidebar's model, each fold a cached run; spread, curves, CV vs test."""

import pandas as pd
import streamlit as st

from charts.crossval import cv_beside_test, fold_curves, fold_scores, train_label
from dashboard import components, job_panel, services, state
from dashboard.report_buttons import report_buttons
from engine.architectures import PRESETS
from engine.crossval import CrossValidation, FoldResult, cross_validate, fold_configs, fold_tasks
from engine.errors import DigitLabError
from engine.jobs import JobRequest
from engine.limits import train_limits
from engine.reports import set_subject
from engine.runs import run_id_for

KEPT = "_crossval_folds"  # widget state is dropped on other pages; this copy brings k back

st.title("Cross-validation")
st.caption(
    "Stratified k-fold on the training set: each fold trains the sidebar's model on k−1 parts and validates on "
    "the part left out. Every fold is a cached run, and each fold's model is also scored on the untouched test set."
)
components.link_problems()

ss = st.session_state
if state.FOLDS_KEY not in ss:
    ss[state.FOLDS_KEY] = ss.get(KEPT, 5)
k = int(
    st.columns([1, 3])[0].number_input(
        "Folds (k)",
        min_value=2,
        max_value=train_limits().max_cv_folds,
        step=1,
        key=state.FOLDS_KEY,
        help="Seed 002 used 5. More folds: more training data per fold, more runs to train.",
    )
)
ss[KEPT] = k
state.set_page_param("folds", k)

selection = state.selection()
if not selection.ready:
    st.error(
        components.plain(selection.error or "Choose a dataset and a model in the sidebar."), icon=":material/warning:"
    )
    st.button("Run k-fold", disabled=True, key="cv_run")
    st.stop()

store = services.store()
try:
    fold_ids = [run_id_for(selection.dataset, selection.spec, config) for config in fold_configs(selection.config, k)]
    stored = [store.get(run_id) for run_id in fold_ids]
except DigitLabError as error:
    components.show_error(error)
    st.stop()
cached = sum(run is not None for run in stored)
model_name = selection.label


def cache_line(done: int) -> str:
    return (
        f"**{done} of {k} folds cached** · {components.plain(model_name)} on "
        f"{components.plain(selection.dataset_name)} · {selection.config.epochs} epochs per fold"
    )


header = st.empty()  # rewritten once a run finishes, so it never says "0 of k" beside k finished folds
header.markdown(cache_line(cached))

# A Ray k-fold runs in a job driver of its own (never in this server); its progress is followed here, and a
# reload or the link (?job=) finds it again.
job_request, job = job_panel.current("cv", fold_ids)
if cached < k and job is not None and job.state != "done":
    job_panel.follow(job_request, job)
    st.stop()

if cached == k:
    cv = CrossValidation(tuple(FoldResult(fold, run, True) for fold, run in enumerate(stored, 1)))
else:
    controls = st.empty()  # the picker and the button go once every fold is done
    with controls.container():
        executor = components.executor_choice("cv_executor")
        on_ray = executor == "ray"
        clicked = st.button(
            f"Run {k}-fold on Ray" if on_ray else f"Run {k}-fold",
            type="primary",
            key="cv_run",
            help=(
                f"Starts a driver process that sends the {k - cached} missing fold(s) to Ray; this page follows it."
                if on_ray
                else f"Trains the {k - cached} missing fold(s); cached folds are read from the store."
            ),
        )
    if not clicked:
        st.info(
            f"Click **Run {k}-fold** to train the missing folds. With the sidebar's settings each fold trains for "
            f"{selection.config.epochs} epochs; lower the epochs or set a training subset there for a quick look."
        )
        preset = PRESETS.get(ss.get(state.PRESET_KEY, ""))
        if preset is not None and "cv_mean_accuracy" in preset.reported:
            st.caption(
                f"{preset.name}'s report: mean {preset.config.epochs}-epoch 5-fold CV accuracy "
                f"{preset.reported['cv_mean_accuracy']:.4f} on `{preset.dataset}`."
            )
        st.stop()
    if on_ray:
        tasks = fold_tasks(selection.dataset, selection.spec, selection.config, k, selection.preset)
        title = f"{k}-fold cross-validation of {model_name} on {selection.dataset_name}"
        if job_panel.start(JobRequest("cv", "fold", title, "ray", tuple(task.portable() for task in tasks))):
            st.rerun()
        st.stop()
    with components.batch_progress(f"Running {k}-fold cross-validation…", "fold", k) as panel:
        try:
            cv = cross_validate(
                selection.dataset,
                selection.spec,
                selection.config,
                k,
                progress=panel,
                store=store,
                preset=selection.preset,
                executor=executor,
            )
        except DigitLabError as error:
            panel.stopped("Cross-validation stopped", error)
        panel.finished(f"{k}-fold cross-validation finished in {panel.elapsed:.1f} s")
    controls.empty()
    header.markdown(cache_line(k))

summary = cv.summary()
st.subheader("Results")
line = (
    f"mean CV accuracy {summary['mean_val_accuracy']:.4f} ± {summary['std_val_accuracy']:.4f} ({k} folds) · "
    f"mean test accuracy {summary['mean_test_accuracy']:.4f} ± {summary['std_test_accuracy']:.4f}"
)
st.markdown(f"**{line}**")
report_buttons(
    lambda: set_subject(
        f"{k}-fold cross-validation of {selection.preset or 'a custom model'} on {selection.dataset_name}",
        "crossval",
        [fold.run for fold in cv.folds],
    ),
    f"digit-lab-{k}-fold-{cv.folds[0].run.run_id}",
    "cv_report",
    selection.dataset_name,
)
chosen = ss.get(state.PRESET_KEY, "")
reported = PRESETS[chosen].reported.get("cv_mean_accuracy") if chosen in PRESETS else None
if reported is not None:
    left, right = st.columns(2)
    left.metric(
        "Our mean CV accuracy",
        f"{summary['mean_val_accuracy']:.4f}",
        delta=f"{summary['mean_val_accuracy'] - reported:+.4f} vs the report",
        delta_color="off",
    )
    right.metric(f"Reported by {PRESETS[chosen].source.split('_')[0]} ({chosen})", f"{reported:.4f}")
    if selection.preset != chosen or selection.overrides or selection.dataset_name != PRESETS[chosen].dataset:
        st.caption(
            f"The report trained {PRESETS[chosen].config.epochs} epochs on `{PRESETS[chosen].dataset}`; "
            "these settings or this dataset differ, so expect a gap."
        )

st.plotly_chart(fold_scores(summary), key="cv_scores")

table = pd.DataFrame(
    [
        {
            "fold": f["fold"],
            "val loss": f["val_loss"],
            "val acc": f["val_accuracy"],
            "test acc": f["test_accuracy"],
            "train acc": f["train_accuracy"],  # see "CV beside test" for which kind
            "train s": f["train_seconds"],
            "run id": f["run_id"],
        }
        for f in summary["folds"]
    ]
)
accuracy = st.column_config.NumberColumn(format="%.4f")
st.dataframe(
    table,
    hide_index=True,
    key="cv_table",
    column_config={
        "val loss": st.column_config.NumberColumn(format="%.4f"),
        "val acc": accuracy,
        "test acc": accuracy,
        "train acc": accuracy,
        "train s": st.column_config.NumberColumn(format="%.1f"),
    },
)

st.markdown("**Open a fold's run in Evaluate**")
for column, fold in zip(st.columns(k), cv.folds, strict=True):
    if column.button(f"Fold {fold.fold}", key=f"cv_open_{fold.fold}", help=f"Run {fold.run.run_id}"):
        state.open_run(fold.run.run_id)
        st.switch_page("views/evaluate.py")

histories = {}
for fold in cv.folds:
    try:
        histories[fold.fold] = services.history(fold.run.run_id)
    except DigitLabError as error:  # that fold's curves are left out, and why; the other folds are drawn
        st.warning(f"No curves for fold {fold.fold}: {components.plain(error)}", icon=":material/show_chart:")
st.plotly_chart(fold_curves({fold: h for fold, h in histories.items() if h}), key="cv_curves")

st.subheader("CV beside test")
if summary["train_accuracy_kind"] == "inference":
    st.caption(
        "Train: each fold's model scored on its own training images after training, like validation and test "
        "(dropout off). CV: the fold's validation accuracy; test: the untouched test set. Train well above CV means "
        "overfitting; a CV score well above test suggests the folds leak or the test set differs."
    )
else:
    st.caption(
        'These folds were stored before Digit Lab scored the training set after training, so "train" is Keras\' '
        "running average over the last epoch's batches with dropout active. It reads lower than CV and test, "
        "whose models run without dropout: it is not a sign of underfitting. Folds trained from now on store the "
        "training set scored the same way as CV and test."
    )
st.plotly_chart(cv_beside_test(summary), key="cv_vs_test")
spread = pd.DataFrame(
    [
        {
            "split": label,
            **{f"fold {f['fold']}": f[key] for f in summary["folds"]},
            "mean": summary[f"mean_{key}"],
            "std": summary[f"std_{key}"],
        }
        for label, key in (
            (train_label(summary), "train_accuracy"),
            ("CV (validation)", "val_accuracy"),
            ("test", "test_accuracy"),
        )
    ]
)
st.dataframe(
    spread,
    hide_index=True,
    key="cv_spread",
    column_config={c: st.column_config.NumberColumn(format="%.4f") for c in spread.columns if c != "split"},
)

"""Train: the sidebar's model as a layer table and Keras code, one-click training with live curves, and results.

A run already in the store is answered at once. Clicking Cancel (or any widget) while training stops this
script; the engine then discards the half-trained run, and the next rerun says so.
"""

import pandas as pd
import streamlit as st

from charts.training import training_curves
from dashboard import components, job_panel, services, state
from engine.architectures import PRESETS, layer_table
from engine.architectures.flops import describe_flops, run_training_flops
from engine.errors import DigitLabError
from engine.executors import RunTask
from engine.jobs.single import train_request
from engine.reports.recipe import to_keras_code
from engine.runs import dynamics_by_default, has_dynamics, spec_summary
from engine.training.augmentation import flip_notice, mirror_views_notice

TRAINING_FLAG = "_train_running"  # set just before training, cleared after; still set on the next run = stopped

selection = components.open_page("Train")

if st.session_state.pop(TRAINING_FLAG, False):
    st.warning("Training was cancelled; nothing was stored.", icon=":material/cancel:")

# --- the model -------------------------------------------------------------------------------------------
st.subheader("Model")
preset = PRESETS.get(selection.preset)
if preset is not None:
    source = (
        f"Digit Lab's own preset, made for **{preset.dataset}**"
        if preset.source == "digit-lab"
        else f"From the source report `{preset.source}`, which trained on **{preset.dataset}**"
    )
    st.markdown(f"**{preset.title}** — {preset.description}  \n{source}.")
    if selection.overrides:
        changed = ", ".join(override.describe() for override in selection.overrides)
        st.markdown(
            f"**{components.plain(selection.label)}**: the preset's architecture with these training settings "
            f"changed from its recipe: {components.plain(changed)}."
        )
elif (started := PRESETS.get(st.session_state.get(state.PRESET_KEY))) is not None:
    st.caption(
        f"Custom model: started from preset {started.name} (source `{started.source}`), then changed in the "
        "sidebar or resized for this dataset."
    )
elif selection.spec is not None:
    st.caption("Custom model.")

rows = []
if selection.spec is not None:
    try:
        rows = layer_table(selection.spec)
    except DigitLabError:
        rows = []  # the sidebar's error below says why
if selection.error:
    st.error(components.plain(selection.error), icon=":material/warning:")
if rows:
    table = pd.DataFrame(
        [
            {
                "layer": r.name,
                "type": r.kind,
                "output shape": str(r.output_shape),
                "trainable": r.trainable,
                "non-trainable": r.non_trainable,
            }
            for r in rows
        ]
    )
    trainable, frozen = int(table["trainable"].sum()), int(table["non-trainable"].sum())
    totals = pd.DataFrame(
        [{"layer": "total", "type": "", "output shape": "", "trainable": trainable, "non-trainable": frozen}]
    )
    st.dataframe(
        pd.concat([table, totals], ignore_index=True),
        hide_index=True,
        height="content",  # every layer and the total row: the default ten-row height cut the total off
        key="train_layers",
        column_config={
            "trainable": st.column_config.NumberColumn(format="localized"),
            "non-trainable": st.column_config.NumberColumn(format="localized"),
        },
    )
    st.markdown(
        f"**{trainable + frozen:,} parameters** ({trainable:,} trainable, {frozen:,} non-trainable) · "
        f"`{spec_summary(selection.spec.to_dict())}`"
    )
    # Drawn only while open: the highlighted script (about 150 lines) cost every visit to Train time in the
    # browser even with the expander closed.
    recipe_expander = st.expander(
        "The whole recipe as Keras code: data, split, model, schedule and fit",
        key=state.TRAIN_RECIPE_OPEN_KEY,
        on_change="rerun",
    )
    if recipe_expander.open:
        with recipe_expander:
            if selection.ready:
                st.code(to_keras_code(selection.spec, selection.config, selection.dataset_name), language="python")
                st.caption(
                    "Runs on its own with keras, tensorflow, numpy and scikit-learn: the same data, split, model, "
                    "learning-rate schedule, augmentation and early stopping as this page's training."
                )
            else:
                st.code(to_keras_code(selection.spec), language="python")
                st.caption("The model alone: fix the problem above to see the whole training recipe.")

if preset is not None and preset.reported.get("parameters") and rows:
    ours = sum(r.parameters for r in rows)
    note = (
        ""
        if tuple(selection.spec.input_shape) == tuple(preset.spec.input_shape)
        else f" (ours is sized for {selection.spec.input_shape[0]}x{selection.spec.input_shape[1]} images)"
    )
    st.caption(f"Parameters — report: {preset.reported['parameters']:,} · ours: {ours:,}{note}")

# --- training --------------------------------------------------------------------------------------------
st.subheader("Training")
stored = services.find_current_run(selection)
if selection.config is not None and selection.ready:
    config = selection.config
    st.caption(
        f"{components.plain(selection.label)} on {components.plain(selection.dataset_name)} · {config.epochs} epochs · "
        f"batch {config.batch_size} · validation {config.validation_split:.0%} · seed {config.seed}"
        + (f" · classes merged: {components.plain(config.label_mapping, 60)}" if config.label_mapping else "")
        + f" · {config.lr_schedule} schedule"
        + (f" after a {config.warmup_fraction:.0%} warm-up" if config.warmup_fraction else "")
        + (f" · label smoothing {config.label_smoothing:g}" if config.label_smoothing else "")
        + (" · shifts, rotations and zoom" if config.augmentation else "")
        + (" · left-right flips" if config.augment_flip else "")
        + (" · predicts with the mirror too" if config.test_time_mirror else "")
    )
    for notice in (flip_notice(config, selection.dataset.class_names), mirror_views_notice(config)):
        if notice:
            st.warning(notice, icon=":material/warning:")
task = None
if selection.ready and stored is None:
    task = RunTask.for_request(
        selection.dataset, selection.spec, selection.config, preset=selection.preset, label="training"
    )
# With a Ray cluster configured, a training can run there, in a job driver of its own (never in this server); its
# progress is followed here, and a reload or the link (?job=) finds it again.
job_request, job = job_panel.current("train", [task.run_id] if task is not None else None)
if task is not None and job is not None and job.state != "done":
    st.markdown(f"**{components.plain(job_request.title)}**")
    job_panel.follow(job_request, job)  # live progress, or how it ended with Resume
    if not job.final:
        st.stop()
on_ray = components.single_run_executor("train_executor") == "ray" if stored is None else False
over_budget = ""
if selection.ready and stored is None and not on_ray:  # this machine's memory budget: Ray's nodes have their own
    over_budget = components.memory_note(selection)
train_col, cancel_col = st.columns([1, 6])
clicked = train_col.button(
    "Train",
    type="primary",
    key="train_button",
    disabled=not selection.ready or stored is not None or bool(over_budget),
    help="Already trained: change a setting in the sidebar to train another model."
    if stored is not None
    else "Train the sidebar's model on the sidebar's dataset.",
)
if not selection.ready:
    st.info("Fix the problem shown above to enable training.")

# Not part of what a run is (the run key leaves it out), so it sits here, beside the button, not in the sidebar.
record_dynamics = st.checkbox(
    "Record training dynamics",
    value=selection.ready and dynamics_by_default(selection.dataset, selection.config),
    key="train_record_dynamics",
    disabled=on_ray,  # a Ray job's task does not carry the choice: said below, never silently ignored
    help="After every epoch, keep each training image's probability of its own label, for Evaluate's training-"
    "dynamics map. On by default up to 10,000 training images; it costs a forward pass over the training set per "
    "epoch. A stored run is answered as it is: delete it first to record them for it.",
)
if on_ray:
    st.caption("On the Ray cluster training dynamics follow the default: recorded up to 10,000 training images.")
if stored is not None and record_dynamics and not has_dynamics(stored):
    st.caption("This stored run was trained without training dynamics; delete it and train again to record them.")

result_run, just_trained = stored, False
if clicked and task is not None and on_ray:
    title = f"Training {selection.label} on {selection.dataset_name}"
    if job_panel.start(train_request(task, "ray", title)):
        st.rerun()
    st.stop()
if clicked and stored is None and not over_budget:
    cancel_slot = cancel_col.empty()
    cancel_slot.button("Cancel", key="train_cancel", help="Stops training; nothing is stored.")
    st.session_state[TRAINING_FLAG] = True
    live = st.empty()  # the progress bar and live curves, replaced by the final results below
    with live.container():
        try:
            result = components.train_with_progress(selection, record_dynamics=record_dynamics)
        except Exception as error:  # a bug, not a cancel: Streamlit's stop/rerun signals are BaseExceptions
            components.show_error(error)
            result = None
    st.session_state.pop(TRAINING_FLAG, None)
    cancel_slot.empty()
    if result is None:
        st.stop()
    live.empty()
    result_run = result.run
    just_trained = not result.cached

if result_run is None:
    if not over_budget:  # else the refusal above says what to change
        st.info("This model has not been trained yet. Press **Train**; curves appear as each epoch finishes.")
    st.stop()

# --- results ---------------------------------------------------------------------------------------------
state.open_run(result_run.run_id)
state.set_page_param("run", result_run.run_id)
meta = result_run.meta
on_cluster = job is not None and job.state == "done" and job_request.tasks[0].run_id == result_run.run_id
if on_cluster:  # this session's Ray job trained it: said as a fresh training, not as a find in the store
    st.success(
        f"Trained run `{result_run.run_id}` on the Ray cluster in {meta['train_seconds']:.1f} s and stored it.",
        icon=":material/cloud_done:",
    )
elif just_trained:
    st.success(
        f"Trained run `{result_run.run_id}` in {meta['train_seconds']:.1f} s and stored it.",
        icon=":material/check_circle:",
    )
else:
    st.success(
        f"Already trained — answered from the store (run `{result_run.run_id}`, created {meta.get('created', '?')}).",
        icon=":material/database:",
    )

metrics = meta["metrics"]
cols = st.columns(5)
cols[0].metric("Test accuracy", f"{metrics['test_accuracy']:.2%}")
cols[1].metric("Macro F1", f"{metrics['macro_f1']:.4f}")
cols[2].metric("Test loss", f"{metrics['test_loss']:.4f}")
cols[3].metric("Epochs run", meta.get("epochs_run", "?"))
cols[4].metric("Train time", f"{meta['train_seconds']:.1f} s")
train_flops = run_training_flops(meta)
if train_flops is not None:  # what compute costs, in the units a roofline uses (bench/roofline.py)
    rate = train_flops / meta["train_seconds"] if meta.get("train_seconds") else None
    st.caption(
        f"This run did {describe_flops(train_flops)} of arithmetic to train"
        + (f" (about {describe_flops(int(rate))}/s)" if rate else "")
        + ": forward and backward passes over every training image each epoch, the optimizer's steps and the "
        "validation pass, counted from the layer shapes."
    )
if preset is not None and "test_accuracy" in preset.reported:
    st.markdown(
        f"**Test accuracy — report: {preset.reported['test_accuracy']:.2%} · ours: {metrics['test_accuracy']:.2%}**"
        + (
            ""
            if meta["dataset"]["name"] == preset.dataset
            else f"  \n_The report used {preset.dataset}; this run used "
            f"{components.plain(meta['dataset']['name'], 60)}, so the numbers "
            f"are not directly comparable._"
        )
    )
    if "cv_mean_accuracy" in preset.reported:
        st.caption(
            f"The report's 5-fold CV mean: {preset.reported['cv_mean_accuracy']:.2%} — see Cross-validation for ours."
        )

try:
    history = services.history(result_run.run_id)
except DigitLabError as error:  # the curves are left out, and why; the scores above and the download stay
    history = None
    st.warning(f"No training curves: {components.plain(error)}", icon=":material/show_chart:")
if history:
    st.plotly_chart(
        components.cached_figure(training_curves, history, title=f"Training curves · run {result_run.run_id}"),
        key="train_curves",
    )
    if history.get("stopped_early"):
        st.caption("Early stopping ended training before the last epoch.")

download_col, link_col, share_col = st.columns([2, 2, 1])
components.model_download(result_run, "train_download", download_col)
link_col.page_link("views/evaluate.py", label="Evaluate this run", icon=":material/analytics:")
with share_col:
    components.share_box()

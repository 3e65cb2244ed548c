"""The Data page's Label issues tab: k models of a preset, each predicting the images it left out, and the training
images whose given label those out-of-fold predictions doubt (`engine.diagnostics.label_issues`), optionally after
planting known flips to score the search."""

import pandas as pd
import streamlit as st

from charts.data import image_mosaic
from dashboard import components, links, services
from dashboard.views.data_view import ISSUE_PRESETS, VIEW, most_issue_folds
from engine.datasets.noise import MAX_NOISE_FRACTION, NoiseSpec
from engine.diagnostics.label_issues import LabelIssuePlan, label_issues, prepare
from engine.errors import DigitLabError
from engine.limits import train_limits

PRESET_KEY, FOLDS_KEY = "data_issues_preset", "data_issues_folds"
NOISE_KEY, SEED_KEY = "data_issues_noise", "data_issues_seed"
GALLERY = 40  # images in the gallery, most doubtful first; the table below lists every issue
FOUND, MISSED_PLANT = "#2ca02c", "#ff7f0e"  # caption colours: a planted flip found, an image flagged without a flip


def _plan(ds) -> LabelIssuePlan | None:
    """The widgets' plan for `ds`; None (after saying why) when the engine refuses it. Defaults come from the view
    (a link leaves them out); a kept or linked value over this server's fold cap is brought under it."""
    ss = st.session_state
    most = most_issue_folds()
    for key in (PRESET_KEY, FOLDS_KEY, NOISE_KEY, SEED_KEY):
        links.seeded(VIEW, key)
    ss[FOLDS_KEY] = min(max(int(ss[FOLDS_KEY]), 2), most)
    cols = st.columns([2, 1, 1.5, 1], vertical_alignment="bottom")
    preset = cols[0].selectbox(
        "Model (preset)", ISSUE_PRESETS, key=PRESET_KEY, help="Every fold trains this preset's recipe."
    )
    folds = cols[1].number_input(
        "Folds (k)", 2, most, step=1, key=FOLDS_KEY, help="Each image is predicted by the fold model that left it out."
    )
    noise = cols[2].slider(
        "Plant label noise",
        0.0,
        MAX_NOISE_FRACTION,
        step=0.01,
        key=NOISE_KEY,
        help="Flip this share of the training labels to another class first, then score how many flips are found. "
        "0 looks for the issues the data already has.",
    )
    seed = cols[3].number_input(
        "Noise seed", 0, train_limits().max_seed, step=1, key=SEED_KEY, disabled=not noise, help="Which labels flip."
    )
    try:
        return LabelIssuePlan(
            ds.name, preset, int(folds), NoiseSpec(float(noise), int(seed)) if noise else None, epochs=None
        )
    except DigitLabError as error:
        components.show_error(error)
        return None


def show_label_issues(ds, chart_names: list[str]) -> None:
    st.subheader("Label issues")
    st.caption(
        "Trains k models of a preset (a stratified k-fold, each fold a cached run), so every training image is "
        "predicted by a model that never saw it; confident learning then flags the images whose given label those "
        "predictions doubt. Score: the out-of-fold probability of the given label (self-confidence), lowest first."
    )
    plan = _plan(ds)
    if plan is None:
        return
    try:
        prepared = prepare(plan, ds)
        fold_ids = prepared.fold_ids()
    except DigitLabError as error:
        components.show_error(error)
        return
    store = services.store()
    cached = sum(store.get(run_id) is not None for run_id in fold_ids)
    epochs = prepared.config.epochs
    st.markdown(
        f"**{cached} of {plan.folds} folds cached** · {components.plain(plan.preset)} · {epochs} epochs per fold"
    )
    if cached < plan.folds:
        clicked = st.button(
            f"Find label issues ({plan.folds - cached} fold(s) to train)",
            type="primary",
            key="data_issues_run",
            help="Trains the missing folds here; cached folds are read from the store.",
        )
        if not clicked:
            return
    with components.batch_progress("Looking for label issues…", "fold", plan.folds) as panel:
        try:
            result = label_issues(plan, progress=panel, store=store, prepared=prepared)
        except DigitLabError as error:
            panel.status.update(label="The label-issue search stopped", state="error", expanded=True)
            components.show_error(error)
            return
        panel.finished(f"{len(result.issues)} label issue(s) among {result.n_train:,} images")
    _show_result(ds, prepared, result, chart_names)


def _show_result(ds, prepared, result, chart_names: list[str]) -> None:
    cols = st.columns(4)
    cols[0].metric("Flagged", f"{len(result.issues):,}", help="Images whose given label the folds doubt.")
    cols[1].metric("Out-of-fold accuracy", f"{result.oof_accuracy:.2%}")
    if result.noise_planted:
        cols[2].metric("Precision / recall", f"{result.precision:.2f} / {result.recall:.2f}")
        cols[3].metric(
            "Baseline precision / recall",
            f"{result.baseline_precision:.2f} / {result.baseline_recall:.2f}",
            help="The same number of images with the lowest self-confidence, flagged without confident learning.",
        )
        st.caption(f"{result.n_flipped:,} labels were flipped before the search; green captions mark found flips.")
    else:
        cols[2].metric("Planted flips", "none")
    if not result.issues:
        st.info("No training label looks wrong to these folds.")
        return
    shown = result.issues[:GALLERY]
    planted = set(result.flipped)
    images = prepared.data.x_train
    st.plotly_chart(
        image_mosaic(
            [images[issue.index][..., 0] for issue in shown],
            10,
            f"{len(shown)} most doubtful label(s) of {len(result.issues):,}",
            captions=[f"{chart_names[i.given]}→{chart_names[i.suggested]} {i.score:.2f}" for i in shown],
            hover=[
                f"train #{i.index} · given {chart_names[i.given]} · suggested {chart_names[i.suggested]} · "
                f"confidence in the given label {i.score:.3f}"
                for i in shown
            ],
            zmax=ds.value_max,
            caption_colours=[FOUND if i.index in planted else MISSED_PLANT for i in shown] if planted else None,
        ),
        key="data_issues_gallery",
    )
    names = list(prepared.data.class_names)  # dataframe cells are plain text already: the raw names go in
    table = pd.DataFrame(
        {
            "index": [i.index for i in result.issues],
            "given": [names[i.given] for i in result.issues],
            "suggested": [names[i.suggested] for i in result.issues],
            "confidence": [i.score for i in result.issues],
            **({"planted": [i.index in planted for i in result.issues]} if result.noise_planted else {}),
        }
    )
    st.dataframe(
        table,
        hide_index=True,
        key="data_issues_table",
        column_config={"confidence": st.column_config.NumberColumn(format="%.3f")},
    )

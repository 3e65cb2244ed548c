"""Evaluate's tabs about what the run got wrong: the confusion matrix with a cell's images, the mistakes gallery
(with heatmaps over each mistake) and random sample predictions."""

import streamlit as st

from charts import evaluation as charts
from dashboard import components, explain_methods, services
from dashboard.views.evaluate_run import EvaluatedRun
from dashboard.views.evaluate_view import GALLERY_OVERLAYS, GALLERY_TARGETS
from engine.datasets import normalised as normalised_images
from engine.errors import DigitLabError
from engine.evaluation.predictions import sample_predictions
from engine.probes.explain import explain_images

MAX_CELL_IMAGES = 30


@st.cache_data(show_spinner="Explaining the mistakes shown…", max_entries=32)
def gallery_heatmaps(
    run_id: str, copy: str, indices: tuple[int, ...], method: str, explained: str, _images01, _targets
):
    """Heatmaps of the shown mistakes in one batched engine call, cached by run id (and stored copy), indices,
    method and the class explained: those fix the images (the run's test images at `indices`) and the classes, so
    they are not hashed."""
    settings = explain_methods.settings_for(method)
    return explain_images(services.model(run_id), _images01, settings, targets=_targets).heatmaps


def _epoch_view(ev: EvaluatedRun):
    """The epoch slider and the chosen epoch's matrix; None while the stored model's own matrix is shown (its
    epoch chosen, or a run without per-epoch predictions, which a caption then explains)."""
    epochs = len(ev.history["epochs"]) if ev.history else 0
    if epochs < 2:
        return None
    epoch = st.slider(
        "After epoch",
        1,
        epochs,
        key="eval_epoch",
        help="The test set's confusion matrix as it stood after each epoch of training.",
    )
    try:
        chosen = services.epoch_confusion(ev.run.run_id, int(epoch))
    except DigitLabError as error:
        st.caption(f"No matrices over time: {components.plain(error)}")
        return None
    if chosen is None:
        return None
    if chosen.note:
        st.caption(components.plain(chosen.note))
    return None if chosen.is_final else chosen


def show_confusion(ev: EvaluatedRun, pairs) -> None:
    evaluation, names, chart_names, k, run = ev.evaluation, ev.names, ev.chart_names, ev.k, ev.run
    plain = components.plain
    normalised = st.toggle("Show shares of each true class (normalised rows)", key="eval_normalised")
    at_epoch = _epoch_view(ev)
    matrix = evaluation.confusion if at_epoch is None else at_epoch.matrix
    title = f"Confusion matrix · {evaluation.num_samples:,} test images" + (" · row shares" if normalised else "")
    if at_epoch is not None:
        title += f" · after epoch {at_epoch.epoch} of {at_epoch.epochs} ({at_epoch.accuracy:.1%} right)"
    chart_event = st.plotly_chart(
        components.cached_figure(charts.confusion_heatmap, matrix, chart_names, normalised, title=title),
        key=f"eval_confusion_{run.run_id}",
        on_select="rerun",
        selection_mode="points",
    )
    st.caption(
        "Rows are the true class, columns the prediction; the diagonal is correct. Click a cell to see its images."
    )

    st.subheader("Most confused pairs" + (" · the stored model's" if at_epoch is not None else ""))
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
    cell = evaluation.cell_indices(truth, guess) if at_epoch is None else at_epoch.cell_indices(truth, guess)
    st.markdown(
        f"**{len(cell):,}** test images of class **{plain(names[truth], 40)}** predicted as "
        f"**{plain(names[guess], 40)}**"
        + (f" after epoch {at_epoch.epoch}" if at_epoch is not None else "")
        + (f" (showing the first {MAX_CELL_IMAGES})" if len(cell) > MAX_CELL_IMAGES else "")
    )
    ev.show_images(
        cell[:MAX_CELL_IMAGES],
        f"True {chart_names[truth]} · predicted {chart_names[guess]}"
        + (f" after epoch {at_epoch.epoch} · each title is the stored model's answer" if at_epoch is not None else ""),
        key="eval_cell_images",
    )


def show_mistakes(ev: EvaluatedRun, wrong) -> None:
    evaluation, names, chart_names, run = ev.evaluation, ev.names, ev.chart_names, ev.run
    st.subheader(f"Misclassified test images ({len(wrong):,})")
    if wrong.empty:
        st.success("No test image was misclassified.")
    else:
        limit = (
            1
            if len(wrong) == 1
            else st.slider("How many (most confident mistakes first)", 1, min(100, len(wrong)), key="eval_gallery_n")
        )
        shown = wrong["index"].to_numpy()[:limit]
        overlay_col, target_col = st.columns([1, 2], vertical_alignment="bottom")
        overlay = overlay_col.selectbox(
            "Heatmap over each mistake",
            GALLERY_OVERLAYS,
            format_func=lambda name: "none" if name == "off" else name,
            key="eval_overlay",
            disabled=ev.images is None,
            help="Why the model answered as it did, drawn over each image (the Explain page has every method and "
            "its options). Computed for the mistakes shown, in one batch, and kept; integrated gradients is the "
            "slowest (32 gradient passes per image: about 10 s for 100 Fashion-MNIST mistakes on 2 cores).",
        )
        explained = target_col.radio(
            "Explaining",
            GALLERY_TARGETS,
            format_func=lambda which: f"the {which} class",
            horizontal=True,
            key="eval_overlay_class",
            disabled=overlay == "off" or ev.images is None,
            help="Predicted: what made the model say the wrong class. True: where it saw (or missed) the evidence "
            "for the right one.",
        )
        heatmaps = None
        if overlay != "off" and ev.images is not None:
            try:
                heatmaps = gallery_heatmaps(
                    run.run_id,
                    services.stored_copy(run),
                    tuple(int(i) for i in shown),
                    overlay,
                    explained,
                    normalised_images(ev.images[shown], ev.value_max),
                    [int(evaluation.y_true[i]) for i in shown] if explained == "true" else None,
                )
            except DigitLabError as error:
                components.show_error(error)
        title = "Most confident mistakes (title: predicted class and confidence)"
        if heatmaps is not None:
            title += f" · {overlay} evidence for the {explained} class"
        ev.show_images(shown, title, key="eval_mistake_images", heatmaps=heatmaps)
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
            format_func=lambda i: f"#{i}: true {names[evaluation.y_true[i]]}, predicted {names[evaluation.y_pred[i]]}",
        )
        if inspect is not None:
            image_col, bars_col = st.columns([1, 3])
            with image_col:
                ev.show_images([inspect], f"Test image #{inspect}", key="eval_inspect_image", columns=1, panel_px=200)
            bars_col.plotly_chart(
                charts.probability_bars(
                    evaluation.probabilities[inspect],
                    chart_names,
                    int(evaluation.y_true[inspect]),
                    title=f"Probabilities for test image #{inspect}",
                ),
                key="eval_inspect_bars",
            )


def show_samples(ev: EvaluatedRun) -> None:
    evaluation, names = ev.evaluation, ev.names
    st.subheader("Random sample predictions")

    def reshuffle() -> None:
        st.session_state["eval_sample_seed"] = int(st.session_state.get("eval_sample_seed", 0)) + 1

    seed_col, button_col = st.columns([1, 4], vertical_alignment="bottom")
    seed = seed_col.number_input("Seed", 0, 2**31 - 1, key="eval_sample_seed")
    button_col.button("Reshuffle", key="eval_reshuffle", on_click=reshuffle)
    table = sample_predictions(evaluation.y_true, evaluation.probabilities, names, seed=int(seed))
    if ev.images is None:
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
                ev.images[table["index"].to_numpy()],
                titles,
                ev.value_max,
                columns=5,
                panel_px=160,
                title=f"10 random test images (seed {seed})",
                title_colours=colours,
            ),
            key="eval_sample_images",
        )
        st.caption(f"{int((table['true'] == table['predicted']).sum())} of {len(table)} right; wrong ones in red.")

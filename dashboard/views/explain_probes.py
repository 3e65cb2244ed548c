"""Explain's other tabs: the accuracy curve as the test set is damaged, calibration before and after temperature
scaling, and the embedding map (the learned features of the test set in 2-D beside its raw pixels)."""

import streamlit as st

from charts.embedding_map import embedding_map_chart
from charts.explain import reliability_diagram, robustness_curves
from charts.inspect import input_image, probability_bars
from charts.thumbnails import hover_thumbnails, picked_indices, thumbnail_map_spec
from dashboard import components, hosting, services, state
from dashboard.views.explain_prediction import INDEX_KEY
from dashboard.views.explain_run import ExplainedRun
from engine import inspection
from engine.compare import comparable_runs
from engine.datasets import normalised
from engine.errors import DigitLabError
from engine.exploration import EMBEDDINGS
from engine.limits import display_limits
from engine.probes.calibration import Calibration, run_calibration
from engine.probes.embedding_map import EmbeddingMap, embedding_map
from engine.probes.robustness import PERTURBATIONS, RobustnessCurve, perturb, robustness_curve
from engine.runs import labels_of


@st.cache_data(show_spinner="Scoring the damaged test set…", max_entries=64)
def _curve(run_id: str, copy: str, perturbation: str) -> RobustnessCurve:
    # The server's shared model and dataset; the engine keeps the curve with the run for other sessions.
    found = services.run(run_id)
    dataset_used = services.dataset(found.meta["dataset"]["name"])
    return robustness_curve(found, perturbation, model=services.model(run_id), dataset=dataset_used)


@st.cache_data(show_spinner="Fitting the temperature on the validation split…", max_entries=32)
def _calibration(run_id: str, copy: str, n_bins: int) -> Calibration:
    found = services.run(run_id)
    dataset_used = services.dataset(found.meta["dataset"]["name"])
    return run_calibration(found, n_bins, model=services.model(run_id), dataset=dataset_used)


@st.cache_data(show_spinner="Projecting the test set…", max_entries=32)
def _embedding_map(run_id: str, copy: str, method: str, space: str) -> EmbeddingMap:
    # The server's shared model and dataset; the engine keeps the result with the run for other sessions.
    found = services.run(run_id)
    loaded = services.model(run_id) if space == "features" else None
    dataset_used = services.dataset(found.meta["dataset"]["name"])
    return embedding_map(found, method, space=space, model=loaded, dataset=dataset_used)


PICTURES_KEY = "embedding_map_pictures"


@st.cache_data(show_spinner="Drawing the hover pictures…", max_entries=16)
def _pictures(run_id: str, copy: str, method: str, space: str, most: int) -> list[str | None]:
    """One PNG data URI per point of the map (None past the cap), made once per map."""
    found = services.run(run_id)
    dataset_used = services.dataset(found.meta["dataset"]["name"])
    result = _embedding_map(run_id, copy, method, space)
    return hover_thumbnails(dataset_used.x_test[result.indices], dataset_used.value_max, most)


def _remember_picked(chart_key: str) -> None:
    picked = picked_indices(st.session_state[chart_key].selection)
    if picked:
        st.session_state["embedding_map_point"] = picked[-1]


def _remember_point(chart_key: str) -> None:
    points = st.session_state[chart_key].selection.points
    custom = points[0].get("customdata") if points else None
    if custom:
        st.session_state["embedding_map_point"] = int(custom[0])


ROBUST_RUNS_KEY = "robust_runs"
ROBUST_CHOICE_KEY = "_robust_runs_chosen"  # (run id, chosen run ids)


def _runs_on_the_chart(run) -> list:
    """The runs whose curves the chart draws, chosen in a "Runs on the chart" picker: this run by default, and
    only runs scored on the same test images and classes (runs kept on Compare first); the stored runs that cannot
    join are listed with why. Each curve costs a pass over the damaged test set per level, so none is added unasked.
    """
    ss = st.session_state
    kept = list(dict.fromkeys(ss.get(state.COMPARE_KEPT_KEY, ss.get(state.COMPARE_KEY, []))))
    visible = hosting.visible_runs(services.store().list())  # hosted: not the runs on another visitor's upload
    stored = sorted(visible, key=lambda other: other.run_id not in kept)  # stable: newest first
    fits, refused = comparable_runs(run, stored)
    options = {other.run_id: other for other in [run, *fits]}
    names = labels_of(list(options.values()))
    # The choice outlives the widget (dropped while its tab is closed) in a key of its own, for this run only:
    # another run opened starts again from that run alone.
    remembered = ss.get(ROBUST_CHOICE_KEY)
    if not remembered or remembered[0] != run.run_id:
        ss[ROBUST_RUNS_KEY] = [run.run_id]
    elif ROBUST_RUNS_KEY not in ss:
        ss[ROBUST_RUNS_KEY] = list(remembered[1])
    ss[ROBUST_RUNS_KEY] = [run_id for run_id in ss[ROBUST_RUNS_KEY] if run_id in options]  # a run deleted since
    chosen = st.multiselect(
        "Runs on the chart",
        list(options),
        key=ROBUST_RUNS_KEY,
        format_func=lambda run_id: names[run_id],
        help="Stored runs on the same dataset, with the same image size and classes (runs kept on Compare first). "
        "Each new run's curve is computed once, then kept with the run.",
    )
    if refused:
        on_compare = sum(other.run_id in kept for other, _ in refused)
        title = f"{len(refused)} stored run(s) cannot share this chart" + (
            f", {on_compare} of them selected on Compare" if on_compare else ""
        )
        with st.expander(title):
            refused_names = labels_of([other for other, _ in refused])
            for other, reason in refused:  # plain text: labels and reasons quote stored meta
                st.text(f"{refused_names[other.run_id]} ({other.run_id[:10]}): {reason}")
    ss[ROBUST_CHOICE_KEY] = (run.run_id, list(chosen))
    if not chosen:
        st.info("Choose at least one run above to draw its curve.")
    return [options[run_id] for run_id in chosen], names


def show_robustness(ex: ExplainedRun) -> None:
    run, dataset, labels, model, value_max, chart_names = (
        ex.run,
        ex.dataset,
        ex.labels,
        ex.model,
        ex.value_max,
        ex.chart_names,
    )
    names = list(PERTURBATIONS)
    perturbation = st.selectbox("Perturbation", names, key="robust_perturbation")
    kind = PERTURBATIONS[perturbation]
    curve_runs, labels_shown = _runs_on_the_chart(run)
    curves = []
    for curve_run in curve_runs:
        try:
            # Cached per (run, perturbation) here and with the run in the store: adding a run computes only its curve.
            curve = _curve(curve_run.run_id, services.stored_copy(curve_run), perturbation)
        except DigitLabError as error:
            st.warning(f"Run `{curve_run.run_id}` left out of the curve: {components.plain(error, 200)}")
            continue
        label = components.plain(labels_shown[curve_run.run_id], 60, chart=True)
        curves.append((label, curve.levels, curve.accuracy))
    if curves:
        st.plotly_chart(robustness_curves(curves, perturbation, kind.unit), key="robust_curve")

    components.link_view_check(
        "level",
        ("robust_level",),
        st.session_state.get("robust_level", kind.default_levels[0]) in kind.default_levels,
        f"{perturbation} is shown at the levels {', '.join(f'{v:g}' for v in kind.default_levels)}",
    )
    if "robust_level" in st.session_state:  # a link's 45.0 is the option 45: select_slider matches by identity
        wanted_level = st.session_state["robust_level"]
        st.session_state["robust_level"] = next(v for v in kind.default_levels if v == wanted_level)
    level = st.select_slider(
        f"Level ({kind.unit})", options=list(kind.default_levels), value=kind.default_levels[0], key="robust_level"
    )
    index = int(st.session_state.get(INDEX_KEY, 0))
    damaged = perturb(dataset.x_test[index : index + 1], perturbation, float(level), value_max)[0]
    probabilities = inspection.predict(model, normalised(damaged, value_max))
    left, right = st.columns([1, 1.2])
    left.plotly_chart(
        input_image(damaged, value_max, f"Test image #{index}, {perturbation} {level:g}"),
        key="robust_image",
        config={"displayModeBar": False},
    )
    right.plotly_chart(probability_bars(probabilities, chart_names, int(labels[index])), key="robust_probabilities")
    st.caption(f"Test image #{index}, the one chosen on the first tab (an uploaded array is not perturbed here).")


def show_calibration(ex: ExplainedRun) -> None:
    run = ex.run
    n_bins = st.slider("Confidence bins", 5, 30, 10, key="calib_bins")
    try:
        calibration = _calibration(run.run_id, services.stored_copy(run), n_bins)
    except DigitLabError as error:
        components.show_error(error)
        calibration = None  # not st.stop(): the view below must still be published to the link
    if calibration is not None:
        cols = st.columns(3)
        cols[0].metric("ECE as trained", f"{calibration.ece:.4f}")
        if calibration.temperature is None:
            cols[1].metric("ECE after temperature scaling", "—")
            cols[2].metric("Fitted temperature", "—")
            st.info(f"No temperature fitted: {components.plain(calibration.note, 300)}", icon=":material/info:")
        else:
            cols[1].metric(
                "ECE after temperature scaling",
                f"{calibration.ece_after:.4f}",
                delta=f"{calibration.ece_after - calibration.ece:+.4f}",
                delta_color="inverse",
            )
            cols[2].metric(
                "Fitted temperature",
                f"{calibration.temperature:.3f}",
                help="Fitted on the validation split by minimising its negative log-likelihood: above 1 softens "
                "overconfident probabilities, below 1 sharpens underconfident ones. Predictions do not change.",
            )
            st.caption(
                f"Validation NLL {calibration.validation_nll_before:.4f} → {calibration.validation_nll_after:.4f}. "
                "ECE (expected calibration error) is the image-weighted mean gap between confidence and accuracy."
            )
        st.plotly_chart(
            reliability_diagram(calibration.bins, calibration.bins_after, calibration.ece, calibration.ece_after),
            key="calib_diagram",
        )


def show_embedding_map(ex: ExplainedRun) -> None:
    run, dataset, labels, value_max, chart_names, n_test = (
        ex.run,
        ex.dataset,
        ex.labels,
        ex.value_max,
        ex.chart_names,
        ex.n_test,
    )
    map_method = st.radio(
        "Projection",
        EMBEDDINGS,
        horizontal=True,
        key="embedding_map_method",
        format_func={"pca": "PCA", "tsne": "t-SNE"}.get,
        help="PCA is instant and linear; t-SNE keeps neighbours together (a stratified subset, cached per run).",
    )
    st.toggle(
        "Pictures on hover",
        key=PICTURES_KEY,
        help="Draw the maps so that pointing at a point shows its test image (click one to select it as before).",
    )
    try:
        learned = _embedding_map(run.run_id, services.stored_copy(run), map_method, "features")
        pixels = _embedding_map(run.run_id, services.stored_copy(run), map_method, "pixels")
    except DigitLabError as error:  # e.g. a model that does not end in a Dense layer; the view is still published
        components.show_error(error)
        learned = pixels = None
    if learned is not None and pixels is not None:
        st.caption(
            f"{components.plain(learned.note)} {int(learned.mistakes.sum()):,} of {len(learned.indices):,} are "
            "mistakes (x). Beside it, the same images' raw pixels mapped the same way, as on the Data page."
        )
        name = "t-SNE" if map_method == "tsne" else "PCA"
        pictures_on = bool(st.session_state.get(PICTURES_KEY))
        left, right = st.columns(2)
        for column, result, key, what in (
            (left, learned, "embedding_map_learned", "Learned features"),
            (right, pixels, "embedding_map_pixels", "Raw pixels"),
        ):
            if pictures_on:
                most = display_limits().max_hover_thumbnails
                column.vega_lite_chart(
                    spec=_pictures_spec(ex, result, f"{what}, {name}", map_method, most),
                    key=f"{key}_pictures",
                    on_select=lambda key=key: _remember_picked(f"{key}_pictures"),
                    width="stretch",
                )
                continue
            column.plotly_chart(
                embedding_map_chart(
                    result.coords,
                    result.indices,
                    result.true_labels,
                    result.predicted_labels,
                    chart_names,
                    map_method,
                    result.explained_variance,
                    f"{what}, {name}",  # short: the chart's toolbar sits over a long title
                ),
                key=key,
                on_select=lambda key=key: _remember_point(key),
                selection_mode="points",
            )
        if pictures_on and len(learned.indices) > display_limits().max_hover_thumbnails:
            st.caption(
                f"{display_limits().max_hover_thumbnails:,} evenly spread points of {len(learned.indices):,} carry a "
                "picture on this server; the others show their index and classes."
            )
        point = st.session_state.get("embedding_map_point")
        if point is None or not 0 <= point < n_test:
            st.caption("Click a point on either map to see its image and the model's prediction.")
        else:
            left, right = st.columns([1, 1.2])
            left.plotly_chart(
                input_image(dataset.x_test[point], value_max, f"Test image #{point}, clicked on the map"),
                key="embedding_map_image",
                config={"displayModeBar": False},
            )
            right.plotly_chart(
                probability_bars(run.test_probabilities()[point], chart_names, int(labels[point])),
                key="embedding_map_probabilities",
            )


def _pictures_spec(ex: ExplainedRun, result: EmbeddingMap, title: str, method: str, most: int) -> dict:
    """The Vega-Lite map of `result` whose hover shows each test image (Vega-Lite draws text as text: raw names)."""
    names = [state.shorten(str(name), 40) for name in ex.class_names]  # the run's classes (after any merging)
    predicted = [names[p] if 0 <= p < len(names) else str(p) for p in result.predicted_labels]
    explained = result.explained_variance
    if method == "pca":
        x_title = "PC 1" + (f" ({explained[0]:.1%} of variance)" if explained else "")
        y_title = "PC 2" + (f" ({explained[1]:.1%} of variance)" if explained else "")
    else:
        x_title, y_title = "t-SNE 1", "t-SNE 2"
    return thumbnail_map_spec(
        result.coords,
        result.indices,
        result.true_labels,
        names,
        _pictures(result.run_id, services.stored_copy(ex.run), method, result.space, most),
        title=title,
        x_title=x_title,
        y_title=y_title,
        index_title="test image #",
        extra={"predicted": predicted},
        wrong=result.mistakes.tolist(),
    )

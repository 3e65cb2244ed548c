"""Evaluate's training-dynamics tab: the data map of the run's training images (Swayamdipta et al. 2020), the count
in each region and the hardest-to-learn images, all read from what the run recorded after each epoch; a way to the
Data page's label-issue search for the run's dataset, and the hardest images a stored search also flags."""

from typing import NamedTuple

import numpy as np
import pandas as pd
import streamlit as st

from charts import evaluation as evaluation_charts
from charts.dynamics import data_map_chart
from charts.thumbnails import hover_thumbnails, thumbnail_map_spec
from dashboard import components, links, services, state
from dashboard.views.data_label_issues import FOLDS_KEY, NOISE_KEY, PRESET_KEY
from dashboard.views.data_view import ISSUE_PRESETS, most_issue_folds
from dashboard.views.data_view import VIEW as DATA_VIEW
from dashboard.views.evaluate_run import EvaluatedRun
from dashboard.views.evaluate_view import VIEW as EVAL_VIEW
from engine.errors import DigitLabError, NotRecorded
from engine.evaluation.cartography import REGION_FRACTION
from engine.limits import display_limits

PICTURES_KEY = "eval_dynamics_pictures"
FLAGGED = "#d62728"  # title colour of a hardest image the stored label-issue search flags too
X_TITLE = "variability (std of the gold label's probability over epochs)"
Y_TITLE = "confidence (mean probability of the gold label)"


@st.cache_data(show_spinner="Drawing the hover pictures…", max_entries=8)
def _pictures(run_id: str, copy: str, most: int) -> list[str | None]:
    """One PNG data URI per drawn point of the map (None past the cap), from the dataset's own raw images."""
    found = services.training_dynamics(run_id)
    data = services.dataset(services.run(run_id).meta["dataset"]["name"])
    rows = found.source_rows[found.map_sample()]
    return hover_thumbnails(data.x_train[rows], data.value_max, most)


def show_dynamics(ev: EvaluatedRun) -> None:
    try:
        found = services.training_dynamics(ev.run.run_id)
    except NotRecorded as missing:
        st.info(components.plain(missing), icon=":material/timeline:")
        return
    except DigitLabError as error:
        components.show_error(error)
        return
    if found is None:
        return
    m = found.map
    counts = m.counts()
    st.dataframe(
        pd.DataFrame([{"region": region, "training images": count} for region, count in counts.items()]),
        hide_index=True,
        key="eval_dynamics_counts",
    )
    drawn = found.map_sample()
    title = f"Data map · {found.n_train:,} training images over {found.epochs} epochs"
    if len(drawn) < found.n_train:
        title += f" · {len(drawn):,} drawn"
    links.seeded(EVAL_VIEW, PICTURES_KEY)  # the link's `pictures`, else off
    st.toggle(
        "Pictures on hover",
        key=PICTURES_KEY,
        help="Draw the map so that pointing at a point shows its training image (colour: class; x: wrong after "
        "the last epoch); off, colour is the share of epochs each image was predicted right.",
    )
    if st.session_state.get(PICTURES_KEY):
        _map_with_pictures(ev, found, drawn, title)
    else:
        st.plotly_chart(
            components.cached_figure(
                data_map_chart,
                drawn,
                m.variability[drawn],
                m.confidence[drawn],
                m.correctness[drawn],
                m.region[drawn],
                found.labels[drawn],
                ev.chart_names,
                title,
            ),
            key=f"eval_dynamics_map_{ev.run.run_id}",
        )
    third = f"{REGION_FRACTION:.0%}"
    st.caption(
        "Each point is a training image: confidence is the mean probability of its own label after each epoch, "
        "variability its standard deviation over the epochs, colour the share of epochs it was predicted right. "
        f"Regions as in the paper, each a third of the training set by rank: ambiguous = the {third} most variable; "
        f"easy-to-learn = the {third} most confident and hard-to-learn the {third} least confident among the rest; "
        "in between = none of these."
        + (" A random sample is drawn, the hardest images always among it." if len(drawn) < found.n_train else "")
    )
    search = _stored_search(ev)
    flagged_rows = {issue.index for issue in search.stored.issues} if search.stored is not None else set()
    marks = [int(row) in flagged_rows for row in found.hardest_rows]
    st.subheader("Hardest to learn")
    names = ev.chart_names
    titles = [
        f"#{index} · {names[found.labels[index]]} ({m.confidence[index]:.0%})"
        + ("" if found.predicted_last[index] == found.labels[index] else f" → {names[found.predicted_last[index]]}")
        + (" ⚑" if mark else "")
        for index, mark in zip(found.hardest, marks, strict=True)
    ]
    st.plotly_chart(
        components.cached_figure(
            evaluation_charts.image_grid,
            found.hardest_images,
            titles,
            1.0,
            columns=6,
            title=f"The {len(found.hardest)} least confident training images (label, mean confidence → last "
            "prediction when wrong)",
            title_colours=[FLAGGED if mark else "#333333" for mark in marks] if any(marks) else None,
        ),
        key=f"eval_dynamics_hardest_{ev.run.run_id}",
    )
    st.caption(
        "Low confidence that never rises is what mislabelled or unusual images look like; check them before "
        "blaming the model."
    )
    _label_issue_link(ev, search, sum(marks), len(marks))


def _map_with_pictures(ev: EvaluatedRun, found, drawn: np.ndarray, title: str) -> None:
    m = found.map
    most = display_limits().max_hover_thumbnails
    pictures = _pictures(ev.run.run_id, services.stored_copy(ev.run), most)
    st.vega_lite_chart(
        spec=thumbnail_map_spec(
            np.stack([m.variability[drawn], m.confidence[drawn]], axis=1),
            drawn,
            found.labels[drawn],
            [state.shorten(str(name), 40) for name in ev.names],  # Vega-Lite draws text as text: raw names
            pictures,
            title=title,
            x_title=X_TITLE,
            y_title=Y_TITLE,
            index_title="training image #",
            extra={
                "region": [str(region) for region in m.region[drawn]],
                "confidence": [f"{value:.3f}" for value in m.confidence[drawn]],
                "right in": [f"{value:.0%} of epochs" for value in m.correctness[drawn]],
            },
            wrong=(found.predicted_last[drawn] != found.labels[drawn]).tolist(),
            height=520,
        ),
        key=f"eval_dynamics_pictures_map_{ev.run.run_id}",
        width="stretch",
    )
    with_pictures = sum(p is not None for p in pictures)
    st.caption(
        "Hover a point to see its training image."
        + (
            f" {with_pictures:,} evenly spread points of {len(drawn):,} carry a picture on this server."
            if with_pictures < len(drawn)
            else ""
        )
    )


class LabelIssueSearch(NamedTuple):
    dataset: str
    preset: str
    folds: int
    stored: object | None  # the stored `LabelIssues`, or None when none is stored


def _stored_search(ev: EvaluatedRun) -> LabelIssueSearch:
    """The label-issue search the link opens, with its stored result or None: the run's dataset, its preset when the
    search allows it (else the search's default), the folds of a stored search if there is one (else the search's
    default, under this server's cap). Reads the store only: the Evaluate page never trains."""
    dataset_name = str(ev.run.meta["dataset"]["name"])
    preset = str(ev.run.meta.get("preset") or "")
    issue_preset = preset if preset in ISSUE_PRESETS else str(DATA_VIEW.default(PRESET_KEY))
    most = most_issue_folds()
    default_folds = min(int(DATA_VIEW.default(FOLDS_KEY)), most)
    order = (default_folds, *(k for k in range(2, most + 1) if k != default_folds))
    try:
        stored = services.stored_label_issues(dataset_name, issue_preset, order)
    except (DigitLabError, OSError):
        stored = None
    if stored is None:
        return LabelIssueSearch(dataset_name, issue_preset, default_folds, None)
    return LabelIssueSearch(dataset_name, issue_preset, *stored)


def _open_label_issues(dataset_name: str, preset: str, folds: int) -> None:
    """Button callback (before any widget of the run): the Data page's Label issues tab, set for this search."""
    st.session_state[state.DATASET_KEY] = dataset_name
    links.open_view_with(DATA_VIEW, {"data_tab": "Label issues", PRESET_KEY: preset, FOLDS_KEY: folds, NOISE_KEY: 0.0})


def _label_issue_link(ev: EvaluatedRun, search: LabelIssueSearch, n_flagged: int, n_hardest: int) -> None:
    dataset_name, preset, folds, stored = search
    st.markdown(
        "Hard-to-learn images are often mislabelled: an image whose given label the model never comes to believe "
        "may simply carry the wrong one. The Data page's label-issue search checks every training label with "
        "models that never saw it."
    )
    if stored is not None:
        st.markdown(
            f"The stored search ({folds} folds of {components.plain(preset)}) flags **{n_flagged} of these "
            f"{n_hardest}** (marked ⚑, in red) and {len(stored.issues):,} of the {stored.n_train:,} training "
            "images in all."
        )
    else:
        st.caption(
            f"No label-issue search of {components.plain(dataset_name, 60)} with {components.plain(preset)} is "
            "stored yet; the Data page runs one (it trains its folds there, never here)."
        )
    if st.button(
        f"Look for label issues in {components.plain(dataset_name, 40)}",
        icon=":material/label_off:",
        key="eval_dynamics_label_issues",
        on_click=_open_label_issues,
        args=(dataset_name, preset, folds),
        help=f"Opens the Data page's Label issues tab: {preset}, {folds} folds, no planted noise.",
    ):
        st.switch_page("views/data.py")

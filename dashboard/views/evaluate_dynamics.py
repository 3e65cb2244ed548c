"""Evaluate's training-dynamics tab: the data map of the run's training images (Swayamdipta et al. 2020), the count
in each region and the hardest-to-learn images, all read from what the run recorded after each epoch."""

import pandas as pd
import streamlit as st

from charts import evaluation as evaluation_charts
from charts.dynamics import data_map_chart
from dashboard import components, services
from dashboard.views.evaluate_run import EvaluatedRun
from engine.errors import DigitLabError, NotRecorded
from engine.evaluation.cartography import REGION_FRACTION


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
    st.subheader("Hardest to learn")
    names = ev.chart_names
    titles = [
        f"#{index} · {names[found.labels[index]]} ({m.confidence[index]:.0%})"
        + ("" if found.predicted_last[index] == found.labels[index] else f" → {names[found.predicted_last[index]]}")
        for index in found.hardest
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
        ),
        key=f"eval_dynamics_hardest_{ev.run.run_id}",
    )
    st.caption(
        "Low confidence that never rises is what mislabelled or unusual images look like; check them before "
        "blaming the model."
    )

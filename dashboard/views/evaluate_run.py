"""The run the Evaluate page shows, as its tabs read it: scores, class names, test images; and its headline."""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import streamlit as st

from charts import evaluation as charts
from dashboard import components, services
from engine.architectures import PRESETS
from engine.compare import reported_test_accuracy
from engine.errors import DigitLabError
from engine.runs import run_label


@dataclass(frozen=True)
class EvaluatedRun:
    run: object  # the stored run
    evaluation: object  # its `engine.evaluation` scores on the test set
    history: dict | None
    names: list  # raw class names, for widgets and tables
    chart_names: list  # the same shown literally in Plotly, which reads HTML
    images: np.ndarray | None  # the run's test images in its labels' order; None when they cannot be shown
    value_max: float
    history_problem: str = ""  # why the stored history was refused, if it was (the curves tab says it)

    @property
    def k(self) -> int:
        return self.evaluation.num_classes

    def show_images(
        self,
        indices,
        title: str,
        key: str,
        columns: int = 6,
        panel_px: int | None = None,
        heatmaps=None,
        heat_opacity=0.6,
    ) -> None:
        if self.images is None or len(indices) == 0:
            return
        evaluation, chart_names = self.evaluation, self.chart_names
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
                self.images[np.asarray(indices)],
                titles,
                self.value_max,
                columns=columns,
                title=title,
                title_colours=colours,
                panel_px=panel_px,
                heatmaps=heatmaps,
                heat_opacity=heat_opacity,
            ),
            key=key,
        )


def test_images(meta: dict, evaluation):
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


def show_headline(run, evaluation) -> Callable[[], None]:
    """The headline metrics, what the run is, the source report's accuracy beside ours, and the run's notes."""
    meta = run.meta
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
        f"test images, {k} classes) · model **{plain(run_label(run, dataset=False), 120)}** · "
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
    download_col, share_col = st.columns([3, 1])
    components.model_download(run, "eval_download", download_col)  # any run opened here, not only the sidebar's
    with share_col:
        return components.share_box()  # the page refreshes it once its view is published

"""Streamlit pieces several pages share: error boxes, the live training panel, the copy-link box."""

from __future__ import annotations

import logging
import time

import streamlit as st

from dashboard import links, services, state
from dashboard.charts.training import training_curves
from engine.errors import DigitLabError

log = logging.getLogger("digitlab.dashboard")


def show_error(error: BaseException) -> None:
    """The engine's own message for expected problems; a short note (and a server log entry) for bugs."""
    if isinstance(error, DigitLabError):
        st.error(str(error), icon=":material/warning:")
    else:
        log.exception("unexpected error in the dashboard")
        st.error(f"Something went wrong ({type(error).__name__}: {error}). The details are in the server log.", icon=":material/bug_report:")


def link_problems() -> None:
    for problem in st.session_state.pop(state.LINK_PROBLEMS_KEY, []):
        st.warning(problem, icon=":material/link:")


def share_box() -> None:
    with st.popover("Copy link", icon=":material/link:"):
        st.caption("This link reopens the current view (dataset, model, settings and run) in any browser.")
        st.code(links.share_url(), language=None)


def train_with_progress(selection, label: str = "Training"):
    """Train (or fetch) the selection's run with a progress bar and curves that grow each epoch.

    Returns the engine's `RunResult`, or None when training failed (the message is shown). Clicking any
    widget while this runs stops the script; the engine then discards the half-trained run.
    """
    from engine.runs import get_or_train

    bar = st.progress(0.0, text=f"{label}: preparing…")
    chart = st.empty()
    epochs: list[dict] = []
    started = time.perf_counter()

    def progress(event):
        if event.stage == "queued":
            bar.progress(0.0, text=f"{label}: waiting for a free training slot — position {event.metrics['position']} "
                                   f"in the queue · {time.perf_counter() - started:.0f} s")
            return
        elapsed = time.perf_counter() - started
        bar.progress(event.fraction_done,
                     text=f"{label}: epoch {event.epoch}/{event.epochs} · {elapsed:.0f} s elapsed")
        if event.stage == "epoch":
            epochs.append({"epoch": event.epoch, **event.metrics})
            chart.plotly_chart(training_curves({"initial": initial, "epochs": epochs}, title="Live training curves"),
                               key=f"live_{event.epoch}")
        elif event.stage == "start":
            initial.update(event.metrics)

    initial: dict = {}
    try:
        result = get_or_train(selection.dataset, selection.spec, selection.config, progress=progress,
                              store=services.store(), preset=selection.preset)
    except DigitLabError as error:
        bar.empty()
        show_error(error)
        return None
    bar.progress(1.0, text=("Answered from the store" if result.cached else f"{label} finished") + f" in {result.seconds:.1f} s")
    if not result.stored:
        st.warning(f"{result.store_problem} The result is shown for this session only; it was not cached.",
                   icon=":material/sd_card_alert:")
    state.open_run(result.run.run_id)
    return result


def executor_choice(key: str):
    """A 'Run on' picker (this machine, or Ray when installed) returning the engine executor to use."""
    from engine.executors import available_executors, get_executor

    names = available_executors()
    labels = {"local": "this machine", "ray": "Ray (RAY_ADDRESS, or a local Ray instance)"}
    chosen = st.selectbox("Run on", names, key=key, format_func=lambda n: labels.get(n, n),
                          help="Ray runs folds or models as parallel tasks on a cluster; results land in the same store.")
    try:
        return get_executor(chosen)
    except DigitLabError as error:
        show_error(error)
        return get_executor("local")

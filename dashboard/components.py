"""Streamlit pieces several pages share: error boxes, the live training panel, the progress panel for a batch of
runs (k-fold, study), the copy-link box and the executor picker."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

import streamlit as st

from dashboard import links, services, state
from dashboard.charts.training import training_curves
from engine.errors import DigitLabError
from engine.progress import BatchProgress

log = logging.getLogger("digitlab.dashboard")


def show_error(error: BaseException) -> None:
    """The engine's own message for expected problems; a short note (and a server log entry) for bugs."""
    if isinstance(error, DigitLabError):
        st.error(str(error), icon=":material/warning:")
    else:
        log.exception("unexpected error in the dashboard")
        st.error(
            f"Something went wrong ({type(error).__name__}: {error}). The details are in the server log.",
            icon=":material/bug_report:",
        )


def link_problems() -> None:
    for problem in st.session_state.pop(state.LINK_PROBLEMS_KEY, []):
        st.warning(problem, icon=":material/link:")


def share_box() -> None:
    with st.popover("Copy link", icon=":material/link:"):
        st.caption("This link reopens the current view (dataset, model, settings and run) in any browser.")
        st.code(links.share_url(), language=None)


def memory_note(selection) -> str:
    """Where the selection's training stands against the server's memory budget, when there is one.

    Shows the estimate, the budget and what is in use; returns the refusal message (and shows it) when the
    training alone exceeds the budget, else "".
    """
    from engine.errors import TrainingTooLarge
    from engine.memory_estimate import estimate_training
    from engine.training_queue import training_queue

    queue = training_queue()
    if not queue.memory_budget_mb:
        return ""
    dataset = selection.dataset
    need = estimate_training(selection.spec, selection.config, len(dataset.x_train), len(dataset.x_test))
    admission = queue.admission(need)
    st.caption(
        f"Memory: this training needs an estimated {admission.adds_mb:,.0f} MB of this server's "
        f"{admission.budget_mb:,.0f} MB budget for trainings; {admission.in_use_mb:,.0f} MB in use now "
        f"({admission.running} training{'' if admission.running == 1 else 's'} running)."
        + (
            ""
            if admission.fits_now or not admission.fits_alone
            else " It would wait in the queue until enough is free."
        )
    )
    try:
        queue.check_fits_alone(need)
    except TrainingTooLarge as refusal:
        st.error(str(refusal), icon=":material/memory:")
        return str(refusal)
    return ""


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
            bar.progress(
                0.0,
                text=f"{label}: waiting for a free training slot — position {event.metrics['position']} "
                f"in the queue · {time.perf_counter() - started:.0f} s",
            )
            return
        elapsed = time.perf_counter() - started
        bar.progress(event.fraction_done, text=f"{label}: epoch {event.epoch}/{event.epochs} · {elapsed:.0f} s elapsed")
        if event.stage == "epoch":
            epochs.append({"epoch": event.epoch, **event.metrics})
            chart.plotly_chart(
                training_curves({"initial": initial, "epochs": epochs}, title="Live training curves"),
                key=f"live_{event.epoch}",
            )
        elif event.stage == "start":
            initial.update(event.metrics)

    initial: dict = {}
    try:
        result = get_or_train(
            selection.dataset,
            selection.spec,
            selection.config,
            progress=progress,
            store=services.store(),
            preset=selection.preset,
        )
    except DigitLabError as error:
        bar.empty()
        show_error(error)
        return None
    bar.progress(
        1.0, text=("Answered from the store" if result.cached else f"{label} finished") + f" in {result.seconds:.1f} s"
    )
    if not result.stored:
        st.warning(
            f"{result.store_problem} The result is shown for this session only; it was not cached.",
            icon=":material/sd_card_alert:",
        )
    state.open_run(result.run.run_id)
    return result


class BatchProgressPanel:
    """What `batch_progress` yields: pass it as the engine's `progress` callback, then call `finished` or `stopped`.

    Two bars (the whole batch, the run in hand) and one line per finished or failed run. Runs may start and end in
    any order on a parallel executor, so the overall bar follows the engine's count of finished runs.
    """

    def __init__(self, status, noun: str, total: int):
        self.status, self.noun, self.total = status, noun, total
        self.started = time.perf_counter()
        self.overall = st.progress(0.0, text=f"0 of {total} {noun}s done")
        self.current = st.progress(0.0, text="Preparing…")

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def __call__(self, update: BatchProgress) -> None:
        head, elapsed = update.describe(self.noun), self.elapsed
        if update.status == "start":
            retry = f" (attempt {update.attempt})" if update.attempt > 1 else ""
            self.current.progress(0.0, text=f"{head}: preparing…{retry}")
        elif update.status == "training" and update.event is not None:
            event = update.event
            self.current.progress(
                event.fraction_done, text=f"{head}: epoch {event.epoch}/{event.epochs} · {event.elapsed:.0f} s"
            )
            self.overall.progress(
                min(1.0, (update.done + event.fraction_done) / self.total),
                text=f"{update.done} of {self.total} {self.noun}s done · {elapsed:.0f} s elapsed",
            )
        elif update.status in ("done", "failed"):
            self.overall.progress(
                min(1.0, update.done / self.total),
                text=f"{update.done} of {self.total} {self.noun}s done · {elapsed:.0f} s elapsed",
            )
            if update.status == "done":
                how = "from the store" if update.cached else "trained"
                self.current.progress(1.0, text=f"{head}: {how}")
                st.write(f"✓ {head}: {how} ({elapsed:.0f} s elapsed)")
            else:
                st.write(f"✗ {head} failed: {update.error}")

    def finished(self, label: str) -> None:
        self.status.update(label=label, state="complete", expanded=False)

    def stopped(self, label: str, error: DigitLabError) -> NoReturn:
        """Mark the panel failed, show the engine's message below it and end this script run."""
        self.status.update(label=label, state="error", expanded=True)
        show_error(error)
        st.stop()


@contextmanager
def batch_progress(title: str, noun: str, total: int) -> Iterator[BatchProgressPanel]:
    """A status panel for `total` runs called `noun`s ("fold", "model"), open while the engine trains them:

    with components.batch_progress("Running 5-fold cross-validation…", "fold", 5) as panel:
        try:
            cv = cross_validate(..., progress=panel)
        except DigitLabError as error:
            panel.stopped("Cross-validation stopped", error)
        panel.finished(f"5-fold cross-validation finished in {panel.elapsed:.1f} s")
    """
    with st.status(title, expanded=True) as status:
        yield BatchProgressPanel(status, noun, total)


def executor_choice(key: str):
    """A 'Run on' picker (this machine, or Ray when installed) returning the engine executor to use."""
    from engine.executors import available_executors, get_executor

    names = available_executors()
    labels = {"local": "this machine", "ray": "Ray (RAY_ADDRESS, or a local Ray instance)"}
    chosen = st.selectbox(
        "Run on",
        names,
        key=key,
        format_func=lambda n: labels.get(n, n),
        help="Ray runs folds or models as parallel tasks on a cluster; results land in the same store.",
    )
    try:
        return get_executor(chosen)
    except DigitLabError as error:
        show_error(error)
        return get_executor("local")

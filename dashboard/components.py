"""Streamlit pieces several pages share: plain text for untrusted strings, error boxes, link notices, the live
training panel, the progress panel for a batch of runs (k-fold, study), the copy-link box and the executor picker."""

from __future__ import annotations

import html
import logging
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import NoReturn

import streamlit as st

from charts.training import training_curves
from dashboard import links, services, state
from engine.errors import DigitLabError, TrainingTooLarge
from engine.executors import available_executors, configured_executor
from engine.memory_estimate import estimate_training
from engine.progress import BatchProgress
from engine.runs import get_or_train
from engine.training_queue import training_queue

log = logging.getLogger("digitlab.dashboard")


# Every ASCII punctuation character, each of which CommonMark lets a backslash make literal.
_MARKDOWN_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")
# GitHub-flavoured autolinks ("http://x", "www.x", "a@b.c") form after escapes are resolved, so a backslash cannot
# stop them (the real-browser test saw it): an invisible WORD JOINER (U+2060) after each trigger breaks it instead.
WORD_JOINER = "\u2060"
_AUTOLINK_TRIGGERS = re.compile(r"(:(?=//)|(?i:www)(?=\.)|@)")


def plain(text, limit: int | None = None, *, chart: bool = False) -> str:
    """Untrusted text (from a URL, a data file, a stored run's meta, or an error quoting them) made literal for
    any element that renders Markdown (st.markdown, st.caption, st.warning/error/info, metric labels).

    Every ASCII punctuation character is backslash-escaped, so no link, image, HTML tag, heading, emphasis, code
    span, LaTeX or colour directive can form; a word joiner inside '://' and after 'www' and '@' stops
    GitHub-flavoured autolinks, which ignore escapes; line breaks become spaces. `limit` shortens long values,
    saying how long they were. Widget options and dataframe cells are plain text already: pass raw strings there.
    `chart=True` is for Plotly text (titles, axis labels, legends),
    which reads a subset of HTML (links included) rather than Markdown: there the text is HTML-escaped instead.
    """
    text = str(text)
    if limit is not None:
        text = state.shorten(text, limit)
    if chart:
        return html.escape(text, quote=False)
    text = _AUTOLINK_TRIGGERS.sub(lambda found: found.group(0) + WORD_JOINER, " ".join(text.splitlines()))
    return _MARKDOWN_PUNCTUATION.sub(r"\\\1", text)


# What a 1400 px browser window leaves a table in the wide layout, beside the expanded sidebar (about 336 px) and
# the main column's side padding: the fixed column widths of Home's and Compare's run tables add up to at most this.
TABLE_WIDTH_PX = 900


def fixed_columns(widths: Mapping[str, int], configs: Mapping[str, dict]) -> dict[str, dict]:
    """Column configs for `st.dataframe` with each listed column at its fixed pixel width (`configs` gives the
    header, format and kind). The widths must fit `TABLE_WIDTH_PX`, so no header or cell is cut off at 1400 px."""
    if sum(widths.values()) > TABLE_WIDTH_PX:
        raise ValueError(f"columns of {sum(widths.values())} px do not fit the {TABLE_WIDTH_PX} px a table has")
    return {
        name: {**(configs.get(name) or st.column_config.Column()), "width": width} for name, width in widths.items()
    }


def show_error(error: BaseException) -> None:
    """The engine's own message for expected problems; a short note (and a server log entry) for bugs. Both can
    quote untrusted values (a link's activation name, a file name), so both are shown as plain text."""
    if isinstance(error, DigitLabError):
        st.error(plain(error), icon=":material/warning:")
    else:
        log.exception("unexpected error in the dashboard")
        st.error(
            plain(f"Something went wrong ({type(error).__name__}: {error}). The details are in the server log."),
            icon=":material/bug_report:",
        )


def draw_open_tab(tabs: Sequence, shows: Sequence[Callable[[], object]]) -> None:
    """Draw each tab's content only while that tab is open: a closed tab costs a page nothing on a rerun, and its
    view values live on in session state (`links.keep_view_state`)."""
    for tab, show in zip(tabs, shows, strict=True):
        with tab:
            if tab.open:
                show()


def open_page(title: str, view: links.PageView | None = None, caption: str = "", intro: str = "") -> state.Selection:
    """Every page's opening: its title and words, the link's notices, its view widgets kept (before any widget
    is drawn) and the sidebar's selection."""
    st.title(title)
    if intro:
        st.markdown(intro)
    if caption:
        st.caption(caption)
    link_problems()
    if view is not None:
        links.keep_view_state(view)  # a closed tab's widgets keep their values and their link
    return state.selection()


def link_problems() -> None:
    """The link's one-off notices, and every refused link value still in force (training stays off meanwhile)."""
    for problem in st.session_state.pop(state.LINK_PROBLEMS_KEY, []):
        st.warning(plain(problem), icon=":material/link:")
    standing = state.refusals()
    for refusal in standing:
        st.warning(plain(refusal.message()), icon=":material/link_off:")
    if standing:
        st.button(
            "Use the values shown",
            key=f"accept_shown_{len(standing)}",
            on_click=state.accept_shown_values,
            help="Train what the sidebar shows now instead of the refused values.",
        )


def link_view_check(name: str, keys: tuple[str, ...], fits: bool, reason: str) -> None:
    """A page-level check of a view value (a class, an image number) the link set before the page knew its run.

    When it does not fit, the keys are cleared so the widgets take their defaults, and, if the value came from
    the link, a notice says which value was not used and why. Each link value is checked once.
    """
    from_link = st.session_state.get("_link_view", {}).pop(name, None)
    if fits:
        return
    for key in keys:
        st.session_state.pop(key, None)
    if from_link is not None:
        st.warning(
            plain(f"The link's {name} = {state.shorten(from_link)} was not used: {reason}."), icon=":material/link:"
        )


def checked_test_index(key: str, n_test: int) -> None:
    """Check a test-image number (from the link or a previous run with a larger test set) against this run's
    `n_test` images: a number out of range is named and dropped, and the kept one is clamped into range."""
    link_view_check(
        "image",
        (key,),
        int(st.session_state.get(key, 0)) < n_test,
        f"this run's test set has {n_test:,} images, numbered 0 to {n_test - 1:,}",
    )
    st.session_state[key] = min(int(st.session_state.get(key, 0)), n_test - 1)


def share_box() -> Callable[[], None]:
    """The "Copy link" box. Returns the function that writes the link into it, already called once: a page with
    view parameters (tab, cell, toggles) calls it again after `links.publish_view`, so the box shows the address
    bar's link, view included, rather than the one from before the page's widgets were drawn."""
    with st.popover("Copy link", icon=":material/link:"):
        st.caption(
            "This link reopens the current view (dataset, model, settings, run, tab and choices) in any browser."
        )
        slot = st.empty()

    def show() -> None:
        slot.code(links.share_url(), language=None, wrap_lines=True)  # wrapped: a long link is never cut off

    show()
    return show


def model_download(run, key: str, where=st) -> None:
    """A button that downloads `run`'s trained model as its stored `.keras` file (load it with
    `keras.saving.load_model`): the one button Train shows for the sidebar's run and Evaluate for any run it
    opens (from Home, Compare, a fold or a sweep trial). The file is read only when the button is clicked; no
    server cap applies to downloads (a model's size is already bounded by the parameter cap)."""
    try:
        model_path = run.file("model.keras")
    except DigitLabError as error:
        where.caption(plain(f"Model file unavailable: {error}"))
        return
    where.download_button(
        "Download the trained model (.keras)",
        data=model_path.read_bytes,
        file_name=f"digitlab-{run.run_id}.keras",
        mime="application/octet-stream",
        key=key,
        on_click="ignore",
        help=f"Run {run.run_id}'s model as stored: load it with keras.saving.load_model.",
    )


def memory_note(selection) -> str:
    """Where the selection's training stands against the server's memory budget, when there is one.

    Shows the estimate, the budget and what is in use; returns the refusal message (and shows it) when the
    training alone exceeds the budget, else "".
    """
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


def train_with_progress(selection, label: str = "Training", record_dynamics: bool | None = None):
    """Train (or fetch) the selection's run with a progress bar and curves that grow each epoch.

    `record_dynamics`: keep the training dynamics (None: by the training set's size); a stored run is answered as
    it is, with the engine's note when it lacks them.

    Returns the engine's `RunResult`, or None when training failed (the message is shown). Clicking any
    widget while this runs stops the script; the engine then discards the half-trained run.
    """
    # Before epoch 1 nothing moves for a few seconds: say what the engine is doing meanwhile.
    bar = st.progress(
        0.0,
        text=f"{label}: preparing — loading TensorFlow and the data, building the model and scoring it once "
        "untrained on the validation set…",
    )
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
            bar.progress(
                0.0, text=f"{label}: ready after {elapsed:.0f} s of preparation · epoch 1/{event.epochs} running"
            )

    initial: dict = {}
    try:
        result = get_or_train(
            selection.dataset,
            selection.spec,
            selection.config,
            progress=progress,
            store=services.store(),
            preset=selection.preset,
            record_dynamics=record_dynamics,
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
    for note in result.notes:
        st.info(plain(note), icon=":material/timeline:")
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
            self.current.progress(0.0, text=f"{head}: preparing — data, model, one untrained validation score…{retry}")
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


def executor_choice(key: str) -> str:
    """A 'Run on' picker: "local" (this machine, in this server) or "ray" (a job driver process of its own, see
    dashboard.job_panel), offered when Ray is installed and, on a hosted server, allowed by its operator."""
    names = available_executors()
    labels = {"local": "this machine", "ray": "Ray (RAY_ADDRESS, or a local Ray instance), in a driver process"}
    default = _configured_executor()  # the same default as one training's picker: what the operator configured
    return st.selectbox(
        "Run on",
        names,
        index=names.index(default) if default in names else 0,
        key=key,
        format_func=lambda n: labels.get(n, n),
        help="Ray runs folds or models as parallel tasks on a cluster, from a driver process of its own (the "
        "page follows it and survives a reload); results land in the same store.",
    )


def _configured_executor() -> str:
    """`DIGIT_LAB_EXECUTOR` as both 'Run on' pickers default to it; a bad setting is the operator's: said once on
    the page, and work stays on this server."""
    try:
        return configured_executor()
    except DigitLabError as error:
        st.warning(f"Training runs on this server: {plain(str(error))}", icon=":material/warning:")
        return "local"


def single_run_executor(key: str) -> str:
    """Where one training runs: "local" unless the server is configured for Ray (`DIGIT_LAB_EXECUTOR=ray`), when a
    'Run on' choice offers this server or the Ray cluster (a job driver of its own, see dashboard.job_panel)."""
    if _configured_executor() != "ray":
        return "local"
    labels = {"local": "this server", "ray": "the Ray cluster"}
    return st.radio(
        "Run on",
        ["local", "ray"],
        index=1,
        key=key,
        format_func=lambda n: labels[n],
        horizontal=True,
        help="The Ray cluster trains it from a driver process of its own (this page follows it and survives a "
        "reload); the run lands in the same store either way, with the same scores.",
    )


def run_with_test_data(page: str, selection):
    """The run a model page (Inspect, Explain) shows, with the data and model to look at it: the open run, else
    the sidebar's model's stored run. Stops the page with a notice when there is none, when a file is refused,
    or when this machine's test images are not the ones the run was scored on (they could not be matched).

    Returns (run, dataset, test labels, model).
    """
    run_id = state.current_run_id()
    run = services.run(run_id) if run_id else None
    missing = run_id if run_id and run is None else None
    if run is None:
        run = services.find_current_run(selection)
    if missing:
        # Never one run presented as another: the notice names the run asked for and the one shown in its place.
        if run is not None:
            instead = (
                f"Showing run `{run.run_id}` instead, the stored run of the sidebar's model "
                f"({plain(selection.label)} on {plain(selection.dataset_name)}); the address now names that run."
            )
        else:
            instead = "The sidebar's model has no stored run either."
        st.warning(
            f"Run `{plain(missing)}` is not in the store (deleted, or trained on another machine). {instead}",
            icon=":material/search:",
        )
    if run is None:
        st.info(
            f"{page} needs a trained model. Train the sidebar's model on the Train page, or open a stored run from "
            "Home, then come back here.",
            icon=":material/model_training:",
        )
        st.page_link("views/train.py", label="Go to Train", icon=":material/model_training:")
        st.stop()
    state.set_page_param("run", run.run_id)
    try:
        dataset = services.dataset(run.meta["dataset"]["name"])
        labels = run.test_labels()
        model = services.model(run.run_id)
    except DigitLabError as error:
        show_error(error)
        st.stop()
    if dataset.fingerprint != run.meta["dataset"]["fingerprint"] or len(labels) != len(dataset.x_test):
        st.error(
            f"The {plain(dataset.name)} data on this machine differ from the data run `{run.run_id}` was "
            "trained on, so its test images cannot be matched. Retrain the model here.",
            icon=":material/warning:",
        )
        st.stop()
    return run, dataset, labels, model


def cached_figure(builder, *args, **kwargs):
    """`builder(*args, **kwargs)`, a chart builder's figure, built once per distinct arguments for the server.

    Building a figure is most of a page's rerun (plotly validates every trace and annotation: an image grid with
    captions takes 0.1-0.3 s), and pages rebuild the same figures on every rerun and page switch. Streamlit
    sends a copy (`to_dict`) of a figure, so one cached object can serve every session.
    """
    return _figure(f"{builder.__module__}.{builder.__qualname__}", builder, *args, **kwargs)


@st.cache_resource(show_spinner=False, max_entries=64)
def _figure(name: str, _builder, *args, **kwargs):
    return _builder(*args, **kwargs)

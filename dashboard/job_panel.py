"""Following a job (k-fold folds or study models trained by a driver process, engine.jobs) on a page.

The server never runs the job: it starts the driver and reads the status file it keeps. While the job runs, a
fragment re-reads it every second (the rest of the page is not redrawn); when it ends, the whole page reruns so
the results appear, or, if the driver or the cluster died, the page says so and offers to resume. The job id is
in the session and the link (`?job=`), so a reload or a shared link finds the job again.
"""

from __future__ import annotations

import time

import streamlit as st

from dashboard import state
from dashboard.components import plain
from engine.errors import DigitLabError
from engine.jobs import cancel_job, is_job_id, job_status, read_request, resume_job, start_job

POLL_SECONDS = 1.0
# A job's folder is stored data (untrusted): its request's title and noun and its status's messages quote labels,
# paths and error text. Every one of them reaches Markdown (alerts, progress text, button labels and help) only
# through `plain`, the one helper whose escaping also breaks autolinks (`http://`, `www.`, `mailto:`, `a@b`).


def start(request) -> str | None:
    """Start a job for `request` and make it this session's (and the link's); None when it cannot start."""
    try:
        job_id = start_job(request)
    except DigitLabError as error:
        st.error(plain(str(error)), icon=":material/warning:")
        return None
    st.session_state[state.JOB_KEY] = job_id
    state.set_page_param("job", job_id)
    return job_id


def current(kind: str, run_ids: list[str] | None = None):
    """This session's job of `kind` (and, when given, for exactly these runs) with its status, else (None, None).

    A job id from a link that names no job here, or a malformed job folder, is dropped with a notice.
    """
    job_id = st.session_state.get(state.JOB_KEY)
    if not is_job_id(job_id):
        return None, None
    try:
        request = read_request(job_id)
        status = job_status(job_id)
    except DigitLabError as error:
        st.warning(f"The job in this link cannot be followed here: {plain(str(error))}", icon=":material/link:")
        st.session_state.pop(state.JOB_KEY, None)
        state.set_page_param("job", None)
        return None, None
    if request.kind != kind or (run_ids is not None and [t.run_id for t in request.tasks] != list(run_ids)):
        return None, None
    state.set_page_param("job", job_id)
    return request, status


def follow(request, status) -> bool:
    """Draw the job's progress (live while it runs) or how it ended; True when it finished with every run stored."""
    job_id = status.job_id
    if not status.final:
        st.fragment(_live, run_every=POLL_SECONDS)(job_id, request.noun, request.title)
        if st.button("Stop the job", key=f"job_stop_{job_id}", help="Cancels the runs in flight; stored runs stay."):
            cancel_job(job_id)
            time.sleep(0.5)
            st.rerun()
        return False
    if status.state == "done":
        return True
    _runs_table(status, request.noun)
    # The message says what happened in full ("The Ray cluster went away after 2 of 10 models; ..."); the headline
    # only says the job is over.
    headline = {"cancelled": "Job stopped", "failed": "Job failed"}.get(status.state, "Job interrupted")
    st.error(f"**{headline}.** {plain(status.message)}", icon=":material/cloud_off:")
    noun = plain(request.noun)  # button labels and help are Markdown too
    if status.stored < status.total and st.button(
        f"Resume: train the other {status.total - status.stored} {noun}s",
        key=f"job_resume_{job_id}",
        type="primary",
        help=f"Starts a new driver for the same job; the {status.stored} stored {noun}s are reused.",
    ):
        try:
            resume_job(job_id)
        except DigitLabError as error:
            st.error(plain(str(error)), icon=":material/warning:")
        else:
            st.rerun()
    return False


def _live(job_id: str, noun: str, title: str) -> None:
    try:
        status = job_status(job_id)
    except DigitLabError as error:
        st.error(plain(str(error)), icon=":material/warning:")
        return
    if status.final:
        st.rerun()  # the whole page: results, or the notice with Resume
    elapsed = max(0.0, time.time() - status.started) if status.started else 0.0
    fraction = sum(_fraction(run) for run in status.runs) / max(1, status.total)
    stored = sum(run.status in ("done", "cached") for run in status.runs)
    where = "starting its driver" if status.state == "starting" else f"{elapsed:.0f} s"
    st.progress(
        min(1.0, fraction),
        text=f"{plain(title)}: {stored} of {status.total} {plain(noun)}s stored · {where}",
    )
    _runs_table(status, noun)
    st.caption(
        f"Job {job_id}, run by its own driver process (attempt {status.attempt}); this page follows it and can be "
        "closed or reloaded: the link brings it back."
    )


def _fraction(run) -> float:
    if run.status in ("done", "cached", "failed"):
        return 1.0
    if run.status == "training" and run.epochs:
        return run.epoch / run.epochs
    return 0.0


def _runs_table(status, noun: str) -> None:
    rows = []
    for run in status.runs:
        what = {
            "waiting": "waiting",
            "queued": f"waiting for a training slot (position {run.position})" if run.position else "queued on Ray",
            "running": "starting",
            "training": f"epoch {run.epoch}/{run.epochs}",
            "done": "stored",
            "cached": "from the store",
            "failed": f"failed: {run.error}",
        }[run.status]
        if status.final and run.status not in ("done", "cached", "failed"):
            what = "not stored"  # whatever it was doing ended with the job
        if run.attempt > 1:
            what += f" (attempt {run.attempt})"
        rows.append({noun: run.label, "state": what, "run id": run.run_id})
    st.dataframe(rows, hide_index=True)  # cells are plain text: labels and errors come from stored data

"""The Classroom page for instructors: creating a challenge (behind the operator's admin secret) and the
instructor's view of one (both boards, the class summary, each student's history, more roster links, close, export).

The admin secret is `DIGIT_LAB_ADMIN_TOKEN` from the environment, where Home.py's `apply_hosting_secrets` also puts
the same name from Streamlit secrets. It is compared in constant time, never shown, and its input is cleared as soon
as it has been checked.
"""

from __future__ import annotations

import hmac
import os
from datetime import UTC, datetime, time

import pandas as pd
import streamlit as st

from charts.classroom import score_histogram
from charts.evaluation import confusion_heatmap
from dashboard import components, hosting
from dashboard.views import classroom_view
from dashboard.views.classroom_student import boards_section, percent, show_text
from engine.architectures import PRESETS
from engine.classroom import service
from engine.classroom.roster import read_roster
from engine.classroom.spec import (
    DAILY_SUBMISSIONS_RANGE,
    DEFAULT_EDITABLE,
    EPOCHS_RANGE,
    MAX_INSTRUCTIONS_CHARS,
    MAX_TITLE_CHARS,
    PARAMETERS_RANGE,
    PRIVATE_FRACTION_RANGE,
    STUDENT_SETTINGS,
    ChallengeLimits,
    ChallengeSpec,
    random_split_seed,
)
from engine.datasets import list_datasets

ADMIN_VARIABLE = "DIGIT_LAB_ADMIN_TOKEN"
ADMIN_INPUT_KEY = "classroom_admin_secret"
ADMIN_OK_KEY = "_classroom_admin"  # this session gave the right secret
ADMIN_REFUSED_KEY = "_classroom_admin_refused"
LINKS_ONCE_KEY = "_classroom_links_once"  # (label, link) pairs shown once after creating or adding a roster


def admin_secret() -> str:
    return os.environ.get(ADMIN_VARIABLE, "")


def _check_secret() -> None:
    """The Unlock button's callback: compare, remember the answer, clear the input (it never goes back)."""
    given = str(st.session_state.get(ADMIN_INPUT_KEY, ""))
    secret = admin_secret()
    ok = bool(secret) and hmac.compare_digest(given.encode("utf-8"), secret.encode("utf-8"))
    st.session_state[ADMIN_OK_KEY] = ok
    st.session_state[ADMIN_REFUSED_KEY] = not ok
    st.session_state[ADMIN_INPUT_KEY] = ""


# ------------------------------------------------------------------------------------------------ create


def create_section() -> None:
    st.markdown("### Instructor")
    if not admin_secret():
        st.info(
            f"Creating a challenge is off on this server: the operator must set {ADMIN_VARIABLE} (in the "
            "environment or in the app's Streamlit secrets)."
        )
        return
    if not st.session_state.get(ADMIN_OK_KEY):
        st.caption("Creating a challenge needs this server's admin secret.")
        st.text_input("Admin secret", type="password", key=ADMIN_INPUT_KEY)
        st.button("Unlock", key="classroom_unlock", on_click=_check_secret)
        if st.session_state.pop(ADMIN_REFUSED_KEY, False):
            st.error("That is not this server's admin secret.")
        return
    _create_form()


def _create_form() -> None:
    datasets = [info.name for info in list_datasets() if hosting.dataset_visible(info.name)]
    presets = list(PRESETS)
    with st.form("classroom_create"):
        dataset = st.selectbox("Dataset", datasets, index=datasets.index("digits") if "digits" in datasets else 0)
        title = st.text_input("Title", max_chars=MAX_TITLE_CHARS, key="classroom_new_title")
        instructions = st.text_area("Instructions (plain text)", max_chars=MAX_INSTRUCTIONS_CHARS)
        preset = st.selectbox("Starting model (preset)", presets, index=presets.index(ChallengeSpec.preset))
        left, right = st.columns(2)
        max_epochs = left.number_input(
            "Max epochs", *EPOCHS_RANGE, ChallengeLimits.max_epochs, key="classroom_new_epochs"
        )
        max_parameters = right.number_input(
            "Max trainable parameters", *PARAMETERS_RANGE, ChallengeLimits.max_parameters, step=1_000
        )
        max_train = left.number_input(
            "Max training images (0 = all)", 0, None, ChallengeLimits.max_train, step=100, key="classroom_new_train"
        )
        daily = right.number_input(
            "Submissions per student per day", *DAILY_SUBMISSIONS_RANGE, ChallengeLimits.daily_submissions
        )
        private_fraction = st.slider("Share of the test set kept private", *PRIVATE_FRACTION_RANGE, 0.5, step=0.05)
        editable = st.multiselect("Settings students may change", STUDENT_SETTINGS, default=list(DEFAULT_EDITABLE))
        closes = st.checkbox("Closes at a set time (UTC)")
        day, hour = st.columns(2)
        close_day = day.date_input("Closing day")
        close_time = hour.time_input("Closing time (UTC)", value=time(18, 0))
        roster = st.file_uploader("Roster (CSV of names; optional)", type=["csv"])
        open_joining = st.checkbox("Open joining (a join link anyone in the class can use)", value=True)
        created = st.form_submit_button("Create challenge", type="primary")
    if not created:
        return
    closes_at = datetime.combine(close_day, close_time, tzinfo=UTC).isoformat() if closes else ""
    spec = ChallengeSpec(
        dataset=dataset,
        title=title,
        instructions=instructions,
        preset=preset,
        limits=ChallengeLimits(int(max_epochs), int(max_parameters), int(max_train), int(daily), tuple(editable)),
        closes_at=closes_at,
        private_fraction=float(private_fraction),
        split_seed=random_split_seed(),
    )
    names = read_roster(roster.getvalue()) if roster is not None else ()
    with st.spinner("Creating the challenge (loading its data, splitting its test set)…"):
        challenge = service.create_challenge(spec, roster=names, open_joining=open_joining)
    links = [("Instructor link (yours: it opens this view)", challenge.instructor_link)]
    if challenge.student_link:
        links.append(("Join link (for the class: each student joins under a display name)", challenge.student_link))
    links += [(f"Student link for {student.name}", student.link) for student in challenge.students]
    st.session_state[LINKS_ONCE_KEY] = links
    classroom_view.enter(challenge.challenge_id, "instructor", challenge.instructor_token)
    st.rerun()


def _links_once() -> None:
    links = st.session_state.get(LINKS_ONCE_KEY)
    if not links:
        return
    with st.container(border=True):
        st.warning("Keep these links now: they are not shown again. Each student's link is that student's alone.")
        for label, link in links:
            st.markdown(components.plain(label))
            st.code(link, language=None, wrap_lines=True)
        if st.button("I have kept these links", key="classroom_links_kept"):
            st.session_state.pop(LINKS_ONCE_KEY, None)
            st.rerun()


# ------------------------------------------------------------------------------------------------ the instructor


def instructor_mode(challenge_id: str, token: str) -> None:
    record = service.instructor_challenge(challenge_id, token)
    spec = record.spec
    st.subheader(components.plain(spec.title))
    st.caption(
        f"Instructor view of challenge {components.plain(challenge_id)} · dataset {components.plain(spec.dataset)}"
    )
    _links_once()
    show_text(spec.instructions)
    board = service.boards(challenge_id, token)
    st.markdown("Closed: students see both boards." if board.closed else "Open: students see the public board only.")
    boards_section(board, for_instructor=True)
    _summary(challenge_id, token)
    _roster(challenge_id, token)
    _close_and_export(challenge_id, token, board.closed)


def _summary(challenge_id: str, token: str) -> None:
    summary = service.class_summary(challenge_id, token)
    st.markdown("#### The class")
    st.caption(f"{summary.students} student(s), {summary.submissions} submission(s).")
    if summary.best_public:
        left, right = st.columns(2)
        left.plotly_chart(score_histogram(summary.best_public), key="classroom_histogram")
        names = list(summary.class_names)
        right.plotly_chart(
            confusion_heatmap(
                summary.confusion,
                [components.plain(n, chart=True) for n in names],
                title="The class's confusion (each student's best, public part)",
            ),
            key="classroom_confusion",
        )
        if summary.most_confused:
            st.markdown("Most confused pairs (public part)")
            st.dataframe(
                pd.DataFrame(
                    [{"true": names[i], "predicted as": names[j], "images": n} for i, j, n in summary.most_confused]
                ),
                hide_index=True,
            )
    for history in summary.histories:
        with st.expander(components.plain(f"{history.name} — {len(history.submissions)} submission(s)")):
            if not history.submissions:
                st.caption("No submission yet.")
                continue
            st.dataframe(
                pd.DataFrame(
                    [
                        {
                            "submitted (UTC)": row["created"][:19].replace("T", " "),
                            "status": row["status"],
                            "public accuracy": percent(row["public_accuracy"]),
                            "private accuracy": percent(row["private_accuracy"]),
                            "run": row["run_id"],
                            "message": row["message"] or "",
                        }
                        for row in history.submissions
                    ]
                ),
                hide_index=True,
            )


def _roster(challenge_id: str, token: str) -> None:
    st.markdown("#### More students")
    upload = st.file_uploader(
        "Roster (CSV of names): one secret link per student", type=["csv"], key="classroom_roster"
    )
    if upload is not None and st.button("Add these students", key="classroom_add_roster"):
        students = service.add_roster(challenge_id, token, upload.getvalue())
        st.session_state[LINKS_ONCE_KEY] = [(f"Student link for {s.name}", s.link) for s in students]
        st.rerun()


def _close_and_export(challenge_id: str, token: str, closed: bool) -> None:
    st.markdown("#### Close and grade")
    if not closed:
        sure = st.checkbox(
            "I want to close this challenge: no more submissions; students see the private board.",
            key="classroom_close_sure",
        )
        if st.button("Close challenge", key="classroom_close", disabled=not sure):
            service.close(challenge_id, token)
            st.rerun()
    st.download_button(
        "Export grades (CSV)",
        data=service.export_grades(challenge_id, token),
        file_name=f"grades-{challenge_id}.csv",
        mime="text/csv",
        key="classroom_export",
    )

"""The Classroom page for students: joining with the join link, then the student's own view (the locks, the
submission form with only the settings the instructor left open, the result, their history and the boards).

What a student never sees here before close: anything computed on the private part. The engine returns no private
number to a student token until then (`service.submit`, `student_history`, `boards`); this module shows what it gets.
Every string from the database (names, titles, instructions, messages) is shown as plain text.
"""

from __future__ import annotations

import time

import pandas as pd
import streamlit as st

from charts.evaluation import confusion_heatmap
from dashboard import components
from dashboard.views import classroom_view
from engine import settings
from engine.architectures import PRESETS
from engine.classroom import service
from engine.classroom.ladder import RULE_TEXT
from engine.classroom.roster import MAX_NAME_CHARS
from engine.classroom.spec import ChallengeSpec
from engine.errors import DigitLabError
from engine.limits import spec_limits, train_limits
from engine.textfiles import load_json
from engine.training.config import LR_SCHEDULES

OUTCOME_KEY = "_classroom_outcome"  # the last submission's outcome, kept across reruns (this session only)
JOINED_LINK_KEY = "_classroom_joined_link"  # the personal link, shown once after joining until dismissed
QUEUE_SAID_KEY = "_classroom_queue_said"  # where the last submission stood in the queue, said beside its score
FORM_KEY = "classroom_submit"


def percent(value: float | None) -> str:
    """An accuracy as the page writes it everywhere (boards, history, results): tests search for this form."""
    return "—" if value is None else f"{value:.2%}"


def show_text(text: str) -> None:
    """Instructions or another multi-line text from the database, literally (st.text renders no Markdown)."""
    if text.strip():
        st.text(text)


# ------------------------------------------------------------------------------------------------ join


def join_mode(challenge_id: str, join_token: str) -> None:
    spec = service.join_challenge(challenge_id, join_token)
    st.subheader(components.plain(spec.title))
    show_text(spec.instructions)
    st.caption("Join this challenge under a display name the class will see on the board.")
    with st.form("classroom_join"):
        name = st.text_input("Display name", max_chars=MAX_NAME_CHARS, key="classroom_join_name")
        joined = st.form_submit_button("Join", type="primary")
    if not joined:
        return
    student = service.join(challenge_id, join_token, name)
    st.session_state[JOINED_LINK_KEY] = student.link
    classroom_view.enter(challenge_id, "student", student.token)
    st.rerun()


# ------------------------------------------------------------------------------------------------ the student


def student_mode(challenge_id: str, token: str) -> None:
    status = service.student_status(challenge_id, token)
    spec = status.spec
    st.subheader(components.plain(spec.title))
    st.caption(f"Signed in as {components.plain(status.name)}")
    _personal_link_once()
    show_text(spec.instructions)
    _locks(spec, status)
    if status.closed:
        st.info("This challenge is closed: it takes no more submissions. The private board is below.")
    elif status.submissions_left_today == 0:
        st.warning("You have used today's submissions; the count starts again at midnight UTC.")
    else:
        _submission_form(challenge_id, token, spec)
    _last_outcome()
    _history(challenge_id, token, status.closed)
    boards_section(service.boards(challenge_id), for_instructor=False)


def _personal_link_once() -> None:
    link = st.session_state.get(JOINED_LINK_KEY)
    if not link:
        return
    with st.container(border=True):
        st.markdown(
            "**Your personal link.** Keep it: it is how you come back to your submissions, and it is not "
            "shown again. Do not share it: whoever has it submits as you."
        )
        st.code(link, language=None, wrap_lines=True)
        if st.button("I have kept my link", key="classroom_link_kept"):
            st.session_state.pop(JOINED_LINK_KEY, None)
            st.rerun()


def _locks(spec: ChallengeSpec, status: service.StudentStatus) -> None:
    limits = spec.limits
    editable = ", ".join(limits.editable) if limits.editable else "nothing (every submission trains the same model)"
    closes = spec.closing_time()
    lines = [
        f"- You may change: {editable}. Everything else is the preset {components.plain(spec.preset)}'s.",
        f"- At most {limits.max_epochs} epochs and {limits.max_parameters:,} trainable parameters"
        + (f", {limits.max_train:,} training images." if limits.max_train else "."),
        f"- Submissions left today: {status.submissions_left_today} of {limits.daily_submissions} (the day is UTC).",
        f"- Closes: {closes:%Y-%m-%d %H:%M} UTC." if closes else "- Closes when the instructor closes it.",
    ]
    st.markdown("\n".join(lines))


def _defaults(spec: ChallengeSpec) -> dict[str, object]:
    """The preset's values for the form's widgets, held to the challenge's caps (what a blank submission trains)."""
    preset = PRESETS[spec.preset]
    config, limits = preset.config, spec.limits
    limit_train = config.limit_train or limits.max_train
    if limits.max_train:
        limit_train = min(limit_train, limits.max_train)
    return {
        "epochs": min(config.epochs, limits.max_epochs, train_limits().max_epochs),
        "batch_size": config.batch_size,
        "learning_rate": preset.spec.learning_rate,
        "lr_schedule": config.lr_schedule,
        "augmentation": config.augmentation,
        "label_smoothing": config.label_smoothing,
        "seed": config.seed,
        "limit_train": limit_train,
    }


def _setting_widget(name: str, spec: ChallengeSpec, default: object) -> object:
    """One editable setting's widget, bounded by the challenge's cap and the server's limits (the validators')."""
    limits, server = spec.limits, train_limits()
    key = f"classroom_set_{name}"
    if name == "epochs":
        return st.number_input("Epochs", 1, min(limits.max_epochs, server.max_epochs), default, key=key)
    if name == "batch_size":
        return st.number_input("Batch size", 1, server.max_batch_size, default, key=key)
    if name == "learning_rate":
        most = spec_limits().max_learning_rate
        return st.number_input("Learning rate", 1e-6, most, default, step=1e-4, format="%g", key=key)
    if name == "lr_schedule":
        return st.selectbox("LR schedule", LR_SCHEDULES, index=LR_SCHEDULES.index(default), key=key)
    if name == "augmentation":
        return st.checkbox("Augmentation (random shifts, rotations, zoom)", value=bool(default), key=key)
    if name == "label_smoothing":
        return st.number_input("Label smoothing", 0.0, server.max_label_smoothing, default, step=0.05, key=key)
    if name == "seed":
        return st.number_input("Seed", 0, server.max_seed, default, key=key)
    if name == "limit_train":
        if limits.max_train:
            return st.number_input("Training images", 1, limits.max_train, default, step=100, key=key)
        return st.number_input("Training images (0 = all)", 0, None, default, step=100, key=key)
    raise ValueError(f"no widget for {name}")


def _submission_form(challenge_id: str, token: str, spec: ChallengeSpec) -> None:
    defaults = _defaults(spec)
    with st.form(FORM_KEY):
        st.markdown("**A submission**: one training within the locks, scored on the public part of the test set.")
        settings: dict[str, object] = {}
        for name in spec.limits.editable:
            if name == "architecture":
                text = st.text_area(
                    "Architecture (a model spec as JSON; empty = the challenge's model)",
                    key="classroom_set_architecture",
                    max_chars=20_000,
                )
                settings["architecture"] = text
            else:
                settings[name] = _setting_widget(name, spec, defaults[name])
        submitted = st.form_submit_button("Submit", type="primary")
    if submitted:
        _submit(challenge_id, token, settings)


def _submit(challenge_id: str, token: str, settings: dict[str, object]) -> None:
    architecture = settings.pop("architecture", "")
    if isinstance(architecture, str) and architecture.strip():
        try:
            settings["architecture"] = load_json(architecture)
        except ValueError as error:
            st.error(components.plain(f"The architecture is not JSON: {error}"))
            return
    place = st.empty()
    bar = st.progress(0.0, text="Submitted: waiting for a place in the queue…")
    started = time.perf_counter()

    def placed(ahead: int) -> None:  # as soon as the submission has its slot, trained or served from the store
        said = f"Queue position: {ahead} of the class's submissions ahead of yours."
        st.session_state[QUEUE_SAID_KEY] = said  # shown again beside the score after the page redraws
        place.info(said)

    def progress(event) -> None:
        elapsed = time.perf_counter() - started
        if event.stage == "queued":
            bar.progress(
                0.0,
                text=f"Waiting for a free training slot on this server — position "
                f"{event.metrics['position']} · {elapsed:.0f} s",
            )
        elif event.stage in ("start", "epoch"):
            bar.progress(event.fraction_done, text=f"Training: epoch {event.epoch}/{event.epochs} · {elapsed:.0f} s")

    st.session_state.pop(QUEUE_SAID_KEY, None)
    try:
        outcome = service.submit(challenge_id, token, settings, progress=progress, placed=placed)
    except DigitLabError as error:
        bar.empty()
        st.error(components.plain(str(error)))
        return
    bar.progress(1.0, text="Scored" + (" (an identical submission was trained before)" if outcome.cached else ""))
    st.session_state[OUTCOME_KEY] = outcome
    st.rerun()  # drawn again from the top: the locks' "submissions left today" and the boards include this one


def _last_outcome() -> None:
    outcome = st.session_state.get(OUTCOME_KEY)
    if outcome is None:
        return
    with st.container(border=True):
        st.markdown("**Your last submission**")
        if st.session_state.get(QUEUE_SAID_KEY):
            st.caption(components.plain(st.session_state[QUEUE_SAID_KEY]))
        left, right = st.columns(2)
        left.metric("Public accuracy", percent(outcome.public_score))
        right.metric("Board shows", percent(outcome.board_score))
        shown = "New best on the board." if outcome.released else "Not released to the board."
        st.markdown(f"{shown} {components.plain(outcome.board_reason)}")
        for notice in outcome.notices:
            st.info(components.plain(notice))
        st.caption(f"{outcome.submissions_left_today} submission(s) left today.")


RUN_LINK_HELP = "Open this submission's run on Evaluate: scores, confusion and mistakes on the public part only."


def _run_link(row: dict) -> str | None:
    """Evaluate's link to a scored submission's run (a relative address: this app's own page), else None."""
    run_id = row.get("run_id")
    if row.get("status") != "scored" or not isinstance(run_id, str) or not run_id.isalnum():
        return None
    return f"evaluate?run={run_id}"


def _history(challenge_id: str, token: str, closed: bool) -> None:
    history = service.student_history(challenge_id, token)
    st.markdown("#### Your submissions")
    if not history.submissions:
        st.caption("None yet.")
        return
    rows = [
        {
            "submitted (UTC)": row["created"][:19].replace("T", " "),
            "status": row["status"],
            "public accuracy": percent(row["public_accuracy"]),
            **({"private accuracy": percent(row["private_accuracy"])} if closed else {}),
            "message": row["message"] or "",
            # The run on the public part, opened on Evaluate (and from there Inspect, Explain): every number those
            # pages show is computed on the public view only. A server showing the Classroom alone has no Evaluate.
            **({} if settings.classroom_only() else {"run": _run_link(row)}),
        }
        for row in history.submissions
    ]
    st.dataframe(
        pd.DataFrame(rows),
        hide_index=True,
        column_config={"run": st.column_config.LinkColumn("run", display_text="Evaluate", help=RUN_LINK_HELP)},
    )
    _closer_look(challenge_id, token, history, closed)
    if not closed:
        st.caption("Private scores are shown after the challenge closes.")
        _final_choice(challenge_id, token, history)


def _closer_look(challenge_id: str, token: str, history: service.StudentHistory, closed: bool) -> None:
    """One scored submission's confusion and per-class scores, from what scoring stored (no run is opened): the
    view a server showing the Classroom alone gives instead of Evaluate. The private part's only after close."""
    scored = [row for row in history.submissions if row["status"] == "scored"]
    if not scored:
        return
    labels = {
        row["submission_id"]: f"{row['created'][:19].replace('T', ' ')} — public {percent(row['public_accuracy'])}"
        for row in reversed(scored)  # the newest first
    }
    with st.expander("Where a submission errs: its confusion matrix and per-class scores"):
        chosen = st.selectbox("Submission", list(labels), format_func=labels.__getitem__, key="classroom_closer_look")
        try:
            detail = service.student_submission(challenge_id, token, chosen)
        except DigitLabError as error:
            st.error(components.plain(str(error)))
            return
        parts = ["public", "private"] if closed else ["public"]
        names = [components.plain(name, chart=True) for name in detail.class_names]
        for column, part in zip(st.columns(len(parts)), parts, strict=True):
            report = detail.report(part)
            if report is None:
                column.warning(
                    f"This submission's {part} part confusion record is missing or damaged; nothing to show."
                )
                continue
            column.plotly_chart(
                confusion_heatmap(detail.confusion(part), names, title=f"Confusion on the {part} part"),
                key=f"classroom_closer_{part}",
            )
            column.dataframe(report.round(4), key=f"classroom_closer_report_{part}")


DEFAULT_FINAL = "best on the public board (default)"


def _final_choice(challenge_id: str, token: str, history: service.StudentHistory) -> None:
    """Which submission the private board ranks at close: the default, or one the student picks while it is open."""
    scored = [row for row in history.submissions if row["status"] == "scored"]
    if not scored:
        return
    labels = {DEFAULT_FINAL: None} | {
        f"{row['created'][:19].replace('T', ' ')} · public {percent(row['public_accuracy'])}": row["submission_id"]
        for row in scored
    }
    current = next(
        (
            label
            for label, sid in labels.items()
            if sid and any(row["final"] and row["submission_id"] == sid for row in scored)
        ),
        DEFAULT_FINAL,
    )
    picked = st.selectbox(
        "Final submission for the private board",
        list(labels),
        index=list(labels).index(current),
        key="classroom_final",
        help="At close the private board ranks this one. Choose before the challenge closes.",
    )
    if picked != current:
        try:
            service.choose_final(challenge_id, token, labels[picked])
        except DigitLabError as error:
            st.error(components.plain(str(error)))
            return
        st.toast(f"Final submission: {picked}")


# ------------------------------------------------------------------------------------------------ boards


def boards_section(board: service.Boards, for_instructor: bool) -> None:
    """The public board with the Ladder's rule under it; the private board when the engine returned it (after
    close, or any time for the instructor, labelled so)."""
    st.markdown("#### Public board")
    if board.public:
        st.dataframe(
            pd.DataFrame(
                [
                    {
                        "rank": r.rank,
                        "student": r.student,
                        "shown accuracy": percent(r.shown_accuracy),
                        "submissions": r.submissions,
                    }
                    for r in board.public
                ]
            ),
            hide_index=True,
        )
    else:
        st.caption("No scored submission yet.")
    st.caption(f"{board.public_images:,} public test images. {RULE_TEXT}")
    if board.private is None:
        return
    label = "Private board" + (" — students see it after close" if for_instructor and not board.closed else "")
    st.markdown(f"#### {label}")
    if not board.private:
        st.caption("No final submission yet.")
        return
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "rank": r.rank,
                    "student": r.student,
                    "private accuracy": percent(r.private_accuracy),
                    "final submission": "chosen" if r.chosen else "best public (default)",
                }
                for r in board.private
            ]
        ),
        hide_index=True,
    )
    st.caption(f"{board.private_images:,} private test images.")

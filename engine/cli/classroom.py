"""`digit-lab challenge create|join|show|leaderboard|close|export` and `digit-lab submit`: the classroom from a shell.

Tokens may come from the environment instead of the command line (DIGIT_LAB_INSTRUCTOR_TOKEN,
DIGIT_LAB_STUDENT_TOKEN, DIGIT_LAB_JOIN_TOKEN), so they stay out of shell history and process lists; a token given
neither way is a one-line refusal. Output never repeats a token except the ones `create` and `join` make, once.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from engine.classroom.database import ClassroomError
from engine.classroom.spec import DEFAULT_EDITABLE, ChallengeLimits, ChallengeSpec, random_split_seed
from engine.textfiles import load_json, read_regular_file, spec_text

TOKEN_VARIABLES = {
    "instructor": "DIGIT_LAB_INSTRUCTOR_TOKEN",
    "student": "DIGIT_LAB_STUDENT_TOKEN",
    "join": "DIGIT_LAB_JOIN_TOKEN",
}


def _add_challenge(commands: argparse._SubParsersAction) -> None:
    challenge = commands.add_parser(
        "challenge", help="a classroom challenge: create, join, show, boards, close, export"
    )
    actions = challenge.add_subparsers(dest="action", required=True)

    create = actions.add_parser("create", help="a new challenge; prints its id, links and the instructor token")
    create.add_argument("--dataset", required=True)
    create.add_argument("--title", required=True)
    create.add_argument("--instructions", default="", help="plain text shown to students")
    create.add_argument("--preset", default=ChallengeSpec.preset, help="the starting model and recipe")
    create.add_argument("--max-epochs", type=int, default=ChallengeLimits.max_epochs)
    create.add_argument("--max-parameters", type=int, default=ChallengeLimits.max_parameters)
    create.add_argument("--max-train", type=int, default=ChallengeLimits.max_train, help="0 = the whole split")
    create.add_argument("--daily-submissions", type=int, default=ChallengeLimits.daily_submissions)
    create.add_argument("--editable", default=",".join(DEFAULT_EDITABLE), help="settings students may change")
    create.add_argument("--closes", default="", help="closing time, ISO 8601 with a zone (2026-12-24T18:00Z)")
    create.add_argument("--private-fraction", type=float, default=ChallengeSpec.private_fraction)
    create.add_argument("--split-seed", type=int, help="seeds the hidden split (default: drawn at random)")
    create.add_argument("--roster", help="a CSV of student names: one secret link each")
    create.add_argument("--no-join", action="store_true", help="no join link: the roster's students only")
    create.add_argument("--json", action="store_true")
    create.set_defaults(handler=_create)

    join = actions.add_parser("join", help="join a challenge under a display name (the join link's token)")
    join.add_argument("challenge_id")
    join.add_argument("--name", required=True)
    join.add_argument("--join", dest="join_token", help=f"the join token (or {TOKEN_VARIABLES['join']})")
    join.add_argument("--json", action="store_true")
    join.set_defaults(handler=_join)

    final = actions.add_parser("final", help="choose your final submission for the private board (a student)")
    final.add_argument("challenge_id")
    final.add_argument("--student", help=f"the student's token (or {TOKEN_VARIABLES['student']})")
    choice = final.add_mutually_exclusive_group(required=True)
    choice.add_argument("--submission", help="one of your scored submissions")
    choice.add_argument("--default", action="store_true", help="your best on the public board (the default)")
    final.add_argument("--json", action="store_true")
    final.set_defaults(handler=_final)

    for action, text in (
        ("show", "the challenge's settings, and the student's own submissions or the class summary"),
        ("leaderboard", "the public board (and the private one once closed, or for the instructor)"),
        ("close", "close the challenge: no more submissions; the private board opens"),
        ("export", "the grades as CSV (instructor)"),
    ):
        verb = actions.add_parser(action, help=text)
        verb.add_argument("challenge_id")
        verb.add_argument("--token", help=f"the instructor's token (or {TOKEN_VARIABLES['instructor']})")
        if action == "show":
            verb.add_argument("--student", help=f"a student's token (or {TOKEN_VARIABLES['student']})")
            verb.add_argument(
                "--submission",
                help="with a student's token: one of their submissions, closer (its confusion matrices and per-class "
                "scores; the private part's after close)",
            )
        if action == "export":
            verb.add_argument("--output", help="write the CSV here instead of stdout")
        verb.add_argument("--json", action="store_true")
        verb.set_defaults(handler=_HANDLERS[action])


def _add_submit(commands: argparse._SubParsersAction) -> None:
    submit = commands.add_parser("submit", help="train one submission to a challenge within its locks")
    submit.add_argument("--challenge", required=True)
    submit.add_argument("--student", help=f"the student's token (or {TOKEN_VARIABLES['student']})")
    submit.add_argument("--architecture", help="a model spec as a JSON file path or JSON text")
    submit.add_argument("--epochs", type=int)
    submit.add_argument("--batch-size", type=int)
    submit.add_argument("--lr", "--learning-rate", dest="learning_rate", type=float)
    submit.add_argument("--lr-schedule")
    submit.add_argument("--augmentation", action=argparse.BooleanOptionalAction, default=None)
    submit.add_argument("--label-smoothing", type=float)
    submit.add_argument("--seed", type=int)
    submit.add_argument("--limit-train", type=int)
    submit.add_argument("--json", action="store_true")
    submit.set_defaults(handler=_submit)


def _token(given: str | None, who: str) -> str:
    token = given or os.environ.get(TOKEN_VARIABLES[who], "")
    if not token:
        raise ClassroomError(
            f"This needs the {who} token: --{'token' if who == 'instructor' else who} or {TOKEN_VARIABLES[who]}."
        )
    return token


def _print(args: argparse.Namespace, data: Any, text: str) -> None:
    print(json.dumps(data, default=str) if args.json else text)


def _create(args: argparse.Namespace) -> None:
    from engine.classroom.roster import MAX_ROSTER_BYTES, InvalidRoster, read_roster
    from engine.classroom.service import create_challenge

    spec = ChallengeSpec.from_dict(
        {
            "dataset": args.dataset,
            "title": args.title,
            "instructions": args.instructions,
            "preset": args.preset,
            "limits": {
                "max_epochs": args.max_epochs,
                "max_parameters": args.max_parameters,
                "max_train": args.max_train,
                "daily_submissions": args.daily_submissions,
                "editable": [name.strip() for name in args.editable.split(",") if name.strip()],
            },
            "closes_at": args.closes,
            "private_fraction": args.private_fraction,
            "split_seed": random_split_seed() if args.split_seed is None else args.split_seed,
        }
    )
    roster: tuple[str, ...] = ()
    if args.roster:
        # The bytes as they are: the roster's own reader says where a file is not UTF-8 (line and byte).
        try:
            raw = read_regular_file(args.roster, max_bytes=MAX_ROSTER_BYTES, follow_links=True)
        except OSError as problem:
            raise InvalidRoster(
                f"--roster {args.roster[:200]}: {problem.strerror or problem}; give a CSV file."
            ) from None
        roster = read_roster(raw)
    created = create_challenge(spec, roster=roster, open_joining=not args.no_join)
    lines = [
        f"challenge {created.challenge_id}: {spec.title}",
        f"public test images {created.public_images}, private {created.private_images} (hidden until close)",
        f"instructor token (keep it secret; shown once): {created.instructor_token}",
        f"instructor link: {created.instructor_link}",
    ]
    if created.student_link:
        lines.append(f"student link (join under a display name): {created.student_link}")
    lines += [f"student {link.name}: {link.link}" for link in created.students]
    _print(args, created.to_dict(), "\n".join(lines))


def _join(args: argparse.Namespace) -> None:
    from engine.classroom.service import join

    joined = join(args.challenge_id, _token(args.join_token, "join"), args.name)
    _print(args, asdict(joined), f"joined as {joined.name}; your link (keep it, it is your login): {joined.link}")


def _final(args: argparse.Namespace) -> None:
    from engine.classroom.service import choose_final

    chosen = None if args.default else args.submission
    choose_final(args.challenge_id, _token(args.student, "student"), chosen)
    said = "your best on the public board (the default)" if chosen is None else f"submission {chosen}"
    _print(args, {"challenge_id": args.challenge_id, "final": chosen}, f"final for the private board: {said}")


def _show(args: argparse.Namespace) -> None:
    from engine.classroom.service import class_summary, classroom_db, student_history, student_submission

    record = classroom_db().get_challenge(args.challenge_id)
    if record is None:
        raise ClassroomError(f"No challenge {args.challenge_id[:40]!r}.")
    spec = record.spec
    data: dict[str, Any] = {
        "challenge_id": record.challenge_id,
        "closed": record.is_closed(datetime.now(UTC)),
    }
    student = args.student or os.environ.get(TOKEN_VARIABLES["student"])
    if student:
        data["history"] = asdict(student_history(args.challenge_id, student))
        data["spec"] = spec.student_dict()  # after the token is checked; without the split's seed
        if args.submission:
            data["submission"] = _submission_detail(student_submission(args.challenge_id, student, args.submission))
    elif args.submission:
        raise ClassroomError("--submission looks at one of a student's own submissions: it needs --student.")
    else:
        data["spec"] = spec.to_dict()
        data["summary"] = asdict(class_summary(args.challenge_id, _token(args.token, "instructor")))
    text = f"{spec.title} ({'closed' if data['closed'] else 'open'}) on {spec.dataset}, preset {spec.preset}"
    shown = data.get("submission") or data.get("history") or data.get("summary")
    _print(args, data, text + "\n" + json.dumps(shown, default=str, indent=1))


def _submission_detail(detail: Any) -> dict[str, Any]:
    """A submission's detail with each part's per-class scores (the page's table), as JSON values."""
    data = asdict(detail)
    for part in ("public", "private"):
        report = detail.report(part)
        data[f"{part}_report"] = None if report is None else json.loads(report.to_json(orient="index"))
    return data


def _leaderboard(args: argparse.Namespace) -> None:
    from engine.classroom.service import boards

    token = args.token or os.environ.get(TOKEN_VARIABLES["instructor"]) or None
    board = boards(args.challenge_id, token)
    lines = [f"{board.title}: public board ({board.public_images} public test images)"]
    lines += [f"{row.rank:>3}. {row.student}  {row.shown_accuracy:.4f}" for row in board.public]
    if board.private is not None:
        lines.append("private board:")
        lines += [
            f"{row.rank:>3}. {row.student}  " + ("-" if row.private_accuracy is None else f"{row.private_accuracy:.4f}")
            for row in board.private
        ]
    lines.append(board.rule)
    _print(args, board.to_dict(), "\n".join(lines))


def _close(args: argparse.Namespace) -> None:
    from engine.classroom.service import close

    record = close(args.challenge_id, _token(args.token, "instructor"))
    _print(args, {"challenge_id": record.challenge_id, "closed_at": record.closed_at}, f"closed at {record.closed_at}")


def _export(args: argparse.Namespace) -> None:
    from engine.classroom.service import export_grades
    from engine.reports.writer import write_output_file

    grades = export_grades(args.challenge_id, _token(args.token, "instructor"))
    if args.output:
        write_output_file(args.output, grades.encode("utf-8"), "the grades", "grades.csv")
        _print(args, {"output": args.output, "rows": grades.count("\n") - 1}, f"wrote {args.output}")
    elif args.json:
        print(json.dumps({"csv": grades}))
    else:
        sys.stdout.write(grades)


def _submit(args: argparse.Namespace) -> None:
    from engine.classroom.service import submit

    settings: dict[str, object] = {
        name: value
        for name, value in (
            ("epochs", args.epochs),
            ("batch_size", args.batch_size),
            ("learning_rate", args.learning_rate),
            ("lr_schedule", args.lr_schedule),
            ("augmentation", args.augmentation),
            ("label_smoothing", args.label_smoothing),
            ("seed", args.seed),
            ("limit_train", args.limit_train),
        )
        if value is not None
    }
    if args.architecture:
        settings["architecture"] = load_json(spec_text(args.architecture))
    outcome = submit(args.challenge, _token(args.student, "student"), settings)
    text = [
        f"submission {outcome.submission_id}: run {outcome.run_id}, public accuracy {outcome.public_score:.4f}",
        f"board: {outcome.board_reason}",
        f"{outcome.submissions_left_today} submission(s) left today",
        *outcome.notices,
    ]
    _print(args, outcome.to_dict(), "\n".join(text))


_HANDLERS = {"show": _show, "leaderboard": _leaderboard, "close": _close, "export": _export}
COMMANDS = {"challenge": _add_challenge, "submit": _add_submit}

"""What the CLI and the Classroom page call: create a challenge, let students in, take their submissions, draw the
boards, close, export. Every action checks its token first and says plainly what it refuses.

Who sees what (the hidden split's promise): a student's run is trained and stored on the challenge's public view
(`scoring.public_view`), so whatever reads the run store shows the public part only, and whatever reloads the run's
data by the name in its meta gets that view again (`record_public_view`, `engine.datasets.views`); the private part's
scores live in the database alone and leave this module for a student only once the challenge is closed. The
instructor (their token) sees everything at any time. Tokens are never stored, logged or returned except once, to the
one they belong to.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import os
import secrets
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import numpy as np

from engine.classroom.database import (
    ChallengeRecord,
    ClassroomDB,
    ClassroomError,
    StudentRecord,
    SubmissionRecord,
    database_url,
)
from engine.classroom.ladder import RULE_TEXT, BoardRow, LadderStep, PrivateRow, ladder, private_board, public_board
from engine.classroom.roster import check_display_name, read_roster, spreadsheet_cell
from engine.classroom.scoring import (
    SubmissionRequest,
    build_locked_request,
    public_view,
    public_view_name,
    score_locked,
)
from engine.classroom.spec import ChallengeSpec, InvalidChallenge, check_challenge_spec
from engine.classroom.split import HiddenSplit, hidden_split
from engine.classroom.tokens import looks_like_token, new_token, token_digest, tokens_match
from engine.datasets import Dataset, load_dataset, views
from engine.errors import DatasetUnavailable
from engine.executors import configured_executor
from engine.progress import ProgressCallback, ProgressEvent
from engine.runs import preset_request, run_id_for
from engine.store.disk import disk_guard, write_json_atomically
from engine.textfiles import load_json
from engine.training.data import transformed_dataset

CLASSROOM_PAGE = "classroom"  # the Classroom page's url_path (dashboard/Home.py)
PUBLIC_URL_VARIABLE = "DIGIT_LAB_PUBLIC_URL"  # where students open the app, for the links handed out
DEFAULT_PUBLIC_URL = "http://localhost:8501"
# One refusal for an unknown challenge and a wrong token alike: which challenge ids exist is not told to guessers.
NOT_YOURS = "No such challenge, or the token is not this challenge's {who} token."


# ------------------------------------------------------------------------------------------------ the database


_databases: dict[str, ClassroomDB] = {}
_databases_lock = threading.Lock()


def classroom_db(url: str | None = None) -> ClassroomDB:
    """The database for `url` (default: DIGIT_LAB_DATABASE_URL, else SQLite under the cache), opened and migrated once
    per process and shared: the engine's connection pool is thread-safe, and 100 students share one server."""
    resolved = database_url(url)
    with _databases_lock:
        db = _databases.get(resolved)
        if db is None:
            db = _databases[resolved] = ClassroomDB.open(resolved)
        return db


def _db(db: ClassroomDB | None) -> ClassroomDB:
    return db if db is not None else classroom_db()


# ------------------------------------------------------------------------------------------------ links


def public_url() -> str:
    return os.environ.get(PUBLIC_URL_VARIABLE, DEFAULT_PUBLIC_URL).rstrip("/")


def classroom_link(challenge_id: str, **tokens: str) -> str:
    """The Classroom page's link for `challenge_id` with the given token (join=, student= or instructor=)."""
    return f"{public_url()}/{CLASSROOM_PAGE}?{urlencode({'challenge': challenge_id, **tokens})}"


# ------------------------------------------------------------------------------------------------ the challenge's data


@functools.lru_cache(maxsize=16)
def _split_for(dataset_name: str, fingerprint: str, fraction: float, seed: int) -> HiddenSplit:
    return hidden_split(load_dataset(dataset_name).y_test, fraction, seed)


def challenge_data(spec: ChallengeSpec) -> tuple[Dataset, HiddenSplit]:
    """The challenge's dataset and its hidden split (the same seed, the same split: recomputed, never stored)."""
    dataset = load_dataset(spec.dataset)
    return dataset, _split_for(spec.dataset, dataset.fingerprint, spec.private_fraction, spec.split_seed)


def record_public_view(challenge_id: str, spec: ChallengeSpec, dataset: Dataset) -> None:
    """Keep the record (`engine.datasets.views`) by which any process loads the challenge's public view by its name,
    the name its submissions' runs carry: Evaluate, Inspect, Explain, Compare, reports and the CLI then show those
    runs on the public part. Written through the store's one atomic JSON writer; a record already there that says
    the same is left alone, any other (damaged, or replaced by hand) is written again. The record holds the split
    seed: it stays in the server's cache, as the database does, and is never shown."""
    name = public_view_name(dataset.name, challenge_id)
    path = views.record_path(name)
    record = views.record_for(dataset, spec.private_fraction, spec.split_seed)
    try:
        if views.read_record(name) == record:
            return
    except DatasetUnavailable:
        pass  # absent or unusable: (re)written below
    with disk_guard(path.parent, f"the record of {name}", "set DIGIT_LAB_CACHE to a folder", ClassroomError):
        write_json_atomically(path, record.to_dict())


# ------------------------------------------------------------------------------------------------ create


@dataclass(frozen=True)
class StudentLink:
    name: str  # untrusted text (a roster): shown only as plain text
    link: str  # carries the student's token: hand it to that student only


@dataclass(frozen=True)
class CreatedChallenge:
    challenge_id: str
    instructor_token: str  # shown once; only its digest is kept
    instructor_link: str
    student_link: str  # the join link (anyone with it joins under a display name); "" when joining is roster-only
    students: tuple[StudentLink, ...]  # one secret link per roster name
    public_images: int
    private_images: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def create_challenge(
    spec: ChallengeSpec,
    roster: Sequence[str] = (),
    open_joining: bool = True,
    db: ClassroomDB | None = None,
    now: datetime | None = None,
) -> CreatedChallenge:
    """A new challenge: its settings checked, its data and preset tried (a challenge no student could submit to is
    refused now, not at the first submission), its tokens made. Returns the tokens once; the database keeps digests."""
    spec = check_challenge_spec(spec)
    if not open_joining and not roster:
        raise InvalidChallenge("A challenge needs a roster or open joining (a join link); it has neither.")
    dataset, split = challenge_data(spec)
    challenge_id = secrets.token_hex(8)
    view = public_view(dataset, split, challenge_id)
    preset_request(spec.preset, view)  # InvalidSpec when the preset does not fit this data
    record_public_view(challenge_id, spec, dataset)  # before the challenge exists: none is ever without its view
    instructor_token = new_token()
    join_token = new_token() if open_joining else None
    store = _db(db)
    store.create_challenge(
        challenge_id,
        json.dumps(spec.to_dict()),
        token_digest(instructor_token),
        token_digest(join_token) if join_token else None,
        now=now,
    )
    students = tuple(_add_student(store, challenge_id, name, now) for name in roster)
    return CreatedChallenge(
        challenge_id=challenge_id,
        instructor_token=instructor_token,
        instructor_link=classroom_link(challenge_id, instructor=instructor_token),
        student_link=classroom_link(challenge_id, join=join_token) if join_token else "",
        students=students,
        public_images=len(split.public),
        private_images=len(split.private),
    )


def _add_student(store: ClassroomDB, challenge_id: str, name: str, now: datetime | None) -> StudentLink:
    token = new_token()
    store.add_student(challenge_id, secrets.token_hex(8), name, token_digest(token), now=now)
    return StudentLink(name, classroom_link(challenge_id, student=token))


# ------------------------------------------------------------------------------------------------ who is asking


def instructor_challenge(challenge_id: str, token: object, db: ClassroomDB | None = None) -> ChallengeRecord:
    record = _db(db).get_challenge(challenge_id) if isinstance(challenge_id, str) else None
    if record is None or not tokens_match(token, record.instructor_digest):
        raise ClassroomError(NOT_YOURS.format(who="instructor"))
    return record


def student_of(challenge_id: str, token: object, db: ClassroomDB | None = None) -> StudentRecord:
    """The student whose token this is; one refusal for every way it can be wrong (shape, challenge, token)."""
    store = _db(db)
    if not looks_like_token(token) or not isinstance(challenge_id, str):
        raise ClassroomError(NOT_YOURS.format(who="student"))
    student = store.student_by_digest(challenge_id, token_digest(token))
    if student is None or not tokens_match(token, student.token_digest):
        raise ClassroomError(NOT_YOURS.format(who="student"))
    return student


def add_roster(
    challenge_id: str, instructor_token: object, raw_csv: bytes, db: ClassroomDB | None = None
) -> tuple[StudentLink, ...]:
    """The instructor's roster (a CSV of names, validated) as one secret link per student."""
    store = _db(db)
    instructor_challenge(challenge_id, instructor_token, store)
    return tuple(_add_student(store, challenge_id, name, None) for name in read_roster(raw_csv))


def join_challenge(
    challenge_id: str, join_token: object, db: ClassroomDB | None = None, now: datetime | None = None
) -> ChallengeSpec:
    """The challenge a join link opens (its title, instructions and locks, for the join form), refused as `join`
    refuses: a wrong or closed link shows nothing of the challenge."""
    record = _db(db).get_challenge(challenge_id) if isinstance(challenge_id, str) else None
    if record is None or record.join_digest is None or not tokens_match(join_token, record.join_digest):
        raise ClassroomError("No such challenge, or this join link is not (or no longer) valid.")
    if record.is_closed(now or datetime.now(UTC)):
        raise ClassroomError(f"Challenge {challenge_id} is closed; it takes no new students.")
    return record.spec


@dataclass(frozen=True)
class StudentStatus:
    """What a student's page shows above the submission form: who, the challenge's locks, what is left today."""

    name: str  # untrusted text: shown only as plain text
    spec: ChallengeSpec
    closed: bool
    submissions_left_today: int


def student_status(
    challenge_id: str, student_token: object, db: ClassroomDB | None = None, now: datetime | None = None
) -> StudentStatus:
    store = _db(db)
    now = now or datetime.now(UTC)
    student = student_of(challenge_id, student_token, store)
    record = store.get_challenge(challenge_id)
    assert record is not None  # student_of found a student of this challenge
    spec = record.spec
    left = _left_today(spec, store.submissions(challenge_id, student.student_id), now)
    return StudentStatus(student.display_name, spec, record.is_closed(now), left)


def waiting_submission(challenge_id: str, student_token: object, db: ClassroomDB | None = None) -> str | None:
    """The student's submission that is queued or training now (for its queue position while it waits), if any."""
    store = _db(db)
    student = student_of(challenge_id, student_token, store)
    waiting = [r for r in store.submissions(challenge_id, student.student_id) if r.status in ("queued", "training")]
    return max(waiting, key=lambda r: r.created_at).submission_id if waiting else None


@dataclass(frozen=True)
class JoinedStudent:
    student_id: str
    name: str
    token: str  # shown once to the student: their link is how they come back
    link: str


def join(
    challenge_id: str, join_token: object, name: str, db: ClassroomDB | None = None, now: datetime | None = None
) -> JoinedStudent:
    """Someone with the join link joins under a display name (checked like a roster name)."""
    store = _db(db)
    join_challenge(challenge_id, join_token, store, now)
    if not isinstance(name, str):
        raise ClassroomError("A display name is text.")
    checked = check_display_name(name)
    token = new_token()
    student = store.add_student(challenge_id, secrets.token_hex(8), checked, token_digest(token), now=now)
    return JoinedStudent(student.student_id, student.display_name, token, classroom_link(challenge_id, student=token))


# ------------------------------------------------------------------------------------------------ submit


@dataclass(frozen=True)
class SubmissionOutcome:
    submission_id: str
    run_id: str
    status: str  # "scored" or "failed"
    public_score: float | None  # accuracy on the public part
    private_score: float | None  # only once the challenge is closed (None before, whoever asks)
    board_score: float | None  # what the public board shows for this student after this submission (the Ladder)
    released: bool  # whether this submission became the student's shown best
    board_reason: str  # the Ladder's plain-text reason (no hidden numbers)
    cached: bool  # trained before (an identical submission): served from the run store
    message: str = ""  # why it failed
    notices: tuple[str, ...] = ()  # settings used instead of what was asked, and why
    submissions_left_today: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def day_start(now: datetime) -> datetime:
    """The daily cap counts from midnight UTC: one day for the whole class, wherever its students are."""
    return now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def _left_today(spec: ChallengeSpec, mine: Sequence[SubmissionRecord], now: datetime) -> int:
    """Submissions the student has left today, counted as the database's cap counts them (`reserve_submission`):
    since midnight UTC, a failed training costing nothing."""
    used = sum(1 for r in mine if r.created_at >= day_start(now) and r.status != "failed")
    return max(0, spec.limits.daily_submissions - used)


def submit(
    challenge_id: str,
    student_token: object,
    settings: dict[str, object],
    db: ClassroomDB | None = None,
    progress: ProgressCallback | None = None,
    now: datetime | None = None,
    placed: Callable[[int], None] | None = None,
) -> SubmissionOutcome:
    """Train one submission within the challenge's locks, score it on both parts, keep the scores.

    Order matters for fairness: the token, the closing time and the locks are checked before a daily slot is taken;
    the slot is taken atomically (the database counts and inserts in one transaction), then the run trains.
    `placed` hears the submission's queue position (submissions of the class waiting or training before it) as soon
    as it has its slot, before anything trains or is looked up."""
    store = _db(db)
    now = now or datetime.now(UTC)
    student = student_of(challenge_id, student_token, store)
    record = store.get_challenge(challenge_id)
    assert record is not None  # student_of found a student of this challenge
    if record.is_closed(now):
        raise ClassroomError(f"Challenge {challenge_id} is closed; it takes no more submissions.")
    spec = record.spec
    # "ray": the run trains on the Ray cluster through a job driver; scoring stays here (the private part's scores
    # never leave this process). Checked before a daily slot is taken, like everything that can refuse.
    executor = configured_executor()
    dataset, split = challenge_data(spec)
    view = public_view(dataset, split, challenge_id)
    record_public_view(challenge_id, spec, dataset)  # a challenge made before views were recorded gets its record
    request = SubmissionRequest(dict(settings))
    locked = build_locked_request(spec, view, request)  # InvalidChallenge / InvalidConfig before a slot is used
    run_id = run_id_for(view, locked.spec, locked.config)
    submission = store.reserve_submission(
        challenge_id,
        student.student_id,
        secrets.token_hex(8),
        run_id,
        day_start(now),
        spec.limits.daily_submissions,
        now,
    )
    if placed is not None:  # every submission, trained or served from the store, learns where it stands
        placed(queue_position(challenge_id, submission.submission_id, store))
    started: list[bool] = []

    def progress_and_status(event: ProgressEvent) -> bool | None:
        # "queued" until the training really starts (it may wait for the server's memory or an identical run), so
        # a queue position counts the submissions still waiting or training before this one.
        if not started and event.stage in ("start", "epoch"):
            started.append(True)
            store.record_score(submission.submission_id, "training")
        return progress(event) if progress is not None else None  # True from the caller still stops the training

    try:
        score = score_locked(
            spec,
            view,
            locked,
            dataset,
            split,
            progress=progress_and_status,
            executor=executor,
            challenge_id=challenge_id,
        )
    except Exception as error:  # noqa: BLE001 - kept as the submission's failure, then raised to the caller
        store.record_score(submission.submission_id, "failed", message=str(error)[:500])
        raise
    store.record_score(
        submission.submission_id,
        "scored",
        public_accuracy=score.public_accuracy,
        private_accuracy=score.private_accuracy,
        public_correct=np.packbits(score.public_correct.astype(bool)).tobytes(),
        confusion_json=json.dumps(score.public_confusion),
        private_confusion_json=json.dumps(score.private_confusion),
    )
    mine = store.submissions(challenge_id, student.student_id)
    step = next(s for s in _ladder_of(mine, len(split.public)) if s.submission_id == submission.submission_id)
    closed = record.is_closed(datetime.now(UTC))
    return SubmissionOutcome(
        submission_id=submission.submission_id,
        run_id=score.run_id,
        status="scored",
        public_score=score.public_accuracy,
        private_score=score.private_accuracy if closed else None,
        board_score=step.shown_accuracy,
        released=step.released,
        board_reason=step.reason,
        cached=score.cached,
        notices=score.notices,
        submissions_left_today=_left_today(spec, mine, now),
    )


# ------------------------------------------------------------------------------------------------ boards


def _correct_vector(record: SubmissionRecord, public_images: int) -> np.ndarray:
    packed = np.frombuffer(record.public_correct or b"", dtype=np.uint8)
    return np.unpackbits(packed)[:public_images].astype(bool)


def _scored(records: Sequence[SubmissionRecord]) -> list[SubmissionRecord]:
    return sorted(
        (r for r in records if r.status == "scored" and r.public_correct is not None), key=lambda r: r.created_at
    )


def _ladder_of(records: Sequence[SubmissionRecord], public_images: int) -> list[LadderStep]:
    """One student's scored submissions, in the order made, through the Ladder."""
    return ladder([(r.submission_id, _correct_vector(r, public_images)) for r in _scored(records)])


@dataclass(frozen=True)
class Boards:
    title: str
    rule: str  # the Ladder's rule in plain text, shown with the board
    public: tuple[BoardRow, ...]  # student = display name
    private: tuple[PrivateRow, ...] | None  # None until close (for students); always there for the instructor
    closed: bool
    public_images: int
    private_images: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def boards(challenge_id: str, instructor_token: object = None, db: ClassroomDB | None = None) -> Boards:
    """The public board (anyone in the class), and the private one once closed, or for the instructor any time."""
    store = _db(db)
    record = store.get_challenge(challenge_id) if isinstance(challenge_id, str) else None
    if record is None:
        raise ClassroomError(f"No challenge {str(challenge_id)[:40]!r}.")
    instructor = instructor_token is not None and tokens_match(instructor_token, record.instructor_digest)
    if instructor_token is not None and not instructor:
        raise ClassroomError(NOT_YOURS.format(who="instructor"))
    spec = record.spec
    _, split = challenge_data(spec)
    names = {s.student_id: s.display_name for s in store.students(challenge_id)}
    records = store.submissions(challenge_id)
    by_student: dict[str, list[SubmissionRecord]] = {}
    for r in _scored(records):
        by_student.setdefault(r.student_id, []).append(r)
    steps = {names[sid]: _ladder_of(rows, len(split.public)) for sid, rows in by_student.items()}
    order = {r.submission_id: r.created_at.timestamp() for r in records}
    closed = record.is_closed(datetime.now(UTC))
    private = None
    if closed or instructor:
        private_scores = {r.submission_id: r.private_accuracy for r in records if r.private_accuracy is not None}
        chosen = {names[r.student_id]: r.submission_id for r in records if r.final}
        private = tuple(private_board(steps, private_scores, chosen, order))
    return Boards(
        title=spec.title,
        rule=RULE_TEXT,
        public=tuple(public_board(steps, order)),
        private=private,
        closed=closed,
        public_images=len(split.public),
        private_images=len(split.private),
    )


# ------------------------------------------------------------------------------------------------ the instructor


def close(
    challenge_id: str, instructor_token: object, db: ClassroomDB | None = None, now: datetime | None = None
) -> ChallengeRecord:
    store = _db(db)
    instructor_challenge(challenge_id, instructor_token, store)
    return store.close_challenge(challenge_id, now or datetime.now(UTC))


def export_grades(challenge_id: str, instructor_token: object, db: ClassroomDB | None = None) -> str:
    """The grades as CSV: one row per student (the private board's order, then students with no submission). Names
    are written so a spreadsheet never runs them as formulas."""
    store = _db(db)
    instructor_challenge(challenge_id, instructor_token, store)
    board = boards(challenge_id, instructor_token, store)
    public = {row.student: row for row in board.public}
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["rank", "student", "private_accuracy", "public_board_accuracy", "final_submission", "submissions"])
    listed = set()
    for row in board.private or ():
        listed.add(row.student)
        shown = public.get(row.student)
        writer.writerow(
            [
                row.rank,
                spreadsheet_cell(row.student),
                "" if row.private_accuracy is None else f"{row.private_accuracy:.4f}",
                f"{row.shown_accuracy:.4f}",
                row.submission_id,
                shown.submissions if shown else 0,
            ]
        )
    for student in store.students(challenge_id):
        if student.display_name not in listed:
            writer.writerow(["", spreadsheet_cell(student.display_name), "", "", "", 0])
    return out.getvalue()


@dataclass(frozen=True)
class StudentHistory:
    name: str
    submissions: tuple[dict[str, Any], ...]  # created, status, public accuracy, private (instructor), run id, message


@dataclass(frozen=True)
class ClassSummary:
    """The instructor's view: how the class is doing, where it confuses, each student's history."""

    students: int
    submissions: int
    best_public: tuple[float, ...]  # each student's best public accuracy (the distribution)
    confusion: list[list[int]]  # the class's public confusion matrix, summed over each student's best submission
    most_confused: tuple[tuple[int, int, int], ...]  # (true, predicted, count), most first, off the diagonal
    histories: tuple[StudentHistory, ...]
    class_names: tuple[str, ...] = field(default=())


def challenge_class_names(spec: ChallengeSpec) -> tuple[str, ...]:
    """The classes a challenge's submissions predict: the dataset's, merged as the preset merges them (a seed 004
    preset's groups), the order of every stored confusion matrix's rows and columns."""
    dataset = load_dataset(spec.dataset)  # names only: the hidden split is not needed
    _, config = preset_request(spec.preset, dataset)
    return tuple(transformed_dataset(dataset, config.replace(limit_train=0)).class_names)


def _confusion_bounds(spec: ChallengeSpec) -> tuple[tuple[str, ...], int]:
    """(class names, test-set images) of a challenge: what a stored confusion matrix of it must fit
    (`stored_confusion`)."""
    return challenge_class_names(spec), len(load_dataset(spec.dataset).y_test)


def stored_confusion(text: str | None, classes: int, test_images: int) -> np.ndarray | None:
    """A confusion matrix kept in the database, read as untrusted: JSON no longer than a classes x classes matrix of
    64-bit counts can be, of whole, non-negative counts (no fractions, no booleans) in the class count's shape,
    counting no more images than the dataset's test set holds (a per-class report rebuilds one label pair per
    counted image); None for a missing or damaged record."""
    try:
        matrix = np.asarray(load_json(text or "[]", max_chars=24 * classes * classes + 64))
    except (ValueError, TypeError, OverflowError):
        return None
    if matrix.shape != (classes, classes) or matrix.dtype.kind not in "iu":
        return None
    # Each count checked before the sum, so a damaged record's huge counts cannot overflow it.
    if (matrix < 0).any() or (matrix > test_images).any() or matrix.sum() > test_images:
        return None
    return matrix.astype(np.int64)


def class_summary(challenge_id: str, instructor_token: object, db: ClassroomDB | None = None) -> ClassSummary:
    store = _db(db)
    record = instructor_challenge(challenge_id, instructor_token, store)
    class_names, test_images = _confusion_bounds(record.spec)
    classes = len(class_names)
    records = store.submissions(challenge_id)
    people = store.students(challenge_id)
    best: dict[str, SubmissionRecord] = {}
    for r in _scored(records):
        kept = best.get(r.student_id)
        if kept is None or (r.public_accuracy or 0) > (kept.public_accuracy or 0):
            best[r.student_id] = r
    total = np.zeros((classes, classes), dtype=np.int64)
    for r in best.values():
        matrix = stored_confusion(r.confusion_json, classes, test_images)
        if matrix is not None:
            total += matrix
    pairs = Counter(
        {(i, j): int(total[i, j]) for i in range(classes) for j in range(classes) if i != j and total[i, j] > 0}
    )
    histories = tuple(
        StudentHistory(
            person.display_name,
            tuple(
                {
                    "created": r.created_at.isoformat(),
                    "status": r.status,
                    "public_accuracy": r.public_accuracy,
                    "private_accuracy": r.private_accuracy,
                    "run_id": r.run_id,
                    "message": r.message,
                }
                for r in sorted(records, key=lambda r: r.created_at)
                if r.student_id == person.student_id
            ),
        )
        for person in people
    )
    return ClassSummary(
        students=len(people),
        submissions=len(records),
        best_public=tuple(sorted((r.public_accuracy or 0.0 for r in best.values()), reverse=True)),
        confusion=total.tolist(),
        most_confused=tuple((i, j, n) for (i, j), n in pairs.most_common(10)),
        histories=histories,
        class_names=class_names,
    )


def student_history(challenge_id: str, student_token: object, db: ClassroomDB | None = None) -> StudentHistory:
    """A student's own submissions: public scores always, private ones only after close."""
    store = _db(db)
    student = student_of(challenge_id, student_token, store)
    record = store.get_challenge(challenge_id)
    assert record is not None
    closed = record.is_closed(datetime.now(UTC))
    rows = tuple(
        {
            "submission_id": r.submission_id,
            "created": r.created_at.isoformat(),
            "status": r.status,
            "public_accuracy": r.public_accuracy,
            "private_accuracy": r.private_accuracy if closed else None,
            "run_id": r.run_id,
            "message": r.message,
            "final": r.final,
        }
        for r in sorted(store.submissions(challenge_id, student.student_id), key=lambda r: r.created_at)
    )
    return StudentHistory(student.display_name, rows)


@dataclass(frozen=True)
class SubmissionDetail:
    """One of a student's own submissions as the student may see it: the public part's confusion and per-class
    scores always, the private part's only once the challenge is closed (None before, or for a damaged record)."""

    submission_id: str
    created: str
    status: str
    class_names: tuple[str, ...]
    public_accuracy: float | None
    public_confusion: list[list[int]] | None
    private_accuracy: float | None = None
    private_confusion: list[list[int]] | None = None

    def confusion(self, part: str) -> list[list[int]] | None:
        """The confusion matrix of `part`, "public" or "private"."""
        return {"public": self.public_confusion, "private": self.private_confusion}[part]

    def report(self, part: str) -> Any:
        """`part`'s per-class precision, recall, F1 and support, read off its confusion matrix
        (`report_from_confusion`, a DataFrame); None where that part has no matrix to show."""
        from engine.evaluation import report_from_confusion  # deferred: pandas and the report's scikit-learn

        confusion = self.confusion(part)
        return None if confusion is None else report_from_confusion(confusion, self.class_names)


def _own_submission(
    store: ClassroomDB, challenge_id: str, student: StudentRecord, submission_id: object
) -> SubmissionRecord | None:
    """The student's own submission of that id, or None (another student's, unknown, or not a string)."""
    own = {r.submission_id: r for r in store.submissions(challenge_id, student.student_id)}
    return own.get(submission_id) if isinstance(submission_id, str) else None


def student_submission(
    challenge_id: str, student_token: object, submission_id: object, db: ClassroomDB | None = None
) -> SubmissionDetail:
    """A closer look at one of the student's own submissions, from what scoring stored: no run is opened, so a
    server that shows the Classroom page alone (no Evaluate) can still show a student where their model errs."""
    store = _db(db)
    student = student_of(challenge_id, student_token, store)
    record = store.get_challenge(challenge_id)
    assert record is not None
    chosen = _own_submission(store, challenge_id, student, submission_id)
    if chosen is None:
        raise ClassroomError("Only your own submissions in this challenge can be looked at.")
    class_names, test_images = _confusion_bounds(record.spec)
    closed = record.is_closed(datetime.now(UTC))

    def confusion(text: str | None) -> list[list[int]] | None:
        matrix = stored_confusion(text, len(class_names), test_images)
        return None if matrix is None or matrix.sum() == 0 else matrix.tolist()

    return SubmissionDetail(
        submission_id=chosen.submission_id,
        created=chosen.created_at.isoformat(),
        status=chosen.status,
        class_names=class_names,
        public_accuracy=chosen.public_accuracy,
        public_confusion=confusion(chosen.confusion_json),
        private_accuracy=chosen.private_accuracy if closed else None,
        private_confusion=confusion(chosen.private_confusion_json) if closed else None,
    )


def choose_final(
    challenge_id: str,
    student_token: object,
    submission_id: str | None,
    db: ClassroomDB | None = None,
    now: datetime | None = None,
) -> None:
    """The student's final submission for the private board: one of their own scored submissions, or None for the
    default (their best on the public board). Only while the challenge is open (after close, choosing would be
    choosing with the private scores in view)."""
    store = _db(db)
    student = student_of(challenge_id, student_token, store)
    if submission_id is None:
        store.choose_final(challenge_id, student.student_id, [], now=now)
        return
    chosen = _own_submission(store, challenge_id, student, submission_id)
    if chosen is None:
        raise ClassroomError("Only your own submissions in this challenge can be chosen as final.")
    if chosen.status != "scored":
        raise ClassroomError(f"Submission {submission_id} is {chosen.status}, not scored; choose a scored one.")
    store.choose_final(challenge_id, student.student_id, [submission_id], now=now)


def queue_position(challenge_id: str, submission_id: str, db: ClassroomDB | None = None) -> int:
    """How many of this challenge's submissions wait or train before this one (0 = it is training or done)."""
    records = sorted(_db(db).submissions(challenge_id), key=lambda r: r.created_at)
    waiting = [r.submission_id for r in records if r.status in ("queued", "training")]
    return waiting.index(submission_id) if submission_id in waiting else 0

"""The classroom end to end through the engine (what the CLI and the page call), on the bundled digits with tiny
trainings: a challenge made, students in by roster and by join link, submissions within the locks, the boards,
close, export. Security: every wrong token, another student's token, the cap, the closing time are refused, and no
student-facing answer holds a private score before close."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from sklearn.metrics import accuracy_score

from engine.classroom import service
from engine.classroom.database import ClassroomDB, ClassroomError
from engine.classroom.spec import ChallengeLimits, ChallengeSpec, InvalidChallenge

TINY = {"epochs": 1, "seed": 0}


@pytest.fixture
def db(tmp_path, monkeypatch):
    monkeypatch.setenv("DIGIT_LAB_CACHE", str(tmp_path / "cache"))
    database = ClassroomDB.open(f"sqlite:///{tmp_path / 'classroom.db'}")
    yield database
    database.close()


def challenge_spec(**limits: object) -> ChallengeSpec:
    chosen = {"max_epochs": 2, "max_train": 300, "daily_submissions": 3, "editable": ("epochs", "seed"), **limits}
    return ChallengeSpec("digits", "Digits, week 1", "Beat the baseline.", limits=ChallengeLimits(**chosen))


@pytest.fixture
def challenge(db):
    return service.create_challenge(challenge_spec(), roster=("Ana", "Ben"), db=db)


def token_of(link: str, key: str) -> str:
    from urllib.parse import parse_qs, urlparse

    return parse_qs(urlparse(link).query)[key][0]


def test_a_challenge_hands_out_tokens_once_and_keeps_only_digests(challenge, db):
    record = db.get_challenge(challenge.challenge_id)
    assert challenge.instructor_token not in json.dumps(record.__dict__, default=str)
    assert challenge.public_images + challenge.private_images == 360  # digits' test split
    ana, ben = challenge.students
    assert (ana.name, ben.name) == ("Ana", "Ben")
    assert token_of(ana.link, "student") != token_of(ben.link, "student")
    assert "instructor" not in ana.link and challenge.instructor_token not in challenge.student_link
    joined = service.join(challenge.challenge_id, token_of(challenge.student_link, "join"), "Cleo", db=db)
    assert service.student_of(challenge.challenge_id, joined.token, db).display_name == "Cleo"


def test_a_submission_is_scored_on_both_parts_and_the_private_one_waits_for_close(challenge, db):
    ana = token_of(challenge.students[0].link, "student")
    outcome = service.submit(challenge.challenge_id, ana, TINY, db=db)
    assert outcome.status == "scored" and outcome.private_score is None  # open: nothing private to a student
    assert outcome.released and outcome.board_score == pytest.approx(outcome.public_score, abs=1 / 180)
    history = service.student_history(challenge.challenge_id, ana, db)
    assert history.submissions[0]["private_accuracy"] is None
    board = service.boards(challenge.challenge_id, db=db)
    assert board.private is None and [row.student for row in board.public] == ["Ana"]

    # The instructor sees the private score at once, and it is the model's accuracy on the hidden images.
    from engine.store import RunStore

    instructor = service.boards(challenge.challenge_id, challenge.instructor_token, db)
    (private_row,) = instructor.private
    spec = challenge_spec()
    dataset, split = service.challenge_data(spec)
    run = RunStore().get(outcome.run_id)
    probabilities = run.load_model().predict(dataset.x_test[split.private] / dataset.value_max, verbose=0)
    expected = accuracy_score(dataset.y_test[split.private], probabilities.argmax(axis=1))
    assert private_row.private_accuracy == pytest.approx(expected, abs=1e-9)
    # The stored run holds the public part only.
    assert len(run.array("test_labels")) == len(split.public)
    np.testing.assert_array_equal(run.array("test_labels"), dataset.y_test[split.public])

    service.close(challenge.challenge_id, challenge.instructor_token, db)
    after = service.boards(challenge.challenge_id, db=db)
    assert after.closed and after.private[0].private_accuracy == pytest.approx(expected, abs=1e-9)
    assert service.student_history(challenge.challenge_id, ana, db).submissions[0]["private_accuracy"] is not None
    with pytest.raises(ClassroomError, match="closed"):
        service.submit(challenge.challenge_id, ana, TINY, db=db)

    grades = list(
        csv.DictReader(io.StringIO(service.export_grades(challenge.challenge_id, challenge.instructor_token, db)))
    )
    assert [(g["rank"], g["student"]) for g in grades] == [("1", "Ana"), ("", "Ben")]
    assert float(grades[0]["private_accuracy"]) == pytest.approx(expected, abs=1e-4)


def test_every_wrong_token_is_one_refusal_and_reveals_nothing(challenge, db):
    ana = token_of(challenge.students[0].link, "student")
    other = service.create_challenge(challenge_spec(), roster=("Zed",), db=db)
    zed = token_of(other.students[0].link, "student")
    for challenge_id, token in (
        (challenge.challenge_id, zed),  # a student of another challenge
        (challenge.challenge_id, ana[:-1] + ("A" if ana[-1] != "A" else "B")),  # one character off
        (challenge.challenge_id, challenge.instructor_token),  # the instructor's token is not a student's
        ("0" * 16, ana),  # no such challenge
        (challenge.challenge_id, "x" * 10_000),
        (challenge.challenge_id, None),
    ):
        with pytest.raises(ClassroomError, match="No such challenge, or the token"):
            service.submit(challenge_id, token, TINY, db=db)
    for token in (ana, "", other.instructor_token):
        with pytest.raises(ClassroomError, match="instructor token"):
            service.close(challenge.challenge_id, token, db)
        with pytest.raises(ClassroomError, match="instructor token"):
            service.export_grades(challenge.challenge_id, token, db)
    assert db.submissions(challenge.challenge_id) == []
    assert db.get_challenge(challenge.challenge_id).closed_at is None


def test_locks_and_caps_are_refused_before_a_slot_is_used(challenge, db):
    ana = token_of(challenge.students[0].link, "student")
    for settings, message in (
        ({"learning_rate": 0.5}, "locked learning_rate"),
        ({"epochs": 3}, "cap of 2"),
        ({"limit_train": 1000}, "limit_train"),
    ):
        with pytest.raises(InvalidChallenge, match=message):
            service.submit(challenge.challenge_id, ana, settings, db=db)
    assert db.submissions(challenge.challenge_id) == []  # refused requests take no daily slot


def test_the_daily_cap_and_the_closing_time_hold(db):
    created = service.create_challenge(challenge_spec(daily_submissions=1), roster=("Ana",), db=db)
    ana = token_of(created.students[0].link, "student")
    first = service.submit(created.challenge_id, ana, TINY, db=db)
    assert first.submissions_left_today == 0
    with pytest.raises(ClassroomError, match="daily cap of 1"):
        service.submit(created.challenge_id, ana, TINY, db=db)
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    again = service.submit(created.challenge_id, ana, TINY, db=db, now=tomorrow)
    assert again.cached and again.run_id == first.run_id  # the same settings: trained once, served twice

    closing = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    past = service.create_challenge(
        ChallengeSpec("digits", "Closed already", closes_at=closing), roster=("Ana",), db=db
    )
    with pytest.raises(ClassroomError, match="closed"):
        service.submit(past.challenge_id, token_of(past.students[0].link, "student"), TINY, db=db)


def test_a_submission_the_server_fails_to_train_is_kept_as_failed_and_costs_no_slot(db, monkeypatch):
    from engine.errors import TrainingDiverged

    created = service.create_challenge(challenge_spec(daily_submissions=1), roster=("Ana",), db=db)
    ana = token_of(created.students[0].link, "student")

    def fails(*_args, **_kwargs):
        raise TrainingDiverged("loss became NaN at epoch 1")

    with monkeypatch.context() as patched:  # only the scoring: the fixture's cache stays set
        patched.setattr(service, "score_locked", fails)
        with pytest.raises(TrainingDiverged):
            service.submit(created.challenge_id, ana, TINY, db=db)
    (failed,) = db.submissions(created.challenge_id)
    assert failed.status == "failed" and "NaN" in failed.message
    assert service.student_status(created.challenge_id, ana, db).submissions_left_today == 1  # as the cap counts
    assert service.submit(created.challenge_id, ana, TINY, db=db).status == "scored"  # the one slot was still free


def test_a_chosen_final_submission_is_what_the_private_board_ranks(challenge, db):
    ana = token_of(challenge.students[0].link, "student")
    ben = token_of(challenge.students[1].link, "student")
    first = service.submit(challenge.challenge_id, ana, {"epochs": 1, "seed": 0}, db=db)
    second = service.submit(challenge.challenge_id, ana, {"epochs": 2, "seed": 1}, db=db)
    private = {r.submission_id: r.private_accuracy for r in db.submissions(challenge.challenge_id)}
    board = service.boards(challenge.challenge_id, challenge.instructor_token, db)
    (row,) = board.private
    assert not row.chosen  # the default: the student's shown best on the public board
    shown_best = {r.student: r.submission_id for r in board.public}["Ana"]
    assert row.submission_id == shown_best and row.private_accuracy == private[shown_best]

    other = second if shown_best == first.submission_id else first
    service.choose_final(challenge.challenge_id, ana, other.submission_id, db=db)
    (row,) = service.boards(challenge.challenge_id, challenge.instructor_token, db).private
    assert row.chosen and row.submission_id == other.submission_id
    assert row.private_accuracy == private[other.submission_id]

    with pytest.raises(ClassroomError, match="Only your own"):
        service.choose_final(challenge.challenge_id, ben, first.submission_id, db=db)  # Ana's, not Ben's
    service.close(challenge.challenge_id, challenge.instructor_token, db)
    with pytest.raises(ClassroomError, match="closed"):
        service.choose_final(challenge.challenge_id, ana, None, db=db)


def test_the_boards_outlive_a_wiped_run_store(challenge, db, tmp_path):
    """Community Cloud wipes the disk on restart: with the database kept, every score is still on the boards."""
    import shutil

    from engine import settings

    ana = token_of(challenge.students[0].link, "student")
    service.submit(challenge.challenge_id, ana, TINY, db=db)
    before = service.boards(challenge.challenge_id, challenge.instructor_token, db)
    shutil.rmtree(settings.runs_dir())
    after = service.boards(challenge.challenge_id, challenge.instructor_token, db)
    assert after == before and after.public[0].student == "Ana"


def test_every_submission_hears_its_queue_position_and_is_queued_until_it_trains(challenge, db):
    ana = token_of(challenge.students[0].link, "student")
    ben = token_of(challenge.students[1].link, "student")
    # Ben's submission is in flight (reserved, not finished): Ana's comes after it.
    ahead = db.reserve_submission(
        challenge.challenge_id,
        service.student_of(challenge.challenge_id, ben, db).student_id,
        "b" * 16,
        "0" * 20,
        service.day_start(datetime.now(UTC)),
        3,
        datetime.now(UTC) - timedelta(seconds=1),
    )
    assert ahead.status == "queued"
    heard: list[int] = []
    statuses: list[str] = []

    def progress(event):
        if event.stage == "epoch":
            statuses.append(
                next(r.status for r in db.submissions(challenge.challenge_id) if r.student_id != ahead.student_id)
            )

    first = service.submit(challenge.challenge_id, ana, TINY, db=db, placed=heard.append, progress=progress)
    assert heard == [1] and statuses and set(statuses) == {"training"}
    heard.clear()
    again = service.submit(challenge.challenge_id, ana, TINY, db=db, placed=heard.append)  # from the store
    assert again.cached and again.run_id == first.run_id and heard == [1]


def damage_public_confusion(db, challenge_id: str, submission_id: str, text: str) -> None:
    """Store `text` as a scored submission's public confusion record, its other scores kept as they were."""
    record = next(r for r in db.submissions(challenge_id) if r.submission_id == submission_id)
    db.record_score(
        submission_id,
        "scored",
        public_accuracy=record.public_accuracy,
        private_accuracy=record.private_accuracy,
        public_correct=record.public_correct,
        confusion_json=text,
        private_confusion_json=record.private_confusion_json,
    )


def test_a_damaged_confusion_record_is_left_out_of_the_class_summary(challenge, db):
    ana = token_of(challenge.students[0].link, "student")
    ben = token_of(challenge.students[1].link, "student")
    good = service.submit(challenge.challenge_id, ana, TINY, db=db)
    bad = service.submit(challenge.challenge_id, ben, {"epochs": 1, "seed": 1}, db=db)
    damage_public_confusion(db, challenge.challenge_id, bad.submission_id, "[" * 5000 + "]" * 5000)
    summary = service.class_summary(challenge.challenge_id, challenge.instructor_token, db)
    kept = next(r for r in db.submissions(challenge.challenge_id) if r.submission_id == good.submission_id)
    assert summary.confusion == json.loads(kept.confusion_json)  # Ana's matrix alone


def test_a_student_looks_closer_at_their_own_submission_and_the_private_part_waits_for_close(challenge, db):
    ana = token_of(challenge.students[0].link, "student")
    ben = token_of(challenge.students[1].link, "student")
    outcome = service.submit(challenge.challenge_id, ana, TINY, db=db)

    # Oracle: the run's stored public predictions, counted by scikit-learn.
    from sklearn.metrics import confusion_matrix

    from engine.store import RunStore

    run = RunStore().get(outcome.run_id)
    expected_public = confusion_matrix(
        run.test_labels(), run.test_probabilities().argmax(axis=1), labels=range(10)
    ).tolist()
    detail = service.student_submission(challenge.challenge_id, ana, outcome.submission_id, db)
    assert detail.class_names == tuple(str(d) for d in range(10))
    assert detail.public_confusion == expected_public
    assert detail.public_accuracy == pytest.approx(np.trace(expected_public) / np.sum(expected_public), abs=1e-9)
    assert detail.private_confusion is None and detail.private_accuracy is None  # open: nothing private

    # Another student, a made-up id, or a non-string id: one refusal, and nothing of Ana's comes back.
    for token, submission_id in ((ben, outcome.submission_id), (ana, "0" * 32), (ana, None)):
        with pytest.raises(ClassroomError, match="Only your own submissions"):
            service.student_submission(challenge.challenge_id, token, submission_id, db)

    service.close(challenge.challenge_id, challenge.instructor_token, db)
    after = service.student_submission(challenge.challenge_id, ana, outcome.submission_id, db)
    dataset, split = service.challenge_data(challenge_spec())
    probabilities = run.load_model().predict(dataset.x_test[split.private] / dataset.value_max, verbose=0)
    expected_private = confusion_matrix(
        dataset.y_test[split.private], probabilities.argmax(axis=1), labels=range(10)
    ).tolist()
    assert after.private_confusion == expected_private and after.public_confusion == expected_public
    assert after.private_accuracy == pytest.approx(np.trace(expected_private) / np.sum(expected_private), abs=1e-9)

    # A damaged record is None, not a matrix built from it: negative counts, the wrong shape, fractional or boolean
    # counts, a record longer than any 10x10 matrix of 64-bit counts (valid JSON but for its padding), and counts
    # of more images than the test set has.
    for damaged in (
        json.dumps([[-1] * 10] * 10),
        json.dumps([[1, 2], [3, 4]]),
        json.dumps([[1.5] * 10] * 10),
        json.dumps([[True] * 10] * 10),
        json.dumps([[1] * 10] * 10) + " " * 3000,
        json.dumps([[10**18] * 10] * 10),  # more images than the test set holds (their labels would be rebuilt)
        json.dumps([[36] * 10] * 10),  # each count possible, but 3,600 images in all against digits' 360
    ):
        damage_public_confusion(db, challenge.challenge_id, outcome.submission_id, damaged)
        assert (
            service.student_submission(challenge.challenge_id, ana, outcome.submission_id, db).public_confusion is None
        )

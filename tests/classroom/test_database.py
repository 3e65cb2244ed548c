"""The classroom database: the same tests on SQLite and on a real PostgreSQL server (conftest.py), no mock.

Oracles are hand-built: a cap of 5 with 20 requests at once leaves exactly 5; counts read back with plain SQL;
the migrated schema against the live tables' own column lists; a record read by a second connection after a restart.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa

from engine.classroom import database as db_module
from engine.classroom.database import ClassroomDB, ClassroomError
from engine.classroom.spec import ChallengeSpec

CHALLENGE = "0123456789abcdef"
NOW = datetime(2026, 12, 6, 15, 30, tzinfo=UTC)
DAY_START = datetime(2026, 12, 6, tzinfo=UTC)


def spec_json(**fields) -> str:
    return json.dumps(ChallengeSpec(dataset="digits", title="Digits week 1", **fields).to_dict())


def make_challenge(database: ClassroomDB, challenge_id: str = CHALLENGE, **fields) -> None:
    database.create_challenge(challenge_id, spec_json(**fields), "i" * 64, None, now=NOW - timedelta(days=1))


def join(database: ClassroomDB, student_id: str, name: str, challenge_id: str = CHALLENGE) -> None:
    database.add_student(challenge_id, student_id, name, f"{student_id:0<64}"[:64], now=NOW - timedelta(days=1))


def reserve(database: ClassroomDB, student_id: str, submission_id: str, cap: int = 5, now: datetime = NOW):
    run_id = f"run-{submission_id}"
    return database.reserve_submission(CHALLENGE, student_id, submission_id, run_id, DAY_START, cap, now)


def run_at_once(count: int, work) -> None:
    """`work(index)` on `count` threads released together; all must end within a minute (a lost lock would hang)."""
    barrier = threading.Barrier(count)

    def released(index: int) -> None:
        barrier.wait()
        work(index)

    threads = [threading.Thread(target=released, args=(i,), daemon=True) for i in range(count)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 60
    for thread in threads:
        thread.join(timeout=max(0.0, deadline - time.monotonic()))
    assert not any(thread.is_alive() for thread in threads), "requests still waiting after a minute"


def test_migrations_create_the_schema_and_a_second_open_changes_nothing(database_url, classroom_db):
    make_challenge(classroom_db)
    again = ClassroomDB.open(database_url)  # a second server start: migrations run again, finding nothing to do
    try:
        inspector = sa.inspect(again.engine)
        tables = set(inspector.get_table_names())
        assert {"challenges", "students", "submissions", "classroom_alembic_version"} <= tables
        for table in db_module.metadata.sorted_tables:  # the migration built what the code reads and writes
            assert {column["name"] for column in inspector.get_columns(table.name)} == set(table.columns.keys())
        uniques = {tuple(u["column_names"]) for u in inspector.get_unique_constraints("students")}
        assert ("challenge_id", "display_name") in uniques
        with again.engine.connect() as connection:
            versions = connection.exec_driver_sql("SELECT version_num FROM classroom_alembic_version").all()
        assert versions == [("0001_classroom",)]
        assert [c.challenge_id for c in again.list_challenges()] == [CHALLENGE]  # the data survived the re-run
    finally:
        again.close()


def test_servers_starting_at_once_migrate_one_after_the_other(database_url):
    opened: list[ClassroomDB] = []
    failures: list[str] = []

    def start_server(_index: int) -> None:
        try:
            opened.append(ClassroomDB.open(database_url))
        except Exception as error:  # any failure at all is the finding
            failures.append(repr(error))

    try:
        run_at_once(6, start_server)
        assert failures == [] and len(opened) == 6
        with opened[0].engine.connect() as connection:
            versions = connection.exec_driver_sql("SELECT version_num FROM classroom_alembic_version").all()
        assert versions == [("0001_classroom",)]
    finally:
        for database in opened:
            database.close()


def test_daily_cap_holds_under_20_concurrent_reservations(database_url, classroom_db):
    make_challenge(classroom_db)
    join(classroom_db, "s1", "Ann")
    # Yesterday's submission does not count against today's cap.
    reserve(classroom_db, "s1", "yesterday", now=DAY_START - timedelta(seconds=1))
    other_server = ClassroomDB.open(database_url)  # half the requests come through another process's engine
    outcomes: list[str] = []
    lock = threading.Lock()

    def request(index: int) -> None:
        database = classroom_db if index % 2 else other_server
        try:
            reserve(database, "s1", f"sub{index:02d}", cap=5)
            outcome = "queued"
        except ClassroomError as refusal:
            outcome = str(refusal)
        with lock:
            outcomes.append(outcome)

    try:
        run_at_once(20, request)
    finally:
        other_server.close()
    assert outcomes.count("queued") == 5, outcomes
    refusals = [o for o in outcomes if o != "queued"]
    assert len(refusals) == 15 and all("daily cap of 5" in o for o in refusals), refusals
    with classroom_db.engine.connect() as connection:
        stored = connection.exec_driver_sql("SELECT COUNT(*) FROM submissions WHERE student_id = 's1'").scalar()
    assert stored == 6  # 5 today + yesterday's
    # The next day starts a new count.
    tomorrow = DAY_START + timedelta(days=1)
    classroom_db.reserve_submission(CHALLENGE, "s1", "next-day", "run", tomorrow, 5, tomorrow + timedelta(hours=1))


def test_a_closed_challenge_refuses_submissions_and_final_choices(classroom_db):
    make_challenge(classroom_db)
    join(classroom_db, "s1", "Ann")
    reserve(classroom_db, "s1", "before")
    closed = classroom_db.close_challenge(CHALLENGE, NOW + timedelta(hours=1))
    assert closed.closed_at == NOW + timedelta(hours=1)
    reserve(classroom_db, "s1", "still-open")  # before the closing time
    with pytest.raises(ClassroomError, match="closed"):
        reserve(classroom_db, "s1", "late", now=NOW + timedelta(hours=1))
    with pytest.raises(ClassroomError, match="closed"):
        classroom_db.choose_final(CHALLENGE, "s1", ["before"], now=NOW + timedelta(hours=2))
    # Closing again keeps the first closing time (grades refer to it).
    assert classroom_db.close_challenge(CHALLENGE, NOW + timedelta(days=3)).closed_at == NOW + timedelta(hours=1)
    assert [s.submission_id for s in classroom_db.submissions(CHALLENGE)] == ["before", "still-open"]


def test_the_specs_closing_time_is_enforced_without_a_close(classroom_db):
    make_challenge(classroom_db, closes_at=(NOW + timedelta(minutes=5)).isoformat())
    join(classroom_db, "s1", "Ann")
    reserve(classroom_db, "s1", "in-time")
    with pytest.raises(ClassroomError, match="closed"):
        reserve(classroom_db, "s1", "too-late", now=NOW + timedelta(minutes=5))


def test_a_student_can_choose_only_their_own_submissions(classroom_db):
    make_challenge(classroom_db)
    join(classroom_db, "s1", "Ann")
    join(classroom_db, "s2", "Bo")
    for submission in ("a1", "a2"):
        reserve(classroom_db, "s1", submission)
    reserve(classroom_db, "s2", "b1")
    classroom_db.choose_final(CHALLENGE, "s2", ["b1"], now=NOW)
    with pytest.raises(ClassroomError, match="Only your own"):
        classroom_db.choose_final(CHALLENGE, "s1", ["a1", "b1"], now=NOW)
    with pytest.raises(ClassroomError, match="Only your own"):
        classroom_db.choose_final(CHALLENGE, "s1", ["no-such-id"], now=NOW)
    finals = {s.submission_id: s.final for s in classroom_db.submissions(CHALLENGE)}
    assert finals == {"a1": False, "a2": False, "b1": True}  # the refused choice changed nothing
    classroom_db.choose_final(CHALLENGE, "s1", ["a2"], now=NOW)
    classroom_db.choose_final(CHALLENGE, "s1", ["a1"], now=NOW)  # a new choice replaces the old one
    finals = {s.submission_id: s.final for s in classroom_db.submissions(CHALLENGE)}
    assert finals == {"a1": True, "a2": False, "b1": True}  # Bo's choice untouched by Ann's


def test_the_record_outlives_a_restart(database_url):
    first = ClassroomDB.open(database_url)
    make_challenge(first)
    join(first, "s1", "Ann")
    reserve(first, "s1", "sub1")
    scored = first.record_score("sub1", "scored", "done", 0.91, 0.88, bytes([0b10110000, 0xFF]), "[[1]]", "[[2]]")
    first.close()

    restarted = ClassroomDB.open(database_url)  # a new server process on the same database
    try:
        assert restarted.submissions(CHALLENGE, "s1") == [scored]
        assert scored.public_correct == bytes([0b10110000, 0xFF]) and scored.private_accuracy == 0.88
        assert restarted.student_by_digest(CHALLENGE, f"{'s1':0<64}").display_name == "Ann"
        assert restarted.student_by_digest(CHALLENGE, "f" * 64) is None
        challenge = restarted.get_challenge(CHALLENGE)
        assert challenge.spec.title == "Digits week 1" and challenge.closed_at is None
        assert [s.student_id for s in restarted.students(CHALLENGE)] == ["s1"]
    finally:
        restarted.close()


def test_duplicate_names_are_refused_plainly(classroom_db):
    make_challenge(classroom_db)
    make_challenge(classroom_db, "fedcba9876543210")
    join(classroom_db, "s1", "Ann Lee")
    # Case, spacing, a full-width letter, all-Cyrillic look-alikes ("Аnn Lее" with Cyrillic А and е): one name.
    for look_alike in ("Ann Lee", "ann  lee", " ANN LEE ", "\uff21nn Lee", "\u0410nn L\u0435\u0435"):
        with pytest.raises(ClassroomError, match="already taken in this challenge"):
            join(classroom_db, f"x{len(look_alike)}", look_alike)
    join(classroom_db, "s2", "Ann Lee", challenge_id="fedcba9876543210")  # another challenge's board
    assert [s.display_name for s in classroom_db.students(CHALLENGE)] == ["Ann Lee"]
    with pytest.raises(ClassroomError, match="already exists"):
        make_challenge(classroom_db)


def test_times_come_back_as_the_same_instants_in_utc(classroom_db):
    make_challenge(classroom_db)
    join(classroom_db, "s1", "Ann")
    paris = timezone(timedelta(hours=1))
    submitted = datetime(2026, 12, 6, 16, 45, 12, 345678, tzinfo=paris)
    (record,) = [reserve(classroom_db, "s1", "sub1", now=submitted)]
    (stored,) = classroom_db.submissions(CHALLENGE)
    assert stored.created_at == submitted and stored.created_at.utcoffset() == timedelta(0)
    assert record.created_at.tzinfo is UTC
    with pytest.raises(ValueError, match="aware"):
        classroom_db.close_challenge(CHALLENGE, datetime(2026, 12, 7))


def test_scores_are_checked_and_unknown_submissions_refused(classroom_db):
    make_challenge(classroom_db)
    join(classroom_db, "s1", "Ann")
    reserve(classroom_db, "s1", "sub1")
    with pytest.raises(ClassroomError, match="No submission"):
        classroom_db.record_score("nope", "scored", "", 0.5)
    with pytest.raises(ValueError, match="outside 0..1"):
        classroom_db.record_score("sub1", "scored", "", 1.5)
    with pytest.raises(ValueError, match="status"):
        classroom_db.record_score("sub1", "done")
    with pytest.raises(ClassroomError, match="not registered"):
        reserve(classroom_db, "ghost", "sub2")


def test_values_one_backend_cannot_hold_are_refused_alike_on_both(classroom_db):
    """PostgreSQL refuses text longer than its column or holding NUL where SQLite keeps it: both say the same."""
    make_challenge(classroom_db)
    join(classroom_db, "s1", "Ann")
    for name, why in (("A" * 201, "1 to 200 characters"), ("Ann\x00Lee", "no NUL"), ("  \t ", "visible character")):
        with pytest.raises(ClassroomError, match=why):
            classroom_db.add_student(CHALLENGE, "s2", name, "b" * 64)
    with pytest.raises(ClassroomError, match="A run id must be 1 to 128"):
        classroom_db.reserve_submission(CHALLENGE, "s1", "sub1", "r" * 129, DAY_START, 5, NOW)
    with pytest.raises(ClassroomError, match="not registered"):
        classroom_db.reserve_submission(CHALLENGE, "s\x00", "sub1", "run", DAY_START, 5, NOW)
    # Looking up a key no row could have (from a link, say) finds nothing rather than failing.
    assert classroom_db.get_challenge("0123456789abcde\x00") is None
    assert classroom_db.student_by_digest(CHALLENGE, "\x00" * 64) is None
    assert classroom_db.submissions(CHALLENGE, "s\x00") == [] and classroom_db.students("x" * 500) == []
    with pytest.raises(ClassroomError, match="No challenge"):
        classroom_db.close_challenge("\x00", NOW)
    with pytest.raises(ClassroomError, match="No submission"):
        classroom_db.record_score("sub\x00", "failed")
    # A failure message quoting a NUL keeps the record, the NUL written out.
    reserve(classroom_db, "s1", "sub1")
    failed = classroom_db.record_score("sub1", "failed", "could not read a\x00b.npz")
    assert failed.message == "could not read a\\x00b.npz"
    assert classroom_db.submissions(CHALLENGE)[0].message == "could not read a\\x00b.npz"


def test_the_default_database_is_sqlite_under_the_cache(isolated_cache, monkeypatch):
    monkeypatch.delenv(db_module.DATABASE_URL_ENV, raising=False)
    with ClassroomDB.open() as database:
        assert database.engine.dialect.name == "sqlite"
        assert Path(database.engine.url.database) == isolated_cache / "classroom.db"
        with database.engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    assert (isolated_cache / "classroom.db").exists()


def test_database_urls_refused_or_failing_say_so_without_the_password(monkeypatch, tmp_path):
    monkeypatch.setenv(db_module.DATABASE_URL_ENV, "mysql://u:pw@host/db")
    with pytest.raises(ClassroomError, match="neither PostgreSQL") as refused:
        ClassroomDB.open()
    assert "pw" not in str(refused.value)
    with pytest.raises(ClassroomError, match="is not a database URL") as unparsable:
        ClassroomDB.open("secret-pw@@not a url")
    assert "secret-pw" not in str(unparsable.value)
    # A plain postgresql:// URL (as hosted providers give) is taken with psycopg 3; this server does not exist.
    missing = f"postgresql://u:s3cret-pw@/db?host={tmp_path}&connect_timeout=2"
    with pytest.raises(ClassroomError, match="Could not open the classroom database") as unreachable:
        ClassroomDB.open(missing)
    assert "s3cret-pw" not in str(unreachable.value) and "postgresql+psycopg" in str(unreachable.value)


def test_a_postgresql_role_without_rights_to_create_tables_is_told_so(postgres_url):
    """A hosted database whose user may not create tables (PostgreSQL 15 grants no CREATE on `public` to others)."""
    server = sa.make_url(postgres_url)
    role, name = f"no_rights_{uuid.uuid4().hex[:8]}", f"classroom_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE ROLE "{role}" LOGIN')
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        url = server.set(username=role, password="pw-9f3", database=name).render_as_string(hide_password=False)
        with pytest.raises(ClassroomError, match="Could not open the classroom database.*permission denied") as why:
            ClassroomDB.open(url)
        assert "pw-9f3" not in str(why.value)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            connection.exec_driver_sql(f'DROP ROLE IF EXISTS "{role}"')
        admin.dispose()


def test_the_migrations_ship_in_the_package():
    """The wheel holds what setuptools finds with pyproject's settings: the migration scripts must be among it."""
    import tomllib

    from setuptools import find_namespace_packages

    root = Path(__file__).resolve().parents[2]
    find = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    shipped = set(find_namespace_packages(where=str(root), include=find["include"]))
    assert {"engine.classroom.migrations", "engine.classroom.migrations.versions"} <= shipped
    assert (db_module.MIGRATIONS / "env.py").is_file()
    assert (db_module.MIGRATIONS / "versions" / "0001_classroom.py").is_file()


class _LockedCursor:
    """A sqlite3 cursor stand-in whose first `locked` statements answer "database is locked", as SQLite does at once
    (without its busy timeout) while another connection switches a new file's journal mode."""

    def __init__(self, locked: int, error: str = "database is locked") -> None:
        self.locked, self.error, self.statements = locked, error, []
        self.mode = "delete"

    def execute(self, statement: str):
        import sqlite3

        self.statements.append(statement)
        if self.locked:
            self.locked -= 1
            raise sqlite3.OperationalError(self.error)
        if statement == "PRAGMA journal_mode=WAL":
            self.mode = "wal"
        return self

    def fetchone(self):
        return (self.mode,)


def test_switching_to_wal_waits_out_a_lock_and_leaves_a_wal_file_alone():
    from engine.classroom.database import _use_wal

    cursor = _LockedCursor(locked=2)
    _use_wal(cursor)
    assert cursor.mode == "wal" and cursor.statements[-1] == "PRAGMA journal_mode=WAL"
    again = _LockedCursor(locked=0)
    again.mode = "wal"
    _use_wal(again)
    assert again.statements == ["PRAGMA journal_mode"]  # already WAL: nothing to switch, no exclusive lock needed


def test_other_database_errors_are_not_retried():
    import sqlite3

    from engine.classroom.database import _use_wal

    cursor = _LockedCursor(locked=1, error="disk I/O error")
    with pytest.raises(sqlite3.OperationalError, match="disk I/O"):
        _use_wal(cursor)
    assert len(cursor.statements) == 1

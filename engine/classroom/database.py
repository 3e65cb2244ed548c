"""The classroom's lasting record: challenges, students, submissions and scores, in a real database.

SQLite under the cache by default (`<cache>/classroom.db`), PostgreSQL when `DIGIT_LAB_DATABASE_URL` names one
(a hosted app's disk is wiped on every restart; its database is not). The schema is Alembic's (the `migrations`
folder beside this file), applied at `ClassroomDB.open`. Every method returns frozen records, never ORM objects, so
nothing read here holds a session or a connection open.

Concurrency: one engine per `ClassroomDB`, shared by threads. SQLite runs in WAL mode with a busy timeout, and each
writing transaction starts with BEGIN IMMEDIATE, so writers queue for the lock instead of failing half-way; on
PostgreSQL a submission locks its student's row (SELECT ... FOR UPDATE) before it counts the day's submissions.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import ArgumentError, DBAPIError, IntegrityError
from sqlalchemy.pool import ConnectionPoolEntry

from engine import settings
from engine.classroom.roster import name_key
from engine.classroom.spec import ChallengeSpec
from engine.errors import DigitLabError

log = logging.getLogger("digitlab.classroom")

DATABASE_URL_ENV = "DIGIT_LAB_DATABASE_URL"
DATABASE_FILE = "classroom.db"
STATUSES = ("queued", "training", "scored", "failed")
# How long a SQLite writer waits for the lock before giving up: a class of 100 submitting within the same second
# queues behind at most 99 short transactions (milliseconds each), so this is far more than needed.
SQLITE_BUSY_TIMEOUT_S = 30.0
MIGRATIONS = Path(__file__).with_name("migrations")
_BEGIN_MODE = "digitlab_sqlite_begin"  # execution option read by the SQLite "begin" hook below
_CHALLENGE_ID = re.compile(r"[0-9a-f]{16}")
# Column widths (the migration's): PostgreSQL refuses longer text, SQLite would keep it, so both are held to them here.
ID_CHARS = 64  # student and submission ids
DIGEST_CHARS = 128  # token digests (sha256 hex is 64)
RUN_ID_CHARS = 128
NAME_CHARS = 200  # display names
# Any int64 taken as the key of PostgreSQL's advisory lock that serialises migrations across servers.
_MIGRATION_LOCK_KEY = 0x0D161_7C1A55


class ClassroomError(DigitLabError):
    """A classroom action the database refuses (a taken name, the daily cap, a closed challenge, another's run)."""


@dataclass(frozen=True)
class ChallengeRecord:
    challenge_id: str
    spec_json: str  # a ChallengeSpec's JSON, checked when stored and when read back (`spec`)
    instructor_digest: str  # sha256 hex of the instructor's token; the token itself is never stored
    join_digest: str | None  # the join link's token digest; None = no open joining (roster only)
    created_at: datetime  # aware UTC
    closed_at: datetime | None  # aware UTC; set = submissions refused from then on

    @property
    def spec(self) -> ChallengeSpec:
        return ChallengeSpec.from_json(self.spec_json)

    def is_closed(self, now: datetime) -> bool:
        """Closed by the instructor (from `closed_at`) or by the spec's closing time, whichever comes first."""
        closes = [when for when in (self.closed_at, self.spec.closing_time()) if when is not None]
        return any(now >= when for when in closes)


@dataclass(frozen=True)
class StudentRecord:
    student_id: str
    challenge_id: str
    display_name: str  # untrusted text: shown only through the plain-text helper
    token_digest: str
    created_at: datetime


@dataclass(frozen=True)
class SubmissionRecord:
    submission_id: str
    challenge_id: str
    student_id: str
    run_id: str
    created_at: datetime
    status: str  # one of STATUSES
    message: str
    public_accuracy: float | None
    private_accuracy: float | None
    public_correct: bytes | None  # packed bits (np.packbits) of per-public-image correctness, for the Ladder
    confusion_json: str | None  # the public part's confusion matrix
    private_confusion_json: str | None  # the private part's; shown to students only after close
    final: bool  # chosen by the student for the private board


class UTCDateTime(sa.TypeDecorator[datetime]):
    """An aware datetime stored as UTC and read back aware (SQLite keeps no zone; PostgreSQL answers in its own)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"classroom times must be aware (UTC); got the naive {value.isoformat()}")
        value = value.astimezone(UTC)
        # SQLite compares the stored text: naive UTC text in one format keeps `>=` on times correct.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# The live tables, as migrations/versions leave them (tests/classroom checks the two agree).
metadata = sa.MetaData()
challenges = sa.Table(
    "challenges",
    metadata,
    sa.Column("challenge_id", sa.String(16), primary_key=True),
    sa.Column("spec_json", sa.Text(), nullable=False),
    sa.Column("instructor_digest", sa.String(128), nullable=False),
    sa.Column("join_digest", sa.String(128), nullable=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("closed_at", UTCDateTime(), nullable=True),
)
students = sa.Table(
    "students",
    metadata,
    sa.Column("student_id", sa.String(64), primary_key=True),
    sa.Column("challenge_id", sa.String(16), sa.ForeignKey("challenges.challenge_id"), nullable=False),
    sa.Column("display_name", sa.String(200), nullable=False),
    sa.Column("token_digest", sa.String(128), nullable=False, unique=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.UniqueConstraint("challenge_id", "display_name", name="uq_students_challenge_name"),
)
submissions = sa.Table(
    "submissions",
    metadata,
    sa.Column("submission_id", sa.String(64), primary_key=True),
    sa.Column("challenge_id", sa.String(16), sa.ForeignKey("challenges.challenge_id"), nullable=False),
    sa.Column("student_id", sa.String(64), sa.ForeignKey("students.student_id"), nullable=False),
    sa.Column("run_id", sa.String(128), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("message", sa.Text(), nullable=False, server_default=""),
    sa.Column("public_accuracy", sa.Float(), nullable=True),
    sa.Column("private_accuracy", sa.Float(), nullable=True),
    sa.Column("public_correct", sa.LargeBinary(), nullable=True),
    sa.Column("confusion_json", sa.Text(), nullable=True),
    sa.Column("private_confusion_json", sa.Text(), nullable=True),
    sa.Column("final", sa.Boolean(), nullable=False, server_default=sa.false()),
)


def database_url(url: str | None = None) -> str:
    """The URL asked for (`url`, else `$DIGIT_LAB_DATABASE_URL`), else the SQLite file under the cache."""
    url = url or os.environ.get(DATABASE_URL_ENV, "").strip()
    if url:
        return url
    return f"sqlite:///{settings.cache_dir() / DATABASE_FILE}"


def shown_url(url: sa.URL) -> str:
    """A URL fit for a message or a log: the password masked."""
    return url.render_as_string(hide_password=True)


def _parse_url(text: str) -> sa.URL:
    try:
        url = make_url(text)
    except ArgumentError:
        # The text itself is not repeated: it may hold a password.
        raise ClassroomError(
            f"{DATABASE_URL_ENV} is not a database URL; write it like "
            "postgresql+psycopg://user:password@host:5432/dbname or sqlite:////path/to/classroom.db."
        ) from None
    backend, _, driver = url.drivername.partition("+")
    if backend == "postgres":  # Heroku-style URLs name the same server
        backend = "postgresql"
    if backend == "postgresql" and driver in ("", "psycopg"):
        if driver != "psycopg":
            # Hosted providers hand out plain postgresql:// URLs; psycopg 3 is the one driver installed.
            log.info("Classroom database %s: connecting with psycopg 3 (the driver installed).", shown_url(url))
        return url.set(drivername="postgresql+psycopg")
    if backend == "sqlite" and driver in ("", "pysqlite"):
        return url
    raise ClassroomError(
        f"The classroom database {shown_url(url)} is neither PostgreSQL (postgresql+psycopg://...) nor SQLite "
        f"(sqlite:///...); those are the two it runs on."
    )


def _sqlite_engine(url: sa.URL) -> Engine:
    if url.database and url.database != ":memory:":
        Path(url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    # check_same_thread=False: the pool hands a connection to one thread at a time, never two at once.
    engine = sa.create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False})

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
        # sqlite3's own transaction handling (Python < 3.12) begins late, at the first write, and a reader that
        # then writes fails at once with "database is locked" under WAL; SQLAlchemy's "begin" hook takes over.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
        _use_wal(cursor)
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        # IMMEDIATE takes the write lock at BEGIN, so a transaction that counts then inserts sees no writer
        # between the two; reads begin DEFERRED and never wait for writers (WAL).
        mode = connection.get_execution_options().get(_BEGIN_MODE, "DEFERRED")
        connection.exec_driver_sql(f"BEGIN {mode}")

    return engine


def _use_wal(cursor: Any) -> None:
    """Put the database in WAL mode: readers never block the writer nor it them, so the boards stay readable while
    a class submits. The mode is stored in the file, so a server finding it set leaves it alone. Switching needs
    the file to itself, and SQLite answers "database is locked" at once, without its busy timeout, when servers
    starting together switch a new file at the same moment (seen 1 start in 12 with 6 at once): retried here,
    within the same timeout."""
    import sqlite3

    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_S
    while True:
        try:
            if str(cursor.execute("PRAGMA journal_mode").fetchone()[0]).lower() != "wal":
                cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def _record(cls: type[Any], row: sa.Row[Any]) -> Any:
    return cls(**row._asdict())


def _checked(value: str, what: str, limit: int) -> str:
    """Text the database can hold on both backends: 1..limit characters, no NUL (PostgreSQL refuses NUL in text)."""
    if not isinstance(value, str) or not 1 <= len(value) <= limit or "\x00" in value:
        length = len(value) if isinstance(value, str) else type(value).__name__
        raise ClassroomError(f"{what} must be 1 to {limit} characters with no NUL character (got {length}).")
    return value


def _findable(value: str, limit: int) -> bool:
    """Whether a looked-up key could be stored at all: one that could not is simply not there, on both backends."""
    return isinstance(value, str) and 1 <= len(value) <= limit and "\x00" not in value


def _aware(when: datetime, what: str) -> datetime:
    if when.tzinfo is None:
        raise ValueError(f"{what} must be an aware datetime (UTC); got the naive {when.isoformat()}")
    return when.astimezone(UTC)


class ClassroomDB:
    """The classroom's database; one per process is enough (its engine pools connections for every thread)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.is_sqlite = engine.dialect.name == "sqlite"

    @classmethod
    def open(cls, url: str | None = None) -> ClassroomDB:
        """Connect to `url` (else `$DIGIT_LAB_DATABASE_URL`, else `<cache>/classroom.db`) and migrate to the newest
        schema. Unreachable servers and unknown kinds of database raise `ClassroomError` with the password masked."""
        parsed = _parse_url(database_url(url))
        if parsed.get_backend_name() == "sqlite":
            engine = _sqlite_engine(parsed)
        else:
            # pool_pre_ping: a hosted server closes idle connections; a stale one is replaced instead of failing.
            engine = sa.create_engine(parsed, pool_pre_ping=True)
        database = cls(engine)
        try:
            database.migrate()
        except DBAPIError as error:  # unreachable, refused, no rights to create the tables, a bad connect option
            engine.dispose()
            reason = str(error.orig).strip().splitlines()[0] if error.orig else type(error).__name__
            if parsed.password:
                reason = reason.replace(str(parsed.password), "***")
            raise ClassroomError(f"Could not open the classroom database {shown_url(parsed)}: {reason}") from None
        return database

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> ClassroomDB:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def migrate(self) -> None:
        """Apply every migration not yet applied (none, when the schema is current): safe to run at every start."""
        config = Config()
        # ConfigParser reads "%" as interpolation: a folder name holding one would otherwise break the path.
        config.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
        config.set_main_option("path_separator", "os")
        with self._transaction(write=True) as connection:
            if not self.is_sqlite:
                # Two servers starting at once: the second waits here, then finds the schema current.
                connection.execute(sa.select(sa.func.pg_advisory_xact_lock(_MIGRATION_LOCK_KEY)))
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    @contextmanager
    def _transaction(self, write: bool) -> Iterator[Connection]:
        with self.engine.connect() as connection:
            if write and self.is_sqlite:
                connection.execution_options(**{_BEGIN_MODE: "IMMEDIATE"})
            with connection.begin():
                yield connection

    # --- challenges -------------------------------------------------------------------------------------------

    def create_challenge(
        self,
        challenge_id: str,
        spec_json: str,
        instructor_digest: str,
        join_digest: str | None,
        now: datetime | None = None,
    ) -> ChallengeRecord:
        if not _CHALLENGE_ID.fullmatch(challenge_id):
            raise ClassroomError(f"A challenge id is 16 lowercase hex digits; got {challenge_id[:40]!r}.")
        ChallengeSpec.from_json(spec_json)  # InvalidChallenge for a spec the boards could not read back
        _checked(instructor_digest, "The instructor's token digest", DIGEST_CHARS)
        if join_digest is not None:
            _checked(join_digest, "The join link's token digest", DIGEST_CHARS)
        record = ChallengeRecord(
            challenge_id=challenge_id,
            spec_json=spec_json,
            instructor_digest=instructor_digest,
            join_digest=join_digest,
            created_at=_aware(now or datetime.now(UTC), "now"),
            closed_at=None,
        )
        try:
            with self._transaction(write=True) as connection:
                connection.execute(challenges.insert().values(**record.__dict__))
        except IntegrityError:
            raise ClassroomError(f"A challenge {challenge_id} already exists.") from None
        return record

    def get_challenge(self, challenge_id: str) -> ChallengeRecord | None:
        if not _findable(challenge_id, 16):
            return None
        with self._transaction(write=False) as connection:
            row = connection.execute(challenges.select().where(challenges.c.challenge_id == challenge_id)).first()
        return None if row is None else _record(ChallengeRecord, row)

    def list_challenges(self) -> list[ChallengeRecord]:
        with self._transaction(write=False) as connection:
            rows = connection.execute(challenges.select().order_by(challenges.c.created_at, challenges.c.challenge_id))
            return [_record(ChallengeRecord, row) for row in rows]

    def close_challenge(self, challenge_id: str, when: datetime) -> ChallengeRecord:
        """Refuse submissions from `when` on. Closing again keeps the first closing time (the grades' reference)."""
        when = _aware(when, "when")
        with self._transaction(write=True) as connection:
            self._locked_challenge(connection, challenge_id, exclusive=True)
            connection.execute(
                challenges.update()
                .where(challenges.c.challenge_id == challenge_id, challenges.c.closed_at.is_(None))
                .values(closed_at=when)
            )
            row = connection.execute(challenges.select().where(challenges.c.challenge_id == challenge_id)).one()
        return _record(ChallengeRecord, row)

    def _locked_challenge(self, connection: Connection, challenge_id: str, exclusive: bool) -> ChallengeRecord:
        """The challenge's row, locked until the transaction ends (FOR SHARE/UPDATE on PostgreSQL; SQLite's
        BEGIN IMMEDIATE already holds the whole database): a close cannot slip between a check and an insert."""
        query = challenges.select().where(challenges.c.challenge_id == challenge_id)
        row = (
            connection.execute(query.with_for_update(read=not exclusive)).first()
            if _findable(challenge_id, 16)
            else None
        )
        if row is None:
            raise ClassroomError(f"No challenge {challenge_id[:40]!r}.")
        return _record(ChallengeRecord, row)

    # --- students ---------------------------------------------------------------------------------------------

    def add_student(
        self, challenge_id: str, student_id: str, name: str, token_digest: str, now: datetime | None = None
    ) -> StudentRecord:
        """A student joins; a name already on this challenge's board (ignoring case and spacing) is refused."""
        _checked(student_id, "A student id", ID_CHARS)
        _checked(token_digest, "A student's token digest", DIGEST_CHARS)
        if not name_key(_checked(name, "A display name", NAME_CHARS)):
            raise ClassroomError("A display name needs at least one visible character.")
        record = StudentRecord(
            student_id=student_id,
            challenge_id=challenge_id,
            display_name=name,
            token_digest=token_digest,
            created_at=_aware(now or datetime.now(UTC), "now"),
        )
        try:
            with self._transaction(write=True) as connection:
                # Exclusive: two joins of one challenge take turns, so the look-alike check below sees the other.
                self._locked_challenge(connection, challenge_id, exclusive=True)
                names = connection.execute(
                    sa.select(students.c.display_name).where(students.c.challenge_id == challenge_id)
                ).scalars()
                if name_key(name) in {name_key(taken) for taken in names}:
                    raise ClassroomError(self._name_taken(name))
                connection.execute(students.insert().values(**record.__dict__))
        except IntegrityError:
            # Only when the check above could not see it: the same student id or token twice.
            raise ClassroomError(f"{name!r} could not join: this student is already registered.") from None
        return record

    @staticmethod
    def _name_taken(name: str) -> str:
        return f"The name {name!r} is already taken in this challenge; choose another."

    def student_by_digest(self, challenge_id: str, digest: str) -> StudentRecord | None:
        if not (_findable(challenge_id, 16) and _findable(digest, DIGEST_CHARS)):
            return None
        with self._transaction(write=False) as connection:
            row = connection.execute(
                students.select().where(students.c.challenge_id == challenge_id, students.c.token_digest == digest)
            ).first()
        return None if row is None else _record(StudentRecord, row)

    def students(self, challenge_id: str) -> list[StudentRecord]:
        if not _findable(challenge_id, 16):
            return []
        with self._transaction(write=False) as connection:
            rows = connection.execute(
                students.select()
                .where(students.c.challenge_id == challenge_id)
                .order_by(students.c.created_at, students.c.student_id)
            )
            return [_record(StudentRecord, row) for row in rows]

    # --- submissions ------------------------------------------------------------------------------------------

    def reserve_submission(
        self,
        challenge_id: str,
        student_id: str,
        submission_id: str,
        run_id: str,
        day_start: datetime,
        daily_cap: int,
        now: datetime,
    ) -> SubmissionRecord:
        """Queue a submission if the challenge is open and the student is under the day's cap, in one transaction:
        of 20 requests at once with 5 left, exactly 5 are queued."""
        day_start, now = _aware(day_start, "day_start"), _aware(now, "now")
        _checked(submission_id, "A submission id", ID_CHARS)
        _checked(run_id, "A run id", RUN_ID_CHARS)
        if not _findable(student_id, ID_CHARS):
            raise ClassroomError("This student is not registered in this challenge.")
        with self._transaction(write=True) as connection:
            challenge = self._locked_challenge(connection, challenge_id, exclusive=False)
            if challenge.is_closed(now):
                raise ClassroomError(f"Challenge {challenge_id} is closed; it takes no more submissions.")
            # The student's row, locked: their concurrent requests count one after the other (PostgreSQL).
            student = connection.execute(
                sa.select(students.c.student_id)
                .where(students.c.student_id == student_id, students.c.challenge_id == challenge_id)
                .with_for_update()
            ).first()
            if student is None:
                raise ClassroomError("This student is not registered in this challenge.")
            used = connection.execute(
                sa.select(sa.func.count())
                .select_from(submissions)
                .where(
                    submissions.c.student_id == student_id,
                    submissions.c.created_at >= day_start,
                    # A submission the server failed to train (out of memory, a restart) costs the student nothing.
                    submissions.c.status != "failed",
                )
            ).scalar_one()
            if used >= daily_cap:
                raise ClassroomError(
                    f"The daily cap of {daily_cap} submission{'s' if daily_cap != 1 else ''} is reached "
                    f"({used} since {day_start:%Y-%m-%d %H:%M} UTC); try again after the day turns (UTC)."
                )
            record = SubmissionRecord(
                submission_id=submission_id,
                challenge_id=challenge_id,
                student_id=student_id,
                run_id=run_id,
                created_at=now,
                status="queued",
                message="",
                public_accuracy=None,
                private_accuracy=None,
                public_correct=None,
                confusion_json=None,
                private_confusion_json=None,
                final=False,
            )
            connection.execute(submissions.insert().values(**record.__dict__))
        return record

    def record_score(
        self,
        submission_id: str,
        status: str,
        message: str = "",
        public_accuracy: float | None = None,
        private_accuracy: float | None = None,
        public_correct: bytes | None = None,
        confusion_json: str | None = None,
        private_confusion_json: str | None = None,
    ) -> SubmissionRecord:
        """A submission's progress or result ("training", then "scored" with its scores, or "failed")."""
        for label, text in (("public confusion", confusion_json), ("private confusion", private_confusion_json)):
            if text is not None and "\x00" in text:
                raise ValueError(f"the {label} JSON holds a NUL character; JSON text written by json.dumps never does")
        # A failure's message may quote anything (a file name, an exception); PostgreSQL refuses NUL in text, so
        # NUL is written out visibly rather than losing the whole record.
        message = message.replace("\x00", "\\x00")
        if not _findable(submission_id, ID_CHARS):
            raise ClassroomError(f"No submission {submission_id[:64]!r}.")
        if status not in STATUSES:
            raise ValueError(f"status {status!r} is not one of {', '.join(STATUSES)}")
        for label, value in (("public", public_accuracy), ("private", private_accuracy)):
            if value is not None and not 0.0 <= value <= 1.0:
                raise ValueError(f"{label} accuracy {value} is outside 0..1")
        with self._transaction(write=True) as connection:
            updated = connection.execute(
                submissions.update()
                .where(submissions.c.submission_id == submission_id)
                .values(
                    status=status,
                    message=message,
                    public_accuracy=public_accuracy,
                    private_accuracy=private_accuracy,
                    public_correct=public_correct,
                    confusion_json=confusion_json,
                    private_confusion_json=private_confusion_json,
                )
            )
            if updated.rowcount != 1:
                raise ClassroomError(f"No submission {submission_id[:64]!r}.")
            row = connection.execute(submissions.select().where(submissions.c.submission_id == submission_id)).one()
        return _record(SubmissionRecord, row)

    def submissions(self, challenge_id: str, student_id: str | None = None) -> list[SubmissionRecord]:
        """Oldest first (the Ladder replays them in order)."""
        if not _findable(challenge_id, 16) or (student_id is not None and not _findable(student_id, ID_CHARS)):
            return []
        query = submissions.select().where(submissions.c.challenge_id == challenge_id)
        if student_id is not None:
            query = query.where(submissions.c.student_id == student_id)
        with self._transaction(write=False) as connection:
            rows = connection.execute(query.order_by(submissions.c.created_at, submissions.c.submission_id))
            return [_record(SubmissionRecord, row) for row in rows]

    def choose_final(
        self, challenge_id: str, student_id: str, submission_ids: Sequence[str], now: datetime | None = None
    ) -> None:
        """The student's final choice for the private board: these submissions, and none of their others (an empty
        choice = the default, best public). Only their own, and only while the challenge is open: after close the
        private scores are shown, and choosing by them would be choosing with the answers."""
        now = _aware(now or datetime.now(UTC), "now")
        chosen = set(submission_ids)
        if not _findable(student_id, ID_CHARS):
            raise ClassroomError("This student is not registered in this challenge.")
        with self._transaction(write=True) as connection:
            if self._locked_challenge(connection, challenge_id, exclusive=False).is_closed(now):
                raise ClassroomError(f"Challenge {challenge_id} is closed; final submissions can no longer change.")
            own = set(
                connection.execute(
                    sa.select(submissions.c.submission_id)
                    .where(submissions.c.challenge_id == challenge_id, submissions.c.student_id == student_id)
                    .with_for_update()
                ).scalars()
            )
            if chosen - own:
                # Not said which: whether another student's id exists is itself not for this student to learn.
                raise ClassroomError("Only your own submissions in this challenge can be chosen as final.")
            mine = (submissions.c.challenge_id == challenge_id) & (submissions.c.student_id == student_id)
            connection.execute(
                submissions.update().where(mine).values(final=submissions.c.submission_id.in_(sorted(chosen)))
            )

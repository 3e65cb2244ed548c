"""Database fixtures: every classroom database test runs on SQLite and on a real PostgreSQL server.

PostgreSQL: `DIGIT_LAB_TEST_DATABASE_URL` when set (.ci/run starts a server and sets it), else a throwaway server
started here with tests/postgres_server.py (Debian's binaries), else the PostgreSQL cases skip and say why. Each test
gets a fresh database on that server, so every test also migrates an empty database from scratch.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from engine.classroom.database import DATABASE_URL_ENV, ClassroomDB
from tests import postgres_server

TEST_DATABASE_URL_ENV = "DIGIT_LAB_TEST_DATABASE_URL"


@pytest.fixture(autouse=True)
def no_real_classroom_database(monkeypatch):
    """A developer's own DIGIT_LAB_DATABASE_URL (a real class's database) is never opened by a test."""
    monkeypatch.delenv(DATABASE_URL_ENV, raising=False)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A PostgreSQL server's URL for the whole session (its databases are per test)."""
    given = os.environ.get(TEST_DATABASE_URL_ENV, "").strip()
    if given:
        yield given
        return
    # Not pytest's tmp_path: that sits in a root-only folder the server's own (non-root) user cannot enter.
    folder = Path(tempfile.mkdtemp(prefix="digitlab-pg-"))
    try:
        try:
            url = postgres_server.start(folder, owner_pid=os.getpid())
        except postgres_server.PostgresUnavailable as why:
            pytest.skip(f"no PostgreSQL server for the classroom tests: {why}")
        yield url
    finally:
        postgres_server.stop(folder)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path) -> Iterator[str]:
    """A URL of an empty database of each kind."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'classroom.db'}"
        return
    server = sa.make_url(request.getfixturevalue("postgres_url"))
    name = f"classroom_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture
def classroom_db(database_url) -> Iterator[ClassroomDB]:
    database = ClassroomDB.open(database_url)
    yield database
    database.close()

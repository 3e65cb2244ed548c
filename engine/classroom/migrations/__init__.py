"""The classroom database's Alembic migrations (run in code by `engine.classroom.database`; no alembic.ini)."""

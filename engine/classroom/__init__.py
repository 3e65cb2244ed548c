"""The classroom: an instructor's challenge on one hosted link, with a hidden test split and a fair leaderboard.

- `spec`      what a challenge is (frozen, typed): dataset, title, locked limits, daily cap, closing time, the private
              share of the test set
- `split`     the hidden split: the test set cut (seeded, stratified) into a public and a private part
- `ladder`    the public board's rule (the Ladder, Blum & Hardt 2015): a new best only past the public split's noise
- `roster`    a roster CSV, validated like every untrusted file
- `tokens`    secrets: random, stored as digests, compared in constant time
- `database`  challenges, students, submissions and scores in SQLite (default) or PostgreSQL (SQLAlchemy, Alembic)
- `scoring`   a submission trained through the server's pipeline on the public view, scored on both parts
- `service`   what the CLI and the Classroom page call: create, join, submit, boards, close, export
"""

"""The classroom as an attacker would try it (family `classroom`): other students' and odd tokens, the cap, the closing
time, locked settings, hostile names and rosters, ids that are paths or SQL, a database URL that goes nowhere. A case
is clean when the command refuses in one line (exit 2) or does what it should, and nothing leaks: no private score
before close, no token but the caller's own, no submission recorded for a refused request."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from tests.probe.fixtures import HOSTILE, Case, cli_in_process, one_line_error


def classroom_cases(work: Path) -> list[Case]:
    folder = work / "classroom"
    folder.mkdir(parents=True, exist_ok=True)
    state: dict[str, object] = {}

    def environment() -> None:
        os.environ["DIGIT_LAB_CACHE"] = str(folder / "cache")
        os.environ["DIGIT_LAB_DATABASE_URL"] = f"sqlite:///{folder / 'classroom.db'}"

    def challenge() -> dict:
        """One challenge with two roster students, made on first use (tiny limits: trainings take a second)."""
        environment()
        if "created" not in state:
            roster = folder / "roster.csv"
            roster.write_text("name\nAna\nBen\n", encoding="utf-8")
            code, out, err = cli_in_process(
                "challenge", "create", "--dataset", "digits", "--title", "Probe", "--max-epochs", "1",
                "--max-train", "200", "--daily-submissions", "2", "--editable", "epochs,seed",
                "--roster", str(roster), "--json",
            )  # fmt: skip
            if code != 0:
                raise RuntimeError(f"could not create the probe's challenge: {err.strip()}")
            state["created"] = json.loads(out)
        return state["created"]  # type: ignore[return-value]

    def token(link: str, key: str) -> str:
        return parse_qs(urlparse(link).query)[key][0]

    def submissions() -> int:
        from engine.classroom.service import classroom_db

        return len(classroom_db().submissions(challenge()["challenge_id"]))

    def refused(name: str, argv: object, expect: str = "") -> Case:
        """`argv` is a list, or a function of the challenge giving one; refused in one line, nothing recorded."""

        def check() -> str:
            created = challenge()
            args = argv(created) if callable(argv) else argv
            before = submissions()
            code, out, err = cli_in_process(*args)
            problem = one_line_error(code, err)
            if problem:
                return problem
            if expect and expect not in err:
                return f"refused, but not saying {expect!r}: {err.strip()[-200:]}"
            if created["instructor_token"] in out + err:
                return "the instructor token was echoed"
            if submissions() != before:
                return "a refused request recorded a submission"
            return ""

        return Case("classroom", name, check)

    def ana(created: dict) -> str:
        return token(created["students"][0]["link"], "student")

    cases = []
    odd_tokens = {
        "empty": "",
        "one character off": None,
        "10 kB": "A" * 10_000,
        "unicode lookalike": "Ａ" * 32,
        "newline": "A" * 16 + "\n" + "A" * 15,
        "SQL": "' OR 1=1 --" + "A" * 21,
        "the instructor's": "INSTRUCTOR",
        "another challenge's student": "OTHER",
    }

    def submit_with(kind: str, value: str | None):
        def argv(created: dict) -> list[str]:
            if value is None:
                real = ana(created)
                given = real[:-1] + ("B" if real[-1] != "B" else "C")
            elif value == "INSTRUCTOR":
                given = created["instructor_token"]
            elif value == "OTHER":
                given = other_student()
            else:
                given = value
            return ["submit", "--challenge", created["challenge_id"], "--student", given, "--json"]

        return argv

    def other_student() -> str:
        if "other" not in state:
            code, out, _ = cli_in_process("challenge", "create", "--dataset", "digits", "--title", "Other", "--json")
            state["other"] = token(json.loads(out)["student_link"], "join")  # a join token: no student's token
        return state["other"]  # type: ignore[return-value]

    for kind, value in odd_tokens.items():
        expect = "needs the student token" if value == "" else "No such challenge, or the token"
        cases.append(refused(f"submit with a token that is {kind}", submit_with(kind, value), expect))
    for name, challenge_id in {
        "a path": "../../etc/passwd",
        "SQL": "x' OR '1'='1",
        "huge": "f" * 100_000,
        "unicode": "ｆ" * 16,
    }.items():
        cases.append(
            refused(
                f"submit to a challenge id that is {name}",
                lambda created, cid=challenge_id: ["submit", "--challenge", cid, "--student", ana(created)],
                "No such challenge, or the token",
            )
        )
        cases.append(
            refused(f"leaderboard of a challenge id that is {name}", ["challenge", "leaderboard", challenge_id])
        )
    for verb in ("close", "export"):
        cases.append(
            refused(
                f"{verb} with a student's token",
                lambda created, v=verb: ["challenge", v, created["challenge_id"], "--token", ana(created)],
                "instructor token",
            )
        )

    def as_ana(*extra: str) -> Callable[[dict], list[str]]:
        return lambda created: ["submit", "--challenge", created["challenge_id"], "--student", ana(created), *extra]

    cases.append(refused("a locked setting (learning rate)", as_ana("--lr", "0.9"), "locked learning_rate"))
    cases.append(refused("epochs over the cap", as_ana("--epochs", "50"), "cap"))
    for name, roster_text in {
        "Latin-1": "name\nJos\xe9\n".encode("latin-1"),
        "bidi override": "name\nA\u202eB\n".encode(),
        "NUL": b"name\nA\x00B\n",
        "duplicates": b"name\nAna\n ana \n",
        "501 names": ("name\n" + "\n".join(f"s{i}" for i in range(501))).encode(),
    }.items():
        path = folder / f"roster-{len(cases)}.csv"
        path.write_bytes(roster_text)
        cases.append(
            refused(
                f"a roster with {name}",
                ["challenge", "create", "--dataset", "digits", "--title", "R", "--roster", str(path)],
            )
        )
    for name, title in {"a line break": "a\nb", "bidi": "a\u202eb", "250 characters": "t" * 250}.items():
        cases.append(refused(f"a title with {name}", ["challenge", "create", "--dataset", "digits", "--title", title]))

    def join_hostile() -> str:
        created = challenge()
        code, out, err = cli_in_process(
            "challenge", "join", created["challenge_id"], "--name", HOSTILE[:60],
            "--join", token(created["student_link"], "join"), "--json",
        )  # fmt: skip
        if code != 0:
            return f"a printable hostile name was refused: {err.strip()[-200:]}"
        if json.loads(out)["name"] != HOSTILE[:60].strip():
            return "the name was altered"
        code, out, _ = cli_in_process("challenge", "leaderboard", created["challenge_id"], "--json")
        return "" if code == 0 else "the board broke on a hostile name"

    cases.append(Case("classroom", "join under a name full of Markdown and HTML (kept literal)", join_hostile))

    def private_waits_for_close() -> str:
        created = challenge()
        code, out, err = cli_in_process(
            "submit", "--challenge", created["challenge_id"], "--student", ana(created), "--seed", "5", "--json"
        )
        if code != 0:
            return f"a valid submission failed: {err.strip()[-200:]}"
        if json.loads(out)["private_score"] is not None:
            return "a private score before close"
        code, out, _ = cli_in_process("challenge", "leaderboard", created["challenge_id"], "--json")
        if json.loads(out)["private"] is not None:
            return "the private board before close"
        code, out, _ = cli_in_process("challenge", "show", created["challenge_id"], "--student", ana(created), "--json")
        history = json.loads(out)["history"]["submissions"]
        if any(row["private_accuracy"] is not None for row in history):
            return "a private score in the student's history before close"
        return ""

    cases.append(Case("classroom", "no private score anywhere a student looks before close", private_waits_for_close))

    def unreachable_database() -> str:
        environment()
        os.environ["DIGIT_LAB_DATABASE_URL"] = "postgresql+psycopg://probe:s3cret@127.0.0.1:1/none?connect_timeout=2"
        try:
            from engine.classroom import service

            service._databases.clear()
            code, _, err = cli_in_process("challenge", "leaderboard", "0123456789abcdef")
        finally:
            environment()
        problem = one_line_error(code, err)
        return problem or ("the password was shown" if "s3cret" in err else "")

    cases.append(Case("classroom", "a database URL that goes nowhere (with a password)", unreachable_database))
    return cases

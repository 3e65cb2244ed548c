"""`digit-lab challenge ...` and `digit-lab submit` as an instructor and a student type them: the JSON the issue names,
one-line refusals (exit 2) for what cannot be honoured, and no token echoed back that the caller did not just get."""

from __future__ import annotations

import csv
import io
import json

import pytest

from engine.cli import main


@pytest.fixture
def classroom(tmp_path, monkeypatch):
    monkeypatch.setenv("DIGIT_LAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("DIGIT_LAB_DATABASE_URL", f"sqlite:///{tmp_path / 'classroom.db'}")
    return tmp_path


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def create(capsys, tmp_path, *extra: str) -> dict:
    roster = tmp_path / "class.csv"
    roster.write_text("name\nAna\nBen\n", encoding="utf-8")
    code, out, err = run(
        capsys,
        "challenge", "create", "--dataset", "digits", "--title", "Week 1", "--max-epochs", "1", "--max-train", "200",
        "--daily-submissions", "2", "--editable", "epochs,seed", "--roster", str(roster), "--json", *extra,
    )  # fmt: skip
    assert code == 0, err
    return json.loads(out)


def token_in(link: str, key: str) -> str:
    from urllib.parse import parse_qs, urlparse

    return parse_qs(urlparse(link).query)[key][0]


def test_an_instructor_and_a_student_from_the_shell(classroom, capsys):
    created = create(capsys, classroom)
    assert {"challenge_id", "student_link", "instructor_token"} <= set(created)
    challenge, instructor = created["challenge_id"], created["instructor_token"]
    ana = token_in(created["students"][0]["link"], "student")

    code, out, err = run(capsys, "submit", "--challenge", challenge, "--student", ana, "--seed", "1", "--json")
    assert code == 0, err
    answer = json.loads(out)
    assert {"submission_id", "run_id", "public_score"} <= set(answer)
    assert answer["private_score"] is None  # open: nothing private
    assert ana not in out and instructor not in out

    # A closer look at the submission: its public confusion (oracle: scikit-learn on the stored run's predictions) and
    # per-class scores read off it; nothing private while open.
    from sklearn.metrics import confusion_matrix

    from engine.store import RunStore

    stored = RunStore().get(answer["run_id"])
    expected = confusion_matrix(stored.test_labels(), stored.test_probabilities().argmax(axis=1), labels=range(10))
    code, out, err = run(capsys, "challenge", "show", challenge, "--student", ana, "--submission",
                         answer["submission_id"], "--json")  # fmt: skip
    assert code == 0, err
    closer = json.loads(out)["submission"]
    assert closer["public_confusion"] == expected.tolist()
    assert closer["private_confusion"] is None and closer["private_report"] is None
    row = expected[7]
    assert closer["public_report"]["7"]["recall"] == pytest.approx(row[7] / row.sum() if row.sum() else 0.0)
    code, _, err = run(capsys, "challenge", "show", challenge, "--submission", answer["submission_id"])
    assert code == 2 and "needs --student" in err

    code, out, err = run(capsys, "challenge", "final", challenge, "--student", ana, "--submission",
                         answer["submission_id"], "--json")  # fmt: skip
    assert code == 0 and json.loads(out)["final"] == answer["submission_id"], err

    code, out, _ = run(capsys, "challenge", "leaderboard", challenge, "--json")
    board = json.loads(out)
    assert board["private"] is None and [row["student"] for row in board["public"]] == ["Ana"]
    assert "Ladder" in board["rule"]

    assert run(capsys, "challenge", "close", challenge, "--token", instructor, "--json")[0] == 0
    code, out, _ = run(capsys, "challenge", "leaderboard", challenge, "--json")
    (final,) = json.loads(out)["private"]
    assert (
        final["private_accuracy"] is not None and final["chosen"] and final["submission_id"] == answer["submission_id"]
    )

    code, out, _ = run(capsys, "challenge", "show", challenge, "--student", ana, "--submission",
                       answer["submission_id"], "--json")  # fmt: skip
    after = json.loads(out)["submission"]
    assert after["private_confusion"] is not None and after["private_report"]["accuracy"]["f1-score"] == pytest.approx(
        after["private_accuracy"]
    )

    code, out, _ = run(capsys, "challenge", "export", challenge, "--token", instructor)
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [row["student"] for row in rows] == ["Ana", "Ben"]

    code, _, err = run(capsys, "submit", "--challenge", challenge, "--student", ana, "--json")
    assert code == 2 and "closed" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("challenge", "create", "--dataset", "digits", "--title", "x", "--max-epochs", "0"), "outside 1..100"),
        (("challenge", "create", "--dataset", "digits", "--title", "x", "--closes", "friday"), "ISO 8601"),
        (("challenge", "create", "--dataset", "digits", "--title", "x", "--editable", "optimizer"), "cannot be given"),
        (("challenge", "create", "--dataset", "no-such-set", "--title", "x"), "no-such-set"),
        (("challenge", "close", "0123456789abcdef", "--token", "A" * 32), "No such challenge, or the token"),
        (("challenge", "export", "0123456789abcdef"), "needs the instructor token"),
        (("submit", "--challenge", "0123456789abcdef", "--student", "B" * 32), "No such challenge, or the token"),
        (("challenge", "leaderboard", "../../etc"), "No challenge"),
    ],
)
def test_what_cannot_be_honoured_is_one_line_and_exit_2(classroom, capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_a_locked_setting_and_the_daily_cap_from_the_shell(classroom, capsys):
    created = create(capsys, classroom)
    challenge, ana = created["challenge_id"], token_in(created["students"][0]["link"], "student")
    code, _, err = run(capsys, "submit", "--challenge", challenge, "--student", ana, "--lr", "0.5")
    assert code == 2 and "locked learning_rate" in err
    for seed in ("1", "2"):
        assert run(capsys, "submit", "--challenge", challenge, "--student", ana, "--seed", seed)[0] == 0
    code, _, err = run(capsys, "submit", "--challenge", challenge, "--student", ana, "--seed", "3")
    assert code == 2 and "daily cap of 2" in err


def test_a_roster_that_is_not_utf8_is_refused_where_it_goes_wrong(classroom, capsys):
    """The CLI hands the roster's bytes to its reader, which names the line and byte (not a JSON reader's words)."""
    roster = classroom / "latin1.csv"
    roster.write_bytes("name\nJos\xe9\n".encode("latin-1"))
    code, _, err = run(capsys, "challenge", "create", "--dataset", "digits", "--title", "x", "--roster", str(roster))
    assert code == 2 and "line 2" in err.lower() and "JSON" not in err
    code, _, err = run(capsys, "challenge", "create", "--dataset", "digits", "--title", "x", "--roster", str(classroom))
    assert code == 2 and "--roster" in err and "CSV" in err and len(err.strip().splitlines()) == 1


def test_the_split_seed_is_drawn_at_random_and_never_shown_to_a_student(classroom, capsys):
    """With the seed and MNIST's public test labels anyone could recompute which test images are private."""
    first, second = create(capsys, classroom), create(capsys, classroom)
    seeds = []
    for created in (first, second):
        code, out, err = run(capsys, "challenge", "show", created["challenge_id"], "--token",
                             created["instructor_token"], "--json")  # fmt: skip
        assert code == 0, err
        seeds.append(json.loads(out)["spec"]["split_seed"])
    assert seeds[0] != seeds[1]  # two draws from 2**32 seeds: equal with probability 2**-32

    ana = token_in(first["students"][0]["link"], "student")
    code, out, err = run(capsys, "challenge", "show", first["challenge_id"], "--student", ana, "--json")
    assert code == 0, err
    shown = json.loads(out)
    assert "split_seed" not in shown["spec"] and "history" in shown and "summary" not in shown

    code, out, err = run(capsys, "challenge", "create", "--dataset", "digits", "--title", "T", "--split-seed", "7",
                         "--json")  # fmt: skip
    code, out, err = run(capsys, "challenge", "show", json.loads(out)["challenge_id"], "--token",
                         json.loads(out)["instructor_token"], "--json")  # fmt: skip
    assert json.loads(out)["spec"]["split_seed"] == 7

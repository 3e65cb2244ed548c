"""The Classroom page through Streamlit's AppTest: the admin secret guards creating; a link's token leaves the
address bar; a student sees only what the engine lets a student see (no private number before close) and only the
settings the instructor left open; odd tokens are one plain refusal; hostile names show literally."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest

from tests.dashboard.conftest import literal, open_page

PAGE = "views/classroom.py"
SECRET = "correct horse battery staple"


@pytest.fixture
def classroom(tmp_path, monkeypatch):
    """A fresh cache and classroom database; returns the database URL."""
    url = f"sqlite:///{tmp_path / 'classroom.db'}"
    monkeypatch.setenv("DIGIT_LAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("DIGIT_LAB_DATABASE_URL", url)
    monkeypatch.delenv("DIGIT_LAB_ADMIN_TOKEN", raising=False)
    return url


def tiny_challenge(roster=("Ana",), title="Digits, week 1", **limits):
    from engine.classroom import service
    from engine.classroom.spec import ChallengeLimits, ChallengeSpec

    chosen = {"max_epochs": 1, "max_train": 200, "editable": ("epochs", "seed"), **limits}
    spec = ChallengeSpec("digits", title, "Beat the baseline.\n*not emphasis*", limits=ChallengeLimits(**chosen))
    return service.create_challenge(spec, roster=roster)


def token_of(link: str, key: str) -> str:
    return parse_qs(urlparse(link).query)[key][0]


def everything_shown(app) -> str:
    """Every text the page shows a reader: Markdown bodies (escapes resolved), plain text, codes, alerts, metrics,
    widget labels and every table cell."""
    parts: list[str] = []
    for kind in ("title", "subheader", "markdown", "caption", "text", "code", "error", "warning", "info", "success"):
        parts += [literal(element.value) for element in app.get(kind)]
    parts += [f"{m.label} {m.value}" for m in app.get("metric")]
    parts += [frame.value.to_string() for frame in app.dataframe]
    for kind in ("number_input", "text_input", "text_area", "checkbox", "selectbox", "button"):
        parts += [str(getattr(widget, "label", "")) for widget in app.get(kind)]
    return "\n".join(parts)


def refusals(app) -> list[str]:
    return [literal(e.value) for e in app.error]


def test_creating_needs_the_admin_secret(classroom, monkeypatch):
    app = open_page(PAGE)
    assert not app.exception
    assert "must set DIGIT_LAB_ADMIN_TOKEN" in everything_shown(app)  # not configured: creating is off
    assert not app.get("text_input")

    monkeypatch.setenv("DIGIT_LAB_ADMIN_TOKEN", SECRET)
    app = open_page(PAGE)
    secret = app.text_input(key="classroom_admin_secret")
    assert secret.proto.type == secret.proto.PASSWORD
    secret.input("wrong secret")
    app.button(key="classroom_unlock").click().run()
    assert refusals(app) == ["That is not this server's admin secret."]
    assert app.text_input(key="classroom_admin_secret").value == ""  # cleared after use
    assert "classroom_new_title" not in [w.key for w in app.text_input]

    app.text_input(key="classroom_admin_secret").input(SECRET)
    app.button(key="classroom_unlock").click().run()
    assert not app.exception and not app.error
    assert SECRET not in everything_shown(app)
    app.text_input(key="classroom_new_title").input("Week 1: digits")
    app.number_input(key="classroom_new_epochs").set_value(1)
    app.button[0].click()  # the form's Create button (the only button on the page)
    app.run()
    assert not app.exception and not refusals(app)
    codes = [c.value for c in app.code]
    assert any("instructor=" in c for c in codes) and any("join=" in c for c in codes)
    assert "they are not shown again" in everything_shown(app)
    assert "Export grades (CSV)" in [b.label for b in app.get("download_button")]
    assert dict(app.query_params).keys() == {"challenge"}  # the instructor token is not in the address bar


def test_a_join_link_joins_and_leaves_the_address_bar(classroom):
    created = tiny_challenge(roster=())
    app = open_page(PAGE, {"challenge": created.challenge_id, "join": token_of(created.student_link, "join")})
    assert not app.exception and not app.error
    assert list(app.query_params) == ["challenge"]  # the join token is gone from the link
    assert "Beat the baseline.\n*not emphasis*" in [t.value for t in app.text]  # instructions as plain text
    app.text_input(key="classroom_join_name").input("Cleo")
    app.button[0].click()
    app.run()
    assert not app.exception and not app.error
    assert "Signed in as Cleo" in everything_shown(app)
    (personal,) = [c.value for c in app.code]  # the personal link, once, to keep
    token = token_of(personal, "student")
    assert list(app.query_params) == ["challenge"] and token not in str(dict(app.query_params))
    assert "Submit" in [b.label for b in app.button]


def test_a_student_submits_and_sees_no_private_number_before_close(classroom):
    from dashboard.views.classroom_student import percent
    from engine.classroom.database import ClassroomDB
    from engine.classroom.ladder import RULE_TEXT

    created = tiny_challenge()
    token = token_of(created.students[0].link, "student")
    app = open_page(PAGE, {"challenge": created.challenge_id, "student": token})
    assert not app.exception and not app.error
    assert list(app.query_params) == ["challenge"]
    # Only the editable settings (epochs, seed) have widgets; epochs stops at the challenge's cap.
    assert {w.key for w in app.number_input} == {"classroom_set_epochs", "classroom_set_seed"}
    assert app.number_input(key="classroom_set_epochs").max == 1
    assert not app.get("selectbox") and not app.get("checkbox")  # no learning-rate schedule, no augmentation
    app.button[0].click()  # Submit
    app.run(timeout=300)
    assert not app.exception and not app.error, refusals(app)

    with ClassroomDB.open(classroom) as db:
        (record,) = db.submissions(created.challenge_id)
    assert record.status == "scored"
    shown = everything_shown(app)
    assert f"Public accuracy {percent(record.public_accuracy)}" in shown
    assert RULE_TEXT in shown
    assert "Queue position: 0 of the class's submissions ahead of yours." in shown  # alone in the class
    assert "Ana" in app.dataframe[-1].value["student"].tolist()  # the public board
    private = percent(record.private_accuracy)
    if private != percent(record.public_accuracy):  # a coincidence would make the search meaningless
        assert private not in shown
    assert "Private board" not in shown
    assert token not in shown  # the token never comes back to the page
    # The history opens the submission's run on Evaluate (a run on the public view: tests/classroom/test_view_pages.py).
    (history,) = [frame.value for frame in app.dataframe if "public accuracy" in frame.value.columns]
    assert history["run"].tolist() == [f"evaluate?run={record.run_id}"]

    # The final submission for the private board: the default until the student picks one of theirs.
    final = app.selectbox(key="classroom_final")
    assert final.value.startswith("best on the public board")
    final.set_value(final.options[1]).run()
    assert not app.exception and not app.error, refusals(app)
    with ClassroomDB.open(classroom) as db:
        (record,) = db.submissions(created.challenge_id)
    assert record.final


def test_the_instructor_sees_both_boards_and_can_export(classroom):
    from engine.classroom import service

    created = tiny_challenge()
    service.submit(created.challenge_id, token_of(created.students[0].link, "student"), {"epochs": 1, "seed": 0})
    app = open_page(PAGE, {"challenge": created.challenge_id, "instructor": created.instructor_token})
    assert not app.exception and not app.error, refusals(app)
    assert list(app.query_params) == ["challenge"]
    shown = everything_shown(app)
    assert "students see it after close" in shown
    assert "Export grades (CSV)" in [b.label for b in app.get("download_button")]
    assert {"The class's confusion (each student's best, public part)", "Best public accuracy per student"} <= {
        chart_title(c) for c in app.get("plotly_chart")
    }


def chart_title(chart) -> str:
    import json

    title = json.loads(chart.proto.spec).get("layout", {}).get("title", {})
    return title.get("text", "") if isinstance(title, dict) else str(title)


@pytest.mark.parametrize("kind", ["another challenge's student", "huge", "unicode", "instructor as student"])
def test_a_wrong_token_in_the_link_is_one_plain_refusal(classroom, kind):
    created = tiny_challenge()
    other = tiny_challenge(roster=("Zed",), title="Another class")
    token = {
        "another challenge's student": token_of(other.students[0].link, "student"),
        "huge": "A" * 100_000,
        "unicode": "ｔｏｋｅｎ\u202e\u0000" + "é" * 40,
        "instructor as student": created.instructor_token,
    }[kind]
    app = open_page(PAGE, {"challenge": created.challenge_id, "student": token})
    assert not app.exception
    assert refusals(app) == ["No such challenge, or the token is not this challenge's student token."]
    assert list(app.query_params) == ["challenge"]
    assert not app.button and not app.dataframe  # nothing of the challenge shown


def test_a_hostile_display_name_shows_literally(classroom):
    from engine.classroom import service

    created = tiny_challenge(roster=())
    hostile = "**B** <b>x</b> [c](http://e.example) www.e.example a@b.io $x"
    joined = service.join(created.challenge_id, token_of(created.student_link, "join"), hostile)
    app = open_page(PAGE, {"challenge": created.challenge_id, "student": joined.token})
    assert not app.exception and not app.error
    (signed_in,) = [c.value for c in app.caption if "Signed in as" in literal(c.value)]
    assert literal(signed_in) == f"Signed in as {hostile}"
    assert "<b>" not in signed_in and "](" not in signed_in.replace("\\]\\(", "")


def test_the_links_the_engine_hands_out_open_this_page():
    from dashboard.views.classroom_view import CLASSROOM_PAGE
    from engine.classroom import service

    assert service.CLASSROOM_PAGE == CLASSROOM_PAGE
    assert urlparse(service.classroom_link("c0ffee", student="t")).path == f"/{CLASSROOM_PAGE}"


def unlocked_create_form(monkeypatch):
    monkeypatch.setenv("DIGIT_LAB_ADMIN_TOKEN", SECRET)
    app = open_page(PAGE)
    app.text_input(key="classroom_admin_secret").input(SECRET)
    return app.button(key="classroom_unlock").click().run()


def test_a_refused_challenge_or_roster_is_one_plain_refusal(classroom, monkeypatch):
    app = unlocked_create_form(monkeypatch)
    app.button[0].click()  # Create, with no title
    app.run()
    assert not app.exception
    assert refusals(app) == ["A title is 1 to 120 printable characters on one line."]
    assert not app.code  # no link was made


def test_after_close_the_student_sees_the_private_board(classroom):
    from dashboard.views.classroom_student import percent
    from engine.classroom import service
    from engine.classroom.database import ClassroomDB

    created = tiny_challenge()
    token = token_of(created.students[0].link, "student")
    service.submit(created.challenge_id, token, {"epochs": 1, "seed": 0})
    teacher = open_page(PAGE, {"challenge": created.challenge_id, "instructor": created.instructor_token})
    assert teacher.button(key="classroom_close").disabled  # the confirmation comes first
    teacher.checkbox(key="classroom_close_sure").check().run()
    teacher.button(key="classroom_close").click().run()
    assert not teacher.exception and not teacher.error
    assert "Closed: students see both boards." in everything_shown(teacher)

    app = open_page(PAGE, {"challenge": created.challenge_id, "student": token})
    assert not app.exception and not app.error
    with ClassroomDB.open(classroom) as db:
        (record,) = db.submissions(created.challenge_id)
    shown = everything_shown(app)
    assert "Private board" in shown and percent(record.private_accuracy) in shown
    assert "Submit" not in [b.label for b in app.button]  # closed: no more submissions


def test_a_link_with_several_tokens_uses_none(classroom):
    created = tiny_challenge()
    student = token_of(created.students[0].link, "student")
    app = open_page(
        PAGE, {"challenge": created.challenge_id, "student": student, "instructor": created.instructor_token}
    )
    assert not app.exception
    assert refusals(app) == ["This link carries 2 tokens (student, instructor); a classroom link has one."]
    assert list(app.query_params) == ["challenge"]
    assert not app.dataframe  # neither view opened


def test_every_setting_an_instructor_can_open_has_a_bounded_widget(classroom):
    from engine.classroom.spec import STUDENT_SETTINGS
    from engine.limits import train_limits

    created = tiny_challenge(editable=STUDENT_SETTINGS, max_epochs=3)
    app = open_page(PAGE, {"challenge": created.challenge_id, "student": token_of(created.students[0].link, "student")})
    assert not app.exception and not app.error, refusals(app)
    keys = {w.key for kind in ("number_input", "selectbox", "checkbox", "text_area") for w in app.get(kind)}
    assert keys == {f"classroom_set_{name}" for name in STUDENT_SETTINGS}
    assert app.number_input(key="classroom_set_epochs").max == 3
    assert app.number_input(key="classroom_set_limit_train").max == 200  # the challenge's training-image cap
    assert app.number_input(key="classroom_set_label_smoothing").max == train_limits().max_label_smoothing


def test_a_classroom_only_server_shows_the_classroom_and_nothing_that_scores_on_the_whole_test_set(
    classroom, monkeypatch
):
    """On a challenge server the Train page would score a student's model on the whole test set, private part
    included: with DIGIT_LAB_CLASSROOM_ONLY the app is the Classroom page alone, whatever page a link names."""
    from tests.dashboard.conftest import open_app

    monkeypatch.setenv("DIGIT_LAB_CLASSROOM_ONLY", "1")
    home = open_app(expanders=False)
    assert not home.exception
    assert any("Classroom" in title.value for title in home.title)
    assert not any(button.key == "train" for button in home.button)
    train = open_page("views/train.py", expanders=False)  # a link to another page lands on the Classroom page
    assert any("Classroom" in title.value for title in train.title)
    assert not any(title.value == "Train" for title in train.title)

    monkeypatch.delenv("DIGIT_LAB_CLASSROOM_ONLY")
    assert not any("Classroom" in title.value for title in open_app(expanders=False).title)  # the whole lab


def test_on_a_classroom_only_server_a_student_sees_where_a_submission_errs(classroom, monkeypatch):
    """No Evaluate there: the Classroom page itself shows a scored submission's confusion and per-class scores on the
    public part, and on the private part only after close. Oracle: scikit-learn on the run's stored predictions."""
    import numpy as np
    from sklearn.metrics import classification_report, confusion_matrix

    from engine.classroom import service
    from engine.store import RunStore
    from tests.dashboard.conftest import plotly_array

    monkeypatch.setenv("DIGIT_LAB_CLASSROOM_ONLY", "1")
    created = tiny_challenge()
    token = token_of(created.students[0].link, "student")
    outcome = service.submit(created.challenge_id, token, {"epochs": 1, "seed": 0})
    run = RunStore().get(outcome.run_id)
    truth, predicted = run.test_labels(), run.test_probabilities().argmax(axis=1)

    app = open_page(PAGE, {"challenge": created.challenge_id, "student": token})
    assert not app.exception and not app.error, refusals(app)
    titles = [chart_title(c) for c in app.get("plotly_chart")]
    assert "Confusion on the public part" in titles and "Confusion on the private part" not in titles
    (figure,) = [c for c in app.get("plotly_chart") if chart_title(c) == "Confusion on the public part"]
    import json

    heatmap = next(t for t in json.loads(figure.proto.spec)["data"] if t["type"] == "heatmap")
    np.testing.assert_array_equal(plotly_array(heatmap["z"]), confusion_matrix(truth, predicted, labels=range(10)))
    (report,) = [frame.value for frame in app.dataframe if "precision" in frame.value.columns]
    expected = classification_report(truth, predicted, labels=range(10), output_dict=True, zero_division=0)
    for name in ("0", "7", "macro avg"):
        assert report.at[name, "recall"] == pytest.approx(expected[name]["recall"], abs=1e-4)
        assert report.at[name, "precision"] == pytest.approx(expected[name]["precision"], abs=1e-4)
    (history,) = [frame.value for frame in app.dataframe if "public accuracy" in frame.value.columns]
    assert "run" not in history.columns  # no Evaluate to link to

    service.close(created.challenge_id, created.instructor_token)
    after = open_page(PAGE, {"challenge": created.challenge_id, "student": token})
    assert not after.exception and not after.error, refusals(after)
    assert "Confusion on the private part" in [chart_title(c) for c in after.get("plotly_chart")]

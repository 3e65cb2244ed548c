"""The Cross-validation and Compare pages following a job run by a driver process (engine.jobs), from a link.

No driver runs here: the job folders are written by hand in the states a driver leaves (running, cluster lost),
with a stand-in process holding the job id for a live driver. The real driver, Ray and a killed head are in
tests/executors/test_driver_cluster.py.
"""

from __future__ import annotations

import re
import subprocess
import time

import pytest

from engine.architectures import DEFAULT_PRESET
from engine.crossval import fold_tasks
from engine.datasets import load_dataset
from engine.jobs import JobRequest, RunState
from engine.jobs.records import JobStatus, write_pid, write_request, write_status
from engine.runs import get_or_train, preset_request
from tests.dashboard.conftest import literal, open_page

PLANTED = "[click me](http://example.invalid) ![x](http://example.invalid/x.png) <b>bold</b>"


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


def default_fold_tasks(digits, k=3):
    # The sidebar's default model: the default preset with its own recipe, sized for digits.
    spec, config = preset_request(DEFAULT_PRESET, digits)
    return fold_tasks(digits, spec, config, k, DEFAULT_PRESET)


def write_job(job_id, tasks, state, statuses, message="", pid=0, kind="cv", noun="fold"):
    request = JobRequest(kind, noun, f"test job {PLANTED}", "ray", tuple(t.portable() for t in tasks))
    write_request(job_id, request)
    pairs = zip(tasks, statuses, strict=True)
    runs = tuple(RunState(task.label, task.run_id, status=status, epoch=1, epochs=10) for task, status in pairs)
    write_status(JobStatus(job_id, state, runs, message=message, pid=pid, started=time.time()))
    if pid:
        write_pid(job_id, pid)


def test_a_link_to_a_job_whose_cluster_went_away_says_so_and_offers_resume(digits):
    tasks = default_fold_tasks(digits)
    job_id = "1" * 16
    message = f"The Ray cluster went away after 0 of 3 folds; none was stored. {PLANTED}"
    write_job(job_id, tasks, "cluster_lost", ["waiting"] * 3, message=message)
    app = open_page("views/crossval.py", {"folds": "3", "job": job_id})
    assert not app.exception
    [error] = [e for e in app.error if "went away" in e.value]
    assert "after 0 of 3 folds" in error.value
    # Planted Markdown stays text: every bracket, paren and angle bracket is escaped, so nothing becomes a link.
    assert r"\[click me\]\(http" in error.value and r"\<b\>" in error.value
    assert "[click me](http://example.invalid)" in literal(error.value)
    assert [b.label for b in app.button if b.label.startswith("Resume")] == ["Resume: train the other 3 folds"]
    assert app.query_params.get("job") == job_id  # the link keeps the job: a reload finds it again


def test_a_live_job_is_followed_with_its_progress_and_a_stop_button(digits):
    tasks = default_fold_tasks(digits)
    spec, config = tasks[0].request()
    get_or_train(digits, spec, config, preset=DEFAULT_PRESET)  # fold 1 is stored already
    job_id = "2" * 16
    # A stand-in for the driver: a live process whose command line names the job, as the real driver's does.
    stand_in = subprocess.Popen(["sh", "-c", "sleep 60", job_id])
    try:
        write_job(job_id, tasks, "running", ["done", "training", "queued"], pid=stand_in.pid)
        app = open_page("views/crossval.py", {"folds": "3", "job": job_id})
        assert not app.exception
        texts = [p.proto.text for p in app.get("progress")]
        assert any("1 of 3 folds stored" in text for text in texts), texts
        assert any(b.label == "Stop the job" for b in app.button)
        assert not any(b.label.startswith("Run 3-fold") for b in app.button)  # one job at a time for these folds
    finally:
        stand_in.kill()
        stand_in.wait()
    # The stand-in is gone without a final status: the page now reports a lost driver, not a running job.
    app = open_page("views/crossval.py", {"folds": "3", "job": job_id})
    assert any("ended without finishing after 1 of 3 folds; that one is stored" in literal(e.value) for e in app.error)


def test_a_malformed_job_id_in_a_link_is_a_notice(digits):
    app = open_page("views/crossval.py", {"folds": "3", "job": "../../etc"})
    assert not app.exception
    assert any("is not a job id" in w.value for w in app.warning)


def test_hosted_pages_offer_no_ray_without_the_operators_setting(monkeypatch):
    monkeypatch.setenv("DIGIT_LAB_HOSTED", "1")
    monkeypatch.delenv("DIGIT_LAB_ALLOW_RAY", raising=False)
    app = open_page("views/crossval.py", {"folds": "3"})
    assert not app.exception
    assert app.selectbox(key="cv_executor").options == ["this machine"]
    monkeypatch.setenv("DIGIT_LAB_ALLOW_RAY", "1")
    app = open_page("views/crossval.py", {"folds": "3"})
    assert "Ray (RAY_ADDRESS, or a local Ray instance), in a driver process" in app.selectbox(key="cv_executor").options


# What a tampered job folder could hold in each text a page shows: a Markdown link, a bare URL, a www. address and
# a mailto: address (the last three form links by GitHub-flavoured autolinking even when every character is
# escaped). The noun is kept within the 40 characters a request keeps.
HOSTILE_TITLE = "[open](http://evil.example/t) mailto:me@evil.example www.evil.example http://evil.example/x"
HOSTILE_NOUN = "www.evil.example [n](http://e.x)"
HOSTILE_MESSAGE = "Lost: see http://evil.example/m or www.evil.example, mail mailto:me@evil.example [fix](http://e.x)"


def hostile_markdown(app) -> list[str]:
    """Every Markdown source the job panel draws: alerts, captions, progress text, button labels and their help."""
    bodies = [element.value for kind in ("error", "warning", "caption", "markdown") for element in getattr(app, kind)]
    bodies += [p.proto.text for p in app.get("progress")]
    bodies += [b.label for b in app.button] + [b.help or "" for b in app.button]
    return bodies


def assert_no_link_forms(bodies: list[str]) -> None:
    from markdown_it import MarkdownIt

    render = MarkdownIt("commonmark", {"html": True})
    for body in bodies:
        assert "<a " not in render.render(body), body
        # Autolinks form on the text after escapes are resolved: none of their triggers may stay whole.
        unescaped = re.sub(r"\\(.)", r"\1", body)
        assert not re.search(r"://|www\.|@\w", unescaped, re.IGNORECASE), body


def write_hostile_job(job_id, tasks, state, statuses, message):
    request = JobRequest("cv", HOSTILE_NOUN, HOSTILE_TITLE, "ray", tuple(t.portable() for t in tasks))
    write_request(job_id, request)
    pairs = zip(tasks, statuses, strict=True)
    runs = tuple(RunState(task.label, task.run_id, status=status, epoch=1, epochs=10) for task, status in pairs)
    write_status(JobStatus(job_id, state, runs, message=message, started=time.time()))


def test_a_hostile_job_folder_forms_no_link_in_the_ended_panel(digits):
    tasks = default_fold_tasks(digits)
    job_id = "3" * 16
    write_hostile_job(job_id, tasks, "failed", ["waiting"] * 3, HOSTILE_MESSAGE)
    app = open_page("views/crossval.py", {"folds": "3", "job": job_id})
    assert not app.exception
    bodies = hostile_markdown(app)
    assert any("Lost: see http://evil.example/m" in literal(body) for body in bodies)  # shown, not dropped
    assert any(literal(b.label) == f"Resume: train the other 3 {HOSTILE_NOUN}s" for b in app.button)
    assert_no_link_forms(bodies)


def test_a_hostile_job_folder_forms_no_link_in_the_live_panel(digits):
    tasks = default_fold_tasks(digits)
    job_id = "4" * 16
    # "starting" with no driver pid yet is followed live for a grace period: the progress line is drawn.
    write_hostile_job(job_id, tasks, "starting", ["waiting"] * 3, "")
    app = open_page("views/crossval.py", {"folds": "3", "job": job_id})
    assert not app.exception
    bodies = hostile_markdown(app)
    progress = [literal(p.proto.text) for p in app.get("progress")]
    assert any(f"{HOSTILE_TITLE}: 0 of 3 {HOSTILE_NOUN}s stored" in text for text in progress), progress
    assert_no_link_forms(bodies)

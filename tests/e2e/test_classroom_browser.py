"""A student's link in a real browser: the Classroom page opens on it, the token leaves the address bar, one
submission trains within the challenge's locks, and the score shows, on a whole lab's server and on a Classroom-only
one (DIGIT_LAB_CLASSROOM_ONLY), where the link's /classroom address must reach the Classroom page and the student sees
where the submission errs on the page itself (no Evaluate there). The server log must hold no traceback."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest

from bench.live_app import browser, start_server, stop_server, wait_healthy, wait_text
from tests.e2e.test_browser import _click_button


@pytest.mark.parametrize("classroom_only", [False, True], ids=["whole-lab", "classroom-only"])
def test_a_student_link_submits_once_and_sees_the_score(tmp_path, monkeypatch, classroom_only):
    from engine.classroom import service
    from engine.classroom.spec import ChallengeLimits, ChallengeSpec

    cache = tmp_path / "cache"
    monkeypatch.setenv("DIGIT_LAB_CACHE", str(cache))
    monkeypatch.setenv("DIGIT_LAB_DATABASE_URL", f"sqlite:///{tmp_path / 'classroom.db'}")
    limits = ChallengeLimits(max_epochs=1, max_train=200, editable=("epochs", "seed"))
    created = service.create_challenge(ChallengeSpec("digits", "Browser week", limits=limits), roster=("Ana",))
    token = parse_qs(urlparse(created.students[0].link).query)["student"][0]

    log_path = tmp_path / "streamlit.log"
    # The database URL is inherited from this process.
    process, url = start_server(
        str(cache), str(log_path), env={"DIGIT_LAB_CLASSROOM_ONLY": "1" if classroom_only else None}
    )
    driver = None
    try:
        wait_healthy(url, process, timeout=90, poll=0.5)
        driver = browser()
        driver.set_window_size(1400, 1800)
        driver.get(f"{url}/classroom?challenge={created.challenge_id}&student={token}")
        wait_text(driver, "Signed in as Ana")
        assert token not in driver.current_url and created.challenge_id in driver.current_url
        _click_button(driver, "Submit")
        wait_text(driver, "Public accuracy", timeout=240)
        wait_text(driver, "How the public board works")
        body = driver.find_element("tag name", "body").text
        assert "Traceback" not in body and token not in body
        assert "Page not found" not in body
        if classroom_only:
            assert "Where a submission errs" in body
            assert not driver.find_elements("css selector", '[data-testid="stSidebarNav"] a[href$="/train"]')
    finally:
        if driver is not None:
            driver.quit()
        stop_server(process)
    assert "Traceback" not in log_path.read_text()

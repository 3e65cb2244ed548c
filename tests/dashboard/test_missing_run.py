"""A link to a run that is not in the store: the model pages name the run asked for and the run shown instead,
never presenting one run as the other."""

from __future__ import annotations

import pytest

from tests.dashboard.conftest import literal, open_page

MISSING = "0123456789abcdef0123"  # a well-formed run id that no store here holds


@pytest.mark.parametrize("page", ["views/inspect.py", "views/explain.py"])
def test_a_missing_run_is_named_with_the_run_shown_instead(with_trained_run, page):
    # The sidebar's model is the one the shared cache trained: its stored run is what the page can show.
    query = {"dataset": "digits", "preset": "digitlab-small8", "epochs": "2", "run": MISSING}
    app = open_page(page, query)
    assert not app.exception
    notices = [literal(w.value) for w in app.warning if MISSING in literal(w.value)]
    assert len(notices) == 1, [literal(w.value) for w in app.warning]
    assert f"Run `{MISSING}` is not in the store" in notices[0]
    assert f"Showing run `{with_trained_run}` instead" in notices[0]
    assert "digitlab-small8" in notices[0] and "digits" in notices[0]
    assert app.query_params.get("run") in (with_trained_run, [with_trained_run])  # as the notice says


def test_a_missing_run_with_nothing_to_show_instead_says_so(tmp_path, monkeypatch):
    monkeypatch.setenv("DIGIT_LAB_CACHE", str(tmp_path))
    app = open_page("views/inspect.py", {"dataset": "digits", "run": MISSING})
    assert not app.exception
    [notice] = [literal(w.value) for w in app.warning if MISSING in literal(w.value)]
    assert "has no stored run either" in notice

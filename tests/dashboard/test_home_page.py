"""Home: Delete asks before it removes a run, and an unavailable dataset's message leads to the page whose button
it names."""

from __future__ import annotations

from tests.dashboard.conftest import literal, open_app


def _select_row_of(app, run_id: str):
    """Choose the row of run `run_id` in Home's run table, as a click on it does (other tests' runs share the cache)."""
    table = next(df.value for df in app.dataframe if "run_id" in df.value.columns)
    app.session_state["home_runs"] = {"selection": {"rows": [list(table["run_id"]).index(run_id)], "columns": []}}
    return app.run()


def _has_button(app, key: str) -> bool:
    return any(button.key == key for button in app.button)


def test_delete_asks_first_and_cancel_keeps_the_run(with_trained_run, tmp_path, monkeypatch):
    import os
    import shutil

    from engine.store import RunStore

    cache = tmp_path / "cache"  # a copy of the session's cache: the shared run is left alone
    shutil.copytree(os.environ["DIGIT_LAB_CACHE"], cache)
    monkeypatch.setenv("DIGIT_LAB_CACHE", str(cache))
    monkeypatch.delenv("DIGIT_LAB_HOSTED", raising=False)
    app = _select_row_of(open_app(expanders=False), with_trained_run)
    assert not app.exception

    app.button(key="delete_run").click().run()
    assert RunStore().get(with_trained_run) is not None  # one click removes nothing
    question = [literal(w.value) for w in app.warning if "Delete run" in literal(w.value)]
    assert question and with_trained_run in question[0]
    assert _has_button(app, "delete_run_confirm") and not _has_button(app, "delete_run")

    app.button(key="delete_run_cancel").click().run()
    assert RunStore().get(with_trained_run) is not None
    assert _has_button(app, "delete_run") and not _has_button(app, "delete_run_confirm")
    assert not any("Delete run" in literal(w.value) for w in app.warning)

    app.button(key="delete_run").click().run()
    app.session_state["home_runs"] = {"selection": {"rows": [], "columns": []}}  # the row let go: no question
    _select_row_of(app.run(), with_trained_run)
    assert _has_button(app, "delete_run") and not _has_button(app, "delete_run_confirm")

    app.button(key="delete_run").click().run()
    app.button(key="delete_run_confirm").click().run()
    assert not app.exception
    assert RunStore().get(with_trained_run) is None
    # Gone from the table, and no other run is left chosen in its place (the cache holds other tests' runs too).
    assert all(with_trained_run not in list(df.value.get("run_id", [])) for df in app.dataframe)
    assert not _has_button(app, "delete_run") and not _has_button(app, "open_run")


def test_an_unavailable_datasets_message_on_home_leads_to_the_data_page(tmp_path, monkeypatch):
    """The remembered download failure names "Retry download", a button on the Data page: Home links there."""
    from engine.datasets import mnist_like, network

    monkeypatch.setenv("HOME", str(tmp_path))  # no Keras download cache
    monkeypatch.delenv("KERAS_HOME", raising=False)
    monkeypatch.delenv(mnist_like.MNIST_ENV, raising=False)
    monkeypatch.setattr(network, "_FAILED", {})  # this test's failures are forgotten after it
    monkeypatch.setitem(network.FETCHERS, "mnist", lambda: (_ for _ in ()).throw(OSError("offline")))
    open_app(query={"dataset": "mnist"}, expanders=False)  # the first try fails and is remembered
    app = open_app(query={"dataset": "mnist"}, expanders=False)
    assert not app.exception
    message = " ".join(literal(w.value) for w in app.warning)
    assert "Retry download" in message and "on the Data page" in message
    links = [element.proto for element in app.get("page_link")]
    assert any(link.page == "data" for link in links), links  # the Data page's url path

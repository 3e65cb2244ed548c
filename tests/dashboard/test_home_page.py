"""Home: an unavailable dataset's message leads to the page whose button it names."""

from __future__ import annotations

from tests.dashboard.conftest import literal, open_app


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

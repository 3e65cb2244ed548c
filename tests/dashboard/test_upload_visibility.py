"""Uploads on a hosted server are their uploader's: another visitor's dataset picker, Home's run list, Compare's
choices and the link's messages do not show them until the uploader shares a link naming the upload or its run.
Outside hosted mode the cache is the user's own and everything is listed. Also: the upload's stated size limit is
the one in force, in the caption and in the uploader itself."""

from __future__ import annotations

import io

import numpy as np
import pytest

from dashboard import state
from dashboard.views.data import UPLOAD_KEY
from engine.datasets.uploads import is_upload_name
from tests.dashboard.conftest import literal, open_app, open_page
from tests.datasets.helpers import make_images

COMPARE = "views/compare.py"


def _npz_upload() -> bytes:
    x, y = make_images(40, size=8, seed=7)
    buffer = io.BytesIO()
    np.savez(buffer, x_train=x[:30], y_train=y[:30], x_test=x[30:], y_test=y[30:])
    return buffer.getvalue()


def _upload_in_a_session() -> str:
    """One visitor uploads through the Data page, as in a browser; returns the upload's dataset name."""
    uploader = open_app("views/data.py", expanders=False)
    uploader.file_uploader(key=UPLOAD_KEY).set_value(("mine.npz", _npz_upload(), "application/octet-stream")).run()
    uploader.button(key="data_upload_add").click().run()
    assert not uploader.exception
    name = uploader.session_state[state.DATASET_KEY]
    assert is_upload_name(name)
    assert name in uploader.selectbox(key=state.DATASET_KEY).options  # the uploader's own session sees it
    return name


def _train_on(name: str) -> str:
    """A run trained on dataset `name` for 1 epoch, as a Train page would; returns its id."""
    from engine.datasets import load_dataset
    from engine.runs import get_or_train, preset_request

    dataset = load_dataset(name)
    spec, config = preset_request("digitlab-small8", dataset, epochs=1)
    return get_or_train(dataset, spec, config, preset="digitlab-small8").run.run_id


def _listed_runs(app) -> list[str]:
    """The run ids in Home's run table (none when it shows no table)."""
    return [run_id for frame in app.dataframe for run_id in frame.value.get("run_id", [])]


def _offers(compare_page, dataset_name: str) -> bool:
    """Whether Compare's run choices include a run on `dataset_name` (each choice's label names its dataset)."""
    return any(dataset_name in option for option in compare_page.multiselect(key=state.COMPARE_KEY).options)


@pytest.fixture
def upload_and_run(tmp_path, monkeypatch):
    """A fresh cache on a hosted server holding one visitor's upload and a run trained on it, beside a run on the
    bundled digits that every visitor sees (so the run lists are drawn): (name, run id)."""
    monkeypatch.setenv("DIGIT_LAB_CACHE", str(tmp_path))
    monkeypatch.setenv("DIGIT_LAB_HOSTED", "1")
    name = _upload_in_a_session()
    run_id = _train_on(name)
    public_run = _train_on("digits")
    assert public_run in _listed_runs(open_app(expanders=False))
    return name, run_id


def test_another_visitor_sees_neither_the_upload_nor_its_runs(upload_and_run):
    name, run_id = upload_and_run
    other = open_app(expanders=False)  # a second session: its own session state, the same server and cache
    assert not other.exception
    assert name not in other.selectbox(key=state.DATASET_KEY).options
    assert run_id not in _listed_runs(other)
    compare = open_page(COMPARE, expanders=False)
    assert not compare.exception
    assert not _offers(compare, name)
    # A link naming a dataset that is not here lists the known ones: another visitor's upload is not among them.
    refused = open_app(query={"dataset": "no-such-set"}, expanders=False)
    notices = " ".join(literal(element.value) for element in [*refused.warning, *refused.error, *refused.info])
    assert "no-such-set" in notices and "digits" in notices
    assert name not in notices


def test_the_shared_link_to_the_upload_shows_it_and_its_runs(upload_and_run):
    name, run_id = upload_and_run
    shared = open_app(query={"dataset": name}, expanders=False)
    assert not shared.exception
    assert name in shared.selectbox(key=state.DATASET_KEY).options
    assert shared.session_state[state.DATASET_KEY] == name
    assert run_id in _listed_runs(shared)
    shared.switch_page(COMPARE)
    shared.run()
    assert _offers(shared, name)


def test_a_link_to_a_run_shows_that_run_not_the_upload(upload_and_run):
    name, run_id = upload_and_run
    opened = open_app(query={"run": run_id}, expanders=False)
    assert not opened.exception
    assert run_id in _listed_runs(opened)
    assert name not in opened.selectbox(key=state.DATASET_KEY).options
    compared = open_page(COMPARE, query={"runs": run_id}, expanders=False)
    assert not compared.exception
    assert compared.multiselect(key=state.COMPARE_KEY).value == [run_id]


def test_outside_hosted_mode_every_upload_is_listed(upload_and_run, monkeypatch):
    name, run_id = upload_and_run
    monkeypatch.delenv("DIGIT_LAB_HOSTED")
    other = open_app(expanders=False)
    assert name in other.selectbox(key=state.DATASET_KEY).options
    assert run_id in _listed_runs(other)


@pytest.mark.parametrize(
    "hosted, server_mb, per_file, words",
    [
        ("1", 200, 64, "up to 64 MB in all."),  # Streamlit's default server limit: the uploader said 200 when hosted
        ("1", 64, 64, "up to 64 MB in all."),  # this repository's .streamlit/config.toml
        ("0", 64, 64, "up to 200 MB in all, at most 64 MB a file."),  # local: the engine takes 200, the server 64
        ("0", 500, 200, "up to 200 MB in all."),
    ],
)
def test_the_upload_states_and_enforces_the_limits_in_force(monkeypatch, hosted, server_mb, per_file, words):
    """A file over the server's limit never arrives and an upload over the engine's cap is refused: the caption
    and the uploader (whose own text reads "Limit ... per file") state both, not Streamlit's default 200 MB."""
    from streamlit import config

    monkeypatch.setenv("DIGIT_LAB_HOSTED", hosted)
    monkeypatch.delenv("DIGIT_LAB_MAX_UPLOAD_MB", raising=False)
    before = config.get_option("server.maxUploadSize")
    config.set_option("server.maxUploadSize", server_mb)
    try:
        app = open_app("views/data.py", expanders=False)
    finally:
        config.set_option("server.maxUploadSize", before)
    assert not app.exception
    assert app.file_uploader(key=UPLOAD_KEY).proto.max_upload_size_mb == per_file
    assert any(words in caption.value for caption in app.caption)

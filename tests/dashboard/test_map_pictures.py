"""AppTest of "Pictures on hover" on the Data page's 2-D map and Explain's embedding map (issue 25, item 6): the
Vega-Lite chart carries one thumbnail per point, and each decodes (PIL) to that point's image in the dataset."""

from __future__ import annotations

import json

import numpy as np

from tests.charts.test_thumbnails import decode, expected_pixels
from tests.dashboard.conftest import open_app, open_page, open_tab


def _rows(chart) -> list[dict]:
    """The rows a Vega-Lite chart element was sent (Streamlit moves a spec's inline values into an Arrow table)."""
    from streamlit import dataframe_util

    proto = chart.proto
    spec = json.loads(proto.spec)
    if "data" in spec and "values" in spec["data"]:
        return spec["data"]["values"]
    frame = dataframe_util.convert_arrow_bytes_to_pandas_df(proto.data.data)
    records = frame.to_dict("records")
    return [
        {k: v for k, v in row.items() if v is not None and not (isinstance(v, float) and np.isnan(v))}
        for row in records
    ]


def _charts(app) -> list:
    return list(app.get("vega_lite_chart"))


def test_data_map_pictures_show_each_points_own_image():
    from engine.datasets import load_dataset

    ds = load_dataset("digits")
    app = open_tab(open_app("views/data.py"), "data_tab", "2-D map")
    assert not _charts(app)  # off by default: the Plotly map with box and lasso selection
    app.toggle(key="data_map_pictures").set_value(True).run()
    assert not app.exception
    (chart,) = _charts(app)
    assert json.loads(chart.proto.spec)["title"] == "PCA of 1,000 train images"
    rows = _rows(chart)
    assert len(rows) == 1000 and len({row["index"] for row in rows}) == 1000
    for row in rows:  # one picture per point, the image of that point's own training row
        np.testing.assert_array_equal(decode(row["image"]), expected_pixels(ds.x_train[row["index"]], ds.value_max))
        assert row["class"] == ds.class_names[ds.y_train[row["index"]]]
    assert not [t for t in app.get("plotly_chart") if "PCA of" in t.proto.spec]  # one map, not two
    assert app.query_params.get("pictures") in ("1", ["1"])  # the link carries it


def test_hosted_mode_caps_the_pictures(monkeypatch):
    monkeypatch.setenv("DIGIT_LAB_HOSTED", "1")
    monkeypatch.setenv("DIGIT_LAB_MAX_THUMBNAILS", "50")
    app = open_page("views/data.py", query={"tab": "2-D map", "pictures": "1"})
    assert not app.exception
    rows = _rows(_charts(app)[0])
    assert sum("image" in row for row in rows) == 50 and len(rows) == 1000
    assert any("50 evenly spread points carry a picture" in c.value for c in app.caption)


def test_explain_embedding_maps_pictures_are_the_runs_test_images(with_trained_run):
    from engine.datasets import load_dataset
    from engine.store import RunStore

    digits = load_dataset("digits")
    run = RunStore().get(with_trained_run)
    labels, predicted = run.test_labels(), run.test_probabilities().argmax(axis=1)
    app = open_page("views/explain.py", query={"run": with_trained_run, "tab": "Embedding map", "pictures": "1"})
    assert not app.exception and not app.error
    charts = _charts(app)
    assert [json.loads(c.proto.spec)["title"] for c in charts] == ["Learned features, PCA", "Raw pixels, PCA"]
    for chart in charts:
        rows = _rows(chart)
        assert sorted(row["index"] for row in rows) == list(range(len(labels)))  # PCA: every test image once
        for row in rows:
            i = row["index"]
            np.testing.assert_array_equal(decode(row["image"]), expected_pixels(digits.x_test[i], digits.value_max))
            assert row["answer"] == ("wrong" if predicted[i] != labels[i] else "right")
            assert (row["class"], row["predicted"]) == (str(labels[i]), str(predicted[i]))

"""AppTest of the Data page's Leakage tab on the bundled digits, against a brute-force numpy oracle."""

from __future__ import annotations

import json

import numpy as np

from tests.dashboard.conftest import open_app, open_tab, plotly_array


def _oracle_pairs(threshold: float) -> list[tuple[int, int, float]]:
    """(test row, nearest train row, RMS distance on 0..1) for every digits test image within `threshold`."""
    from engine.datasets import load_dataset

    ds = load_dataset("digits")
    a = ds.x_test.reshape(len(ds.x_test), -1).astype(np.float64) / ds.value_max
    b = ds.x_train.reshape(len(ds.x_train), -1).astype(np.float64) / ds.value_max
    distances = np.array([np.sqrt(((b - row) ** 2).mean(axis=1)) for row in a])  # one test image at a time
    rows = distances.argmin(axis=1)
    return sorted(
        (int(i), int(rows[i]), float(distances[i, rows[i]])) for i in np.flatnonzero(distances.min(axis=1) <= threshold)
    )


def _metric(app, label: str) -> str:
    return next(m.value for m in app.metric if m.label == label)


def test_leakage_tab_finds_nothing_on_digits_at_the_default_threshold():
    app = open_tab(open_app("views/data.py"), "data_tab", "Leakage")
    assert not app.exception
    assert (_metric(app, "Exact copies"), _metric(app, "Near copies")) == ("0", "0")
    assert _metric(app, "Test images compared") == "360"
    assert any("No test image lies within 0.04" in s.value for s in app.success)
    assert not app.get("plotly_chart")  # nothing to draw


def test_leakage_tab_shows_each_pair_side_by_side_with_the_datasets_images():
    from engine.datasets import load_dataset

    ds = load_dataset("digits")
    expected = _oracle_pairs(0.075)
    assert len(expected) >= 2  # the premise: digits has pairs a little above the default threshold
    app = open_tab(open_app("views/data.py"), "data_tab", "Leakage")
    app.number_input(key="data_leak_threshold").set_value(0.075).run()
    assert not app.exception
    assert _metric(app, "Near copies") == str(len(expected))
    table = next(df.value for df in app.dataframe if "train_index" in df.value.columns)
    assert sorted(zip(table["test_index"], table["train_index"], strict=True)) == [(t, r) for t, r, _ in expected]
    for row, (_, _, distance) in zip(table.sort_values("test_index").itertuples(), expected, strict=True):
        assert abs(row.distance - distance) < 1e-9
    figure = json.loads(app.get("plotly_chart")[0].proto.spec)
    z = plotly_array(figure["data"][0]["z"])
    h, w = ds.image_shape[:2]
    tiles = {}
    for note in figure["layout"]["annotations"]:  # each caption sits above its tile: x its centre, y its top
        x0, y0 = round(note["x"] - (w - 1) / 2), round(note["y"] + 0.5)
        tiles[note["text"].split("<br>")[0]] = z[y0 : y0 + h, x0 : x0 + w]
    for test_index, train_index, _ in expected:
        np.testing.assert_array_equal(tiles[f"test #{test_index}"], ds.x_test[test_index].reshape(h, w))
        np.testing.assert_array_equal(tiles[f"train #{train_index}"], ds.x_train[train_index].reshape(h, w))


def test_hosted_caps_the_test_images_compared(monkeypatch):
    monkeypatch.setenv("DIGIT_LAB_HOSTED", "1")
    monkeypatch.setenv("DIGIT_LAB_MAX_LEAKAGE_TEST_IMAGES", "100")
    app = open_tab(open_app("views/data.py"), "data_tab", "Leakage")
    assert not app.exception
    assert _metric(app, "Test images compared") == "100"
    assert any("first 100 of 360 test images" in c.value for c in app.caption)


def test_a_link_restores_the_threshold_and_refuses_one_out_of_range():
    from tests.dashboard.conftest import open_page

    app = open_page("views/data.py", query={"tab": "Leakage", "near": "0.075", "pairs": "1"})
    assert not app.exception
    assert app.number_input(key="data_leak_threshold").value == 0.075
    assert len(next(df.value for df in app.dataframe if "train_index" in df.value.columns)) == 1
    assert _metric(app, "Near copies") == str(len(_oracle_pairs(0.075)))  # the counts cover every pair
    refused = open_page("views/data.py", query={"tab": "Leakage", "near": "2"})
    assert not refused.exception
    assert refused.number_input(key="data_leak_threshold").value == 0.04
    shown = " ".join(str(e.value) for e in [*refused.warning, *refused.error, *refused.text, *refused.markdown])
    assert "near" in shown

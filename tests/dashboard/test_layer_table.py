"""The Train page's layer table shows every layer and its total row: Streamlit's default ("auto") height shows at
most ten rows, header included in the frame, so the total of a nine-layer model was cut off below the fold."""

from __future__ import annotations

import streamlit

from tests.dashboard.conftest import open_page

ROW_PX = 35  # Streamlit's default dataframe row height, the header row included


def test_the_layer_table_is_tall_enough_for_its_total_row(monkeypatch):
    drawn = {}
    original = streamlit.dataframe

    def recording_dataframe(data=None, *args, **kwargs):
        if kwargs.get("key") == "train_layers":
            drawn["rows"], drawn["height"] = len(data), kwargs.get("height", args[1] if len(args) > 1 else "auto")
        return original(data, *args, **kwargs)

    monkeypatch.setattr(streamlit, "dataframe", recording_dataframe)
    app = open_page("views/train.py", {"dataset": "digits", "preset": "digitlab-small8"})
    assert not app.exception
    table = next(df.value for df in app.dataframe if "output shape" in df.value.columns)
    assert table["layer"].iloc[-1] == "total" and drawn["rows"] == len(table) >= 10
    height = drawn["height"]
    assert height == "content" or (isinstance(height, int) and height >= ROW_PX * (len(table) + 1)), height

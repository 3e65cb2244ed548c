"""AppTest of the Data page's Label issues tab: widgets within the limits (hosted caps too), the button training the
folds once, the metrics agreeing with the table's planted flags, and the gallery of doubtful labels."""

from __future__ import annotations

import json

import pytest

from engine.telemetry import counters
from tests.dashboard.conftest import literal, open_app, open_tab

DATA = "views/data.py"


def texts(app) -> str:
    parts = [m.value for m in app.markdown] + [m.value for m in app.caption]
    parts += [e.value for kind in (app.info, app.warning, app.error, app.success) for e in kind]
    return "\n".join(literal(p) for p in parts)


def _issues_tab(folds: int | None = None):
    app = open_tab(open_app(DATA), "data_tab", "Label issues")
    if folds is not None:
        app.number_input(key="data_issues_folds").set_value(folds).run()
    return app


def test_label_issues_tab_trains_the_folds_once_and_shows_the_doubtful_labels():
    app = _issues_tab(folds=2)
    assert not app.exception
    assert "0 of 2 folds cached" in texts(app)
    assert not [c for c in app.get("plotly_chart")]  # nothing computed before the click
    before = counters().get("trainings", 0)
    app.button(key="data_issues_run").click().run()
    assert not app.exception
    assert counters().get("trainings", 0) == before + 2
    table = next(df.value for df in app.dataframe if "suggested" in df.value.columns)
    assert len(table) > 0 and (table["given"] != table["suggested"]).any()
    assert table["confidence"].is_monotonic_increasing and table["confidence"].between(0, 1).all()
    # The metrics shown agree with the table: precision = planted share of the flagged, recall = found / 72 flipped.
    flipped = round(0.05 * 1437)
    shown = next(m.value for m in app.metric if m.label == "Precision / recall")
    assert shown == f"{table['planted'].mean():.2f} / {table['planted'].sum() / flipped:.2f}"
    assert f"{flipped:,} labels were flipped" in texts(app)
    gallery = json.loads(app.get("plotly_chart")[-1].proto.spec)
    title = gallery["layout"]["title"]["text"]
    assert title == f"{min(40, len(table))} most doubtful label(s) of {len(table):,}"
    captions = [a["text"] for a in gallery["layout"]["annotations"] if "→" in a.get("text", "")]
    first = table.iloc[0]
    assert captions[0] == f"{first['given']}→{first['suggested']} {first['confidence']:.2f}"
    # Every fold is stored now: the next view answers without a click and without training.
    app.run()
    assert "2 of 2 folds cached" in texts(app) and not [b for b in app.button if b.key == "data_issues_run"]
    assert counters().get("trainings", 0) == before + 2
    again = next(df.value for df in app.dataframe if "suggested" in df.value.columns)
    assert again.equals(table)


def test_noise_off_looks_for_the_datas_own_issues_without_scores():
    app = _issues_tab()
    app.slider(key="data_issues_noise").set_value(0.0).run()
    assert not app.exception
    assert app.number_input(key="data_issues_seed").disabled
    assert "0 of 5 folds cached" in texts(app)


def test_merged_class_presets_are_not_offered():
    app = _issues_tab()
    options = app.selectbox(key="data_issues_preset").options
    assert "seed004-4class" not in options and "digitlab-small8-v2" in options


@pytest.mark.parametrize("cap, refused", [("5000", False), ("1000", True)])
def test_hosted_mode_caps_folds_and_the_dataset_size(monkeypatch, cap, refused):
    monkeypatch.setenv("DIGIT_LAB_HOSTED", "1")
    monkeypatch.setenv("DIGIT_LAB_MAX_LABEL_ISSUE_IMAGES", cap)
    app = _issues_tab()
    assert not app.exception
    assert app.number_input(key="data_issues_folds").max == 5
    if refused:
        assert "at most 1,000" in texts(app)
        assert not [b for b in app.button if b.key == "data_issues_run"]
    else:
        assert app.button(key="data_issues_run").disabled is False


def test_a_link_opens_the_tab_with_its_settings_and_refuses_what_the_widgets_cannot_show(monkeypatch):
    from tests.dashboard.conftest import open_page

    query = {"tab": "Label issues", "issue_folds": "3", "noise": "0.1", "noise_seed": "4"}
    app = open_page(DATA, query)
    assert not app.exception
    assert app.number_input(key="data_issues_folds").value == 3
    assert app.slider(key="data_issues_noise").value == pytest.approx(0.1)
    assert app.number_input(key="data_issues_seed").value == 4
    assert "0 of 3 folds cached" in texts(app)
    monkeypatch.setenv("DIGIT_LAB_HOSTED", "1")  # hosted: at most 5 folds, so a link's 8 is refused
    app = open_page(DATA, {"tab": "Label issues", "issue_folds": "8", "noise": "0.9", "issue_model": "seed004-4class"})
    assert not app.exception
    warnings = " ".join(literal(w.value) for w in app.warning)
    assert "issue_folds = 8 was not used: must be between 2 and 5" in warnings
    assert "noise = 0.9 was not used" in warnings
    assert "issue_model = seed004-4class was not used" in warnings
    assert app.number_input(key="data_issues_folds").value == 5

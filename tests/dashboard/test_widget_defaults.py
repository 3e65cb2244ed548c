"""Streamlit warns ("was created with a default value but also had its value set via the Session State API") when
a widget is given a default while its key was written through session state, as links and kept view values are.
Widgets whose keys a link or `links.keep_view_state` writes take their defaults from session state instead."""

from __future__ import annotations

import types

import pytest

from tests.dashboard.conftest import open_page, open_tab


@pytest.fixture
def duplication_warnings(monkeypatch):
    """The keys Streamlit's duplication warning names. AppTest runs without a Runtime, where Streamlit skips the
    check: the check is told a runtime exists, and its once-per-process flag is reset so every case is seen."""
    from streamlit.elements.lib import policies

    named: list[str] = []

    def record(message, key, **_):
        named.append(key)
        policies._shown_default_value_warning = False

    monkeypatch.setattr(policies, "runtime", types.SimpleNamespace(exists=lambda: True))
    monkeypatch.setattr(policies, "_shown_default_value_warning", False)
    monkeypatch.setattr(policies._LOGGER, "warning", record)
    return named


@pytest.mark.parametrize("method", ["Grad-CAM", "SmoothGrad", "Integrated gradients", "Occlusion"])
def test_explain_options_from_a_link_and_kept_values_raise_no_duplication_warning(
    with_trained_run, duplication_warnings, method
):
    query = {"run": with_trained_run, "method": method, "opacity": "0.45", "patch": "3", "smooth": "30"}
    app = open_page("views/explain.py", query=query)
    app = open_tab(app, "explain_tab", "Explain a prediction")
    assert not app.exception
    app.run()  # a rerun: `keep_view_state` writes each kept value back through session state
    assert not app.exception
    assert app.slider(key="explain_opacity").value == 0.45
    assert not [key for key in duplication_warnings if key.startswith("explain_")], duplication_warnings


@pytest.mark.parametrize(
    "page", ["views/data.py", "views/train.py", "views/evaluate.py", "views/inspect.py", "views/sweep.py"]
)
def test_other_pages_raise_no_duplication_warning_on_a_rerun(with_trained_run, duplication_warnings, page):
    app = open_page(page, query={"run": with_trained_run})
    app.run()
    assert not app.exception
    assert not duplication_warnings, duplication_warnings


@pytest.mark.parametrize("hosted", [False, True])
def test_adversarial_settings_from_a_link_raise_no_duplication_warning(
    with_trained_run, duplication_warnings, monkeypatch, hosted
):
    if hosted:
        monkeypatch.setenv("DIGIT_LAB_HOSTED", "1")
    query = {"run": with_trained_run, "tab": "Adversarial", "attack": "pgd", "eps_max": "0.05", "eps_points": "2"}
    query |= {"steps": "3", "attacked": "40"}
    app = open_page("views/explain.py", query=query)
    assert not app.exception
    app.run()  # a rerun: `keep_view_state` writes each kept value back through session state
    assert not app.exception
    values = [app.slider(key=k).value for k in ("adv_eps_max", "adv_eps_points", "adv_steps", "adv_images")]
    assert values == [0.05, 2, 3, 40] and app.radio(key="adv_method").value == "pgd"
    assert not [key for key in duplication_warnings if key.startswith("adv_")], duplication_warnings


def test_adversarial_widgets_open_at_their_defaults_without_a_link(with_trained_run, duplication_warnings):
    app = open_page("views/explain.py", query={"run": with_trained_run, "tab": "Adversarial"})
    assert not app.exception
    app.radio(key="adv_method").set_value("pgd").run()
    assert not app.exception
    values = [app.slider(key=k).value for k in ("adv_eps_max", "adv_eps_points", "adv_steps", "adv_images")]
    assert values == [0.3, 7, 10, 360]  # the usual MNIST budget, 7 points, 10 steps, all digits' 360 test images
    assert not [key for key in duplication_warnings if key.startswith("adv_")], duplication_warnings

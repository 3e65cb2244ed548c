"""Hosted mode in the dashboard: caps enforced with the engine's message, destructive controls off."""

from tests.dashboard.conftest import literal, open_app


def test_hosted_mode_caps_epochs_and_parameters(with_trained_run, monkeypatch):
    monkeypatch.setenv("DIGIT_LAB_HOSTED", "1")
    monkeypatch.setenv("DIGIT_LAB_MAX_PARAMETERS", "10000")
    app = open_app()
    assert not app.exception
    assert any("above the limit of 10,000" in literal(e.value) for e in app.error)  # the default model has 13,706
    # The epoch widget stops at the hosted cap: the validator's bound, so no value above it can be chosen.
    assert app.number_input(key="cfg_epochs").max == 30


def test_delete_is_offered_only_outside_hosted_mode(monkeypatch):
    from dashboard import services

    monkeypatch.delenv("DIGIT_LAB_HOSTED", raising=False)
    assert services.hosted() is False
    monkeypatch.setenv("DIGIT_LAB_HOSTED", "1")
    assert services.hosted() is True


def test_hosted_mode_switches_on_from_streamlit_secrets(monkeypatch):
    """Community Cloud hands an app secrets, not environment variables: DIGIT_LAB_HOSTED = true in the Secrets box
    (a TOML boolean, which Streamlit itself does not copy into the environment) must still cap the widgets."""
    import os

    from streamlit.testing.v1 import AppTest

    from tests.dashboard.conftest import HOME, open_sidebar_expanders

    monkeypatch.delenv("DIGIT_LAB_HOSTED", raising=False)
    app = open_sidebar_expanders(AppTest.from_file(HOME, default_timeout=120))
    app.secrets["DIGIT_LAB_HOSTED"] = True
    try:
        app.run()
        assert not app.exception
        assert app.number_input(key="cfg_epochs").max == 30
    finally:
        os.environ.pop("DIGIT_LAB_HOSTED", None)


def test_train_page_shows_the_memory_estimate_and_refuses_one_over_the_budget(monkeypatch):
    monkeypatch.setenv("DIGIT_LAB_HOSTED", "1")
    monkeypatch.setenv("DIGIT_LAB_MEMORY_MB", "5000")
    app = open_app("views/train.py")
    assert not app.exception
    assert any("of this server's 5,000 MB budget for trainings" in c.value for c in app.caption)
    assert not app.button(key="train_button").disabled
    monkeypatch.setenv("DIGIT_LAB_MEMORY_MB", "100")  # below TensorFlow's runtime alone
    app.run()
    refusal = [e.value for e in app.error if "above this server's budget of 100 MB" in e.value]
    assert refusal and "needs an estimated" in refusal[0]
    assert app.button(key="train_button").disabled

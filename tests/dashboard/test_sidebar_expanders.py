"""The sidebar draws its Architecture and Training settings widgets only while their expander is open; closed,
the model and recipe they hold must not change: across page switches, for the link, and for the Train button."""

from engine.architectures import PRESETS, ConvBlock, ModelSpec
from tests.dashboard.conftest import literal, open_app, open_page, open_sidebar_expanders

TRAIN = "views/train.py"
TOUR = ("views/data.py", "views/evaluate.py", "views/compare.py", "views/home.py", TRAIN)
MODEL_KEYS = ("cfg_epochs", "n_conv", "conv1_filters")


def param(app, name: str):
    value = app.query_params.get(name)
    return value[0] if isinstance(value, list) else value


def drawn(app) -> set[str]:
    """Keys of the model and training widgets drawn in the sidebar this run."""
    widgets = [*app.sidebar.number_input, *app.sidebar.selectbox, *app.sidebar.checkbox, *app.sidebar.text_input]
    return {w.key for w in widgets} & {*MODEL_KEYS, "cfg_label_mapping", "spec_optimizer"}


def tour(app):
    """Visit other pages and come back to Train, as a user switching pages with the expanders closed does.

    A browser sends the expanders' state with every rerun; AppTest does not, so it is stated before each run."""
    for page in TOUR:
        open_sidebar_expanders(app, False)
        app.switch_page(page).run()
        assert not app.exception, page
    return app


def test_closed_expanders_draw_no_model_widgets_and_keep_a_presets_recipe_across_pages(with_trained_run):
    query = {"dataset": "digits", "preset": "seed002-uci8x8", "epochs": "7", "seed": "3"}
    app = open_page(TRAIN, query=query, expanders=False)
    assert not app.exception
    assert drawn(app) == set()
    tour(app)
    assert drawn(app) == set()
    preset = PRESETS["seed002-uci8x8"]
    ss = app.session_state
    assert ss["n_conv"] == len(preset.spec.conv_blocks) and ss["dense2_units"] == preset.spec.dense_layers[1].units
    assert (ss["cfg_epochs"], ss["cfg_seed"], ss["cfg_batch_size"]) == (7, 3, preset.config.batch_size)
    for name, value in query.items():
        assert param(app, name) == value, name  # still the preset, not a spec token of widget defaults
    assert param(app, "spec") is None
    # The line under the (closed) expanders still says what is selected.
    assert any(literal(c.value) == "Model: seed002-uci8x8 + epochs 7, seed 3" for c in app.sidebar.caption)
    open_sidebar_expanders(app).run()
    assert app.number_input(key="cfg_epochs").value == 7
    assert app.number_input(key="conv1_filters").value == preset.spec.conv_blocks[0].filters


def test_a_custom_edit_survives_closing_the_expanders_and_switching_pages(with_trained_run):
    app = open_page(TRAIN, query={"dataset": "digits"})
    app.number_input(key="conv1_filters").set_value(13).run()
    app.number_input(key="cfg_epochs").set_value(4).run()
    token = param(app, "spec")
    assert token and param(app, "epochs") == "4"
    open_sidebar_expanders(app, False).run()
    tour(app)
    assert drawn(app) == set()
    assert param(app, "spec") == token and param(app, "epochs") == "4"
    assert ModelSpec.from_token(token).conv_blocks[0].filters == 13
    assert any("Custom model" in c.value for c in app.sidebar.caption)


def test_a_links_spec_token_survives_page_switches_with_the_expanders_closed():
    spec = ModelSpec(conv_blocks=(ConvBlock(12, 5, padding="same"),), dense_layers=(), input_shape=(8, 8, 1))
    app = open_app(query={"dataset": "digits", "spec": spec.to_token()}, expanders=False)
    assert not app.exception
    tour(app)
    carried = ModelSpec.from_token(param(app, "spec"))
    assert (carried.conv_blocks, carried.dense_layers) == (spec.conv_blocks, spec.dense_layers)


def test_the_engines_message_shows_under_closed_expanders():
    bad = ModelSpec(conv_blocks=(ConvBlock(8),) * 4, input_shape=(8, 8, 1))  # four pools on 8x8
    app = open_app(query={"dataset": "digits", "spec": bad.to_token()}, expanders=False)
    assert not app.exception
    assert any("collapse below 1" in literal(e.value) for e in app.sidebar.error)


def test_train_trains_the_selected_recipe_with_the_expanders_closed(tmp_path, monkeypatch):
    import json

    from engine.datasets import load_dataset
    from engine.runs import preset_request
    from engine.store import RunStore

    monkeypatch.setenv("DIGIT_LAB_CACHE", str(tmp_path))
    query = {"dataset": "digits", "preset": "digitlab-small8", "epochs": "1", "seed": "5", "limit": "300"}
    app = tour(open_page(TRAIN, query=query, expanders=False))
    app.button(key="train_button").click().run()
    assert not app.exception
    [run] = RunStore().list()
    # The independent request for the same preset and settings, built by the engine without the dashboard.
    spec, config = preset_request("digitlab-small8", load_dataset("digits"), epochs=1, seed=5, limit_train=300)
    assert run.meta["spec"] == json.loads(json.dumps(spec.to_dict()))  # as stored: JSON
    assert run.meta["config"] == json.loads(json.dumps(config.to_dict()))
    assert run.meta["preset"] == "digitlab-small8"

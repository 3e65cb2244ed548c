"""The link contract: a link restores dataset, model, settings, run and the page's view; a value the engine refuses
is one notice (parameter, value shortened, reason), keeps Train off and presents no stored run as the link's run."""

import pytest

from engine.architectures import DEFAULT_PRESET, PRESETS, ConvBlock, DenseLayer, ModelSpec
from tests.dashboard.conftest import chart_titles, literal, open_app, open_page, open_tab

TRAIN = "views/train.py"


def notices(app) -> list[str]:
    return [literal(w.value) for w in app.warning]


def param(app, name: str):
    value = app.query_params.get(name)
    return value[0] if isinstance(value, list) else value


def train_button(app):
    return next(b for b in app.button if b.label == "Train")


def test_a_plain_visit_publishes_a_link_for_the_default_view():
    app = open_app()
    assert not app.exception
    assert param(app, "dataset") == "digits"
    assert param(app, "preset") == DEFAULT_PRESET == "digitlab-small8-v2"
    assert not notices(app)


def test_a_link_restores_a_preset_with_readable_changed_settings():
    app = open_app(query={"dataset": "digits", "preset": "seed002-uci8x8", "epochs": "7", "seed": "3"})
    assert not app.exception and not notices(app)
    assert app.session_state["preset"] == "seed002-uci8x8"
    assert app.session_state["cfg_epochs"] == 7 and app.session_state["cfg_seed"] == 3
    assert app.session_state["n_conv"] == 3 and app.session_state["dense2_units"] == 512
    assert (param(app, "preset"), param(app, "epochs"), param(app, "seed")) == ("seed002-uci8x8", "7", "3")
    assert param(app, "batch") is None  # the preset's own settings are not repeated


def test_an_older_link_with_a_cfg_token_still_opens():
    from dashboard.links import encode

    app = open_app(query={"dataset": "digits", "preset": "seed002-uci8x8", "cfg": encode({"epochs": 7, "seed": 3})})
    assert not app.exception and not notices(app)
    assert app.session_state["cfg_epochs"] == 7 and app.session_state["cfg_seed"] == 3
    assert param(app, "epochs") == "7" and param(app, "cfg") is None


def test_left_right_flips_travel_in_the_link_and_reach_the_training_recipe():
    app = open_page(TRAIN, query={"dataset": "fashion-mnist", "preset": "digitlab-fast28", "flip": "1"})
    assert not app.exception and not notices(app)
    assert app.session_state["cfg_augment_flip"] is True
    assert any("left-right flips" in literal(c.value) for c in app.caption)  # the recipe Train will run
    assert not [w for w in notices(app) if "mirrored" in w]  # clothing: no warning
    app.checkbox(key="cfg_augment_flip").uncheck().run()
    assert param(app, "flip") is None  # back to the preset's own setting, which the link does not repeat
    assert not any("left-right flips" in literal(c.value) for c in app.caption)


def test_mirror_views_travel_in_the_link_and_are_warned_about_without_flips():
    app = open_page(TRAIN, query={"dataset": "fashion-mnist", "preset": "digitlab-fast28-v2", "mirror_views": "1"})
    assert not app.exception and not notices(app)  # v2 trains with flips: nothing to warn about
    assert app.session_state["cfg_test_time_mirror"] is True
    assert any("predicts with the mirror too" in literal(c.value) for c in app.caption)
    app.checkbox(key="cfg_test_time_mirror").uncheck().run()
    assert param(app, "mirror_views") is None
    assert not any("mirror too" in literal(c.value) for c in app.caption)

    app = open_page(TRAIN, query={"dataset": "fashion-mnist", "preset": "digitlab-fast28", "mirror_views": "1"})
    assert [w for w in notices(app) if "never trains on a mirrored image" in w]  # fast28 trains without flips

    # A preset that predicts with the mirror sets the box itself, and its link does not repeat it.
    app = open_page(TRAIN, query={"dataset": "fashion-mnist", "preset": "digitlab-fast28-v3"})
    assert not app.exception and app.session_state["cfg_test_time_mirror"] is True
    assert param(app, "mirror_views") is None and not notices(app)


def test_a_spec_tokens_loss_is_shown_and_can_be_changed():
    spec = ModelSpec(
        conv_blocks=(ConvBlock(8),), dense_layers=(), input_shape=(8, 8, 1), loss="sparse_categorical_crossentropy"
    )
    app = open_app(query={"dataset": "digits", "spec": spec.to_token()})
    assert not app.exception
    assert app.selectbox(key="spec_loss").value == "sparse_categorical_crossentropy"
    app.selectbox(key="spec_loss").set_value("categorical_crossentropy").run()
    assert ModelSpec.from_token(param(app, "spec")).loss == "categorical_crossentropy"


def test_flips_on_digits_are_allowed_with_a_warning():
    app = open_page(TRAIN, query={"dataset": "digits", "flip": "1"})
    assert not app.exception
    [warning] = [w for w in notices(app) if "mirrored" in w]
    assert "classes are digits" in warning
    assert not train_button(app).disabled  # an experiment, not refused


def test_a_custom_spec_travels_as_a_token():
    spec = ModelSpec(conv_blocks=(ConvBlock(12, 5, padding="same"),), dense_layers=(), input_shape=(8, 8, 1))
    app = open_app(query={"dataset": "digits", "spec": spec.to_token()})
    assert not app.exception
    assert app.session_state["conv1_filters"] == 12 and app.session_state["conv1_kernel_size"] == 5
    assert app.session_state["n_dense"] == 0
    assert "spec" in app.query_params  # still custom, so the spec stays in the link


def test_batch_norm_momentum_is_offered_only_with_batch_norm_and_travels_in_the_link():
    plain = ModelSpec(conv_blocks=(ConvBlock(12, padding="same"),), dense_layers=(), input_shape=(8, 8, 1))
    app = open_app(query={"dataset": "digits", "spec": plain.to_token()})
    assert not [w for w in app.sidebar.number_input if w.label == "Batch norm momentum"]
    normed = ModelSpec(
        conv_blocks=(ConvBlock(12, padding="same", batch_norm="after_pool"),),
        dense_layers=(),
        batch_norm_momentum=0.995,  # beyond the old widget maximum 0.99, inside the validator range [0, 1)
        input_shape=(8, 8, 1),
    )
    app = open_app(query={"dataset": "digits", "spec": normed.to_token()})
    assert not app.exception and not notices(app)
    [momentum] = [w for w in app.sidebar.number_input if w.label == "Batch norm momentum"]
    assert momentum.value == 0.995
    momentum.set_value(0.8).run()
    assert ModelSpec.from_token(param(app, "spec")).batch_norm_momentum == 0.8


# --- refused values -----------------------------------------------------------------------------------------

TOO_MANY_BLOCKS = ModelSpec(conv_blocks=(ConvBlock(4, padding="same", pool="none"),) * 9, input_shape=(8, 8, 1))
UNKNOWN_ACTIVATION = ModelSpec(conv_blocks=(ConvBlock(8, activation="relux"),), input_shape=(8, 8, 1))
TOO_WIDE = ModelSpec(conv_blocks=(ConvBlock(8),), dense_layers=(DenseLayer(units=9000),), input_shape=(8, 8, 1))

REFUSED = [
    # (link parameters, the parameter named, a fragment of the validator's reason)
    ({"epochs": "99999"}, "epochs", "Epochs must be between 1 and 500, got 99999"),
    ({"epochs": "0"}, "epochs", "Epochs must be between 1 and 500, got 0"),
    ({"epochs": "²"}, "epochs", "not a whole number"),  # '²'.isdigit() is True; int('²') raises
    ({"epochs": "١٢"}, "epochs", "not a whole number"),  # Arabic-Indic digits: isdigit() True, int() reads 12
    ({"batch": "-1"}, "batch", "Batch size must be between 1 and 8192"),
    ({"seed": str(2**32)}, "seed", "The seed must be between 0 and 4294967295"),
    ({"val_split": "1"}, "val_split", "Validation split must be in [0, 1)"),
    ({"val_split": "nan"}, "val_split", "not a decimal number"),
    ({"patience": "3", "val_split": "0"}, "patience", "Early stopping watches the validation loss"),
    ({"limit": "-5"}, "limit", "must be 0 (all) or positive"),
    ({"schedule": "warp"}, "schedule", "not one of: constant"),
    ({"augment": "maybe"}, "augment", "not on/off"),
    ({"spec": TOO_MANY_BLOCKS.to_token()}, "spec", "Use between 1 and 8 conv blocks, got 9"),
    ({"spec": UNKNOWN_ACTIVATION.to_token()}, "spec", "Unknown Conv block 1 activation 'relux'"),
    ({"spec": TOO_WIDE.to_token()}, "spec", "units must be between 1 and 8192, got 9000"),
    ({"spec": "%%%"}, "spec", ""),
    ({"dataset": "nope"}, "dataset", "no dataset of that name"),
    ({"preset": "nope"}, "preset", "no preset of that name"),
    ({"folds": "99"}, "folds", "2 to 10 folds"),
    ({"folds": "²"}, "folds", "not a whole number"),
]


@pytest.mark.parametrize(("query", "name", "reason"), REFUSED, ids=[f"{n}-{i}" for i, (_, n, _) in enumerate(REFUSED)])
def test_a_refused_link_value_is_one_notice_and_keeps_train_off(with_trained_run, query, name, reason):
    app = open_page(TRAIN, query={"dataset": "digits", **query})
    assert not app.exception
    mine = [n for n in notices(app) if n.startswith(f"The link's {name}")]
    assert len(mine) == 1, notices(app)
    assert reason in mine[0]
    assert train_button(app).disabled
    assert not any("Already trained" in s.value for s in app.success)
    assert param(app, name) == query[name]  # the refused value stays in the address bar, not a substitute


def test_a_refused_value_never_presents_a_stored_run_as_the_links_run(with_trained_run):
    """The stored run is digitlab-small8 for 2 epochs, seed 0; a link with 2 epochs and an impossible seed must
    not open as that run (the seed widget shows the preset's 0 meanwhile)."""
    app = open_page(TRAIN, query={"dataset": "digits", "preset": "digitlab-small8", "epochs": "2", "seed": "-1"})
    assert not app.exception
    assert app.session_state["cfg_seed"] == 0 and app.session_state["cfg_epochs"] == 2
    assert train_button(app).disabled
    assert not any("Already trained" in s.value for s in app.success)
    assert not any(with_trained_run in m.value for m in app.markdown)


def test_choosing_a_value_withdraws_the_refusal_and_enables_train(with_trained_run):
    app = open_page(TRAIN, query={"dataset": "digits", "epochs": "99999"})
    assert train_button(app).disabled
    app.number_input(key="cfg_epochs").set_value(3).run()
    assert not app.exception
    assert not [n for n in notices(app) if n.startswith("The link's epochs")]
    assert not train_button(app).disabled
    assert param(app, "epochs") == "3"


def test_use_the_values_shown_answers_every_refusal(with_trained_run):
    app = open_page(TRAIN, query={"dataset": "digits", "epochs": "0", "seed": "x"})
    assert len([n for n in notices(app) if n.startswith("The link's")]) == 2
    next(b for b in app.button if b.label == "Use the values shown").click().run()
    assert not app.exception
    assert not [n for n in notices(app) if n.startswith("The link's")]
    assert not train_button(app).disabled


def test_a_long_refused_value_is_shortened_in_its_notice():
    app = open_page(TRAIN, query={"dataset": "digits", "epochs": "9" * 5000})
    [notice] = [n for n in notices(app) if n.startswith("The link's epochs")]
    assert "(5,000 characters)" in notice and len(notice) < 600


def test_hosted_caps_refuse_a_valid_value_and_bound_the_widget(monkeypatch):
    monkeypatch.setenv("DIGIT_LAB_HOSTED", "1")
    app = open_page(TRAIN, query={"dataset": "digits", "epochs": "100"})
    assert not app.exception
    [notice] = [n for n in notices(app) if n.startswith("The link's epochs")]
    assert "Epochs must be between 1 and 30, got 100" in notice
    assert app.number_input(key="cfg_epochs").max == 30
    assert train_button(app).disabled


def test_a_preset_recipe_above_the_hosted_cap_is_a_refusal_not_a_silent_clamp(monkeypatch):
    monkeypatch.setenv("DIGIT_LAB_HOSTED", "1")
    app = open_page(TRAIN, query={"dataset": "digits", "preset": "seed002-uci8x8"})  # its recipe: 100 epochs
    assert not app.exception
    [notice] = [n for n in notices(app) if "epochs = 100" in n]
    assert notice.startswith("Preset seed002-uci8x8's recipe (named by the link) asks for epochs = 100")
    assert "between 1 and 30" in notice
    assert app.session_state["cfg_epochs"] == 30 and train_button(app).disabled


def test_a_preset_chosen_in_the_sidebar_is_refused_in_its_own_words_not_a_links(monkeypatch):
    monkeypatch.setenv("DIGIT_LAB_HOSTED", "1")
    app = open_page(TRAIN, query={"dataset": "digits"})  # no link value at all
    app.selectbox(key="preset").set_value("seed002-uci8x8").run()  # its recipe: 100 epochs, over the cap of 30
    assert not app.exception
    [notice] = [n for n in notices(app) if "epochs = 100" in n]
    assert notice.startswith("Preset seed002-uci8x8's recipe asks for epochs = 100, which this server refuses")
    sidebar_errors = [literal(e.value) for e in app.sidebar.error]
    assert any("seed002-uci8x8's recipe asked for epochs" in e for e in sidebar_errors), sidebar_errors
    # Nothing the user sees blames a link they never opened.
    shown = [*notices(app), *sidebar_errors, *(b.help or "" for b in app.button)]
    assert not any("link" in text.lower().replace("link_off", "") for text in shown), shown
    assert app.number_input(key="cfg_epochs").value == 30 and train_button(app).disabled
    # "Use the values shown": the refusal is answered, the Epochs box holds 30 (within its range), training is on.
    next(b for b in app.button if b.label == "Use the values shown").click().run()
    assert not [n for n in notices(app) if "epochs = 100" in n]
    epochs = app.number_input(key="cfg_epochs")
    assert epochs.value == 30 and epochs.min <= epochs.value <= epochs.max
    assert not train_button(app).disabled


def test_a_spec_that_fails_the_layer_walk_shows_the_engine_message():
    bad = ModelSpec(conv_blocks=(ConvBlock(8),) * 4, input_shape=(8, 8, 1))  # four pools on 8x8
    app = open_app(query={"dataset": "digits", "spec": bad.to_token()})
    assert not app.exception
    assert any("collapse below 1" in literal(e.value) for e in app.error)


def test_preset_for_28x28_on_8x8_says_why_not():
    app = open_app(query={"dataset": "digits", "preset": "seed001-cnn3"})
    assert not app.exception
    assert any("does not fit 8x8" in literal(e.value) for e in app.error)
    assert PRESETS["seed001-cnn3"].spec.input_shape == (28, 28, 1)


def test_unknown_parameters_and_bad_run_ids_are_notices():
    app = open_app(query={"dataset": "digits", "colour": "red", "run": "../../etc/passwd", "runs": "zz,yy"})
    assert not app.exception
    text = " ".join(notices(app))
    assert "Ignored 1 link parameter(s) this page does not know: colour" in text
    assert "is not a run id" in text and "2 run id(s)" in text


# --- a preset keeps its name under overrides ----------------------------------------------------------------


def test_a_preset_keeps_its_name_when_a_training_setting_changes(with_trained_run):
    app = open_page(TRAIN, query={"dataset": "digits", "preset": "digitlab-small8", "epochs": "3"})
    assert not app.exception
    assert any(literal(c.value) == "Model: digitlab-small8 + epochs 3" for c in app.sidebar.caption)
    assert any("digitlab-small8 + epochs 3" in literal(m.value) for m in app.markdown)
    assert param(app, "preset") == "digitlab-small8" and param(app, "epochs") == "3"
    app.number_input(key="conv1_filters").set_value(9).run()  # an architecture change: custom, named as such
    assert any("Custom model" in c.value for c in app.sidebar.caption)
    assert param(app, "preset") is None and param(app, "spec")


def test_a_stored_runs_label_names_its_preset_and_overrides(with_trained_run):
    """The shared run was trained as digitlab-small8 for 2 epochs (the recipe says 10)."""
    app = open_page("views/evaluate.py", query={"run": with_trained_run})
    assert not app.exception
    assert any("model **digitlab-small8 + epochs 2**" in literal(m.value) for m in app.markdown)
    compare = open_page("views/compare.py", query={"runs": with_trained_run})
    assert not compare.exception
    [chosen] = compare.multiselect(key="compare_runs").value
    assert chosen == with_trained_run
    assert "digitlab-small8 + epochs 2" in compare.multiselect(key="compare_runs").format_func(chosen)


# --- the whole view ------------------------------------------------------------------------------------------


def test_compare_reopens_on_the_links_curve_metric_and_refuses_an_unknown_one(with_trained_run):
    app = open_page("views/compare.py", query={"runs": with_trained_run, "metric": "loss"})
    assert not app.exception and not [n for n in notices(app) if "metric" in n]
    assert app.selectbox(key="compare_metric").value == "loss"
    assert "Training loss by epoch" in chart_titles(app)
    app.selectbox(key="compare_metric").set_value("val_loss").run()
    assert param(app, "metric") == "val_loss"
    app.switch_page("views/home.py").run()
    app.switch_page("views/compare.py").run()
    assert app.selectbox(key="compare_metric").value == "val_loss" and param(app, "metric") == "val_loss"
    app.selectbox(key="compare_metric").set_value("val_accuracy").run()
    assert param(app, "metric") is None  # the default is not repeated

    refused = open_page("views/compare.py", query={"runs": with_trained_run, "metric": "<b>f1</b>"})
    assert not refused.exception
    [notice] = [n for n in notices(refused) if "metric" in n]
    assert "<b>f1</b>" in notice
    assert refused.selectbox(key="compare_metric").value == "val_accuracy"


def test_evaluate_reopens_on_the_links_tab_cell_and_toggle(with_trained_run):
    query = {"run": with_trained_run, "tab": "Confusion matrix", "cell": "3,5", "norm": "1", "ovr": "2"}
    app = open_page("views/evaluate.py", query=query)
    assert not app.exception and not notices(app)
    assert app.session_state["eval_tab"] == "Confusion matrix"
    assert (app.session_state["eval_true"], app.session_state["eval_pred"]) == (3, 5)
    assert app.toggle(key="eval_normalised").value is True
    for name, value in query.items():
        assert param(app, name) == value, name  # written back: the address bar reopens this view
    # Only the open tab is drawn: the closed One vs rest tab's class waits in the session, and shows when it opens.
    assert app.session_state["eval_ovr_class"] == 2
    app.session_state["eval_tab"] = "One vs rest"
    app.run()
    assert not app.exception
    assert app.selectbox(key="eval_ovr_class").value == 2


def test_evaluate_closed_tabs_keep_their_values_across_tabs_and_pages(with_trained_run):
    """Evaluate draws only the open tab; every other tab's view value must outlive the runs that do not draw it."""
    query = {
        "run": with_trained_run,
        "tab": "Sample predictions",
        "sample": "7",
        "cell": "2,8",
        "norm": "1",
        "ovr": "4",
        "shown": "3",
        "overlay_class": "true",
    }
    app = open_page("views/evaluate.py", query=query)
    assert not app.exception and not notices(app)
    assert app.number_input(key="eval_sample_seed").value == 7
    app.number_input(key="eval_sample_seed").set_value(9).run()  # a value chosen here, not by the link
    open_tab(app, "eval_tab", "Report")
    app.switch_page("views/data.py").run()
    app.switch_page("views/evaluate.py").run()
    assert not app.exception
    assert app.session_state["eval_tab"] == "Report"
    expected = {**query, "tab": "Report", "sample": "9"}
    del expected["tab"]  # the default tab is left out of the link
    for name, value in expected.items():
        assert param(app, name) == value, name  # kept while no widget of theirs was drawn, and still in the link
    assert param(app, "tab") is None
    open_tab(app, "eval_tab", "Sample predictions")
    assert app.number_input(key="eval_sample_seed").value == 9
    open_tab(app, "eval_tab", "Confusion matrix")
    assert (app.selectbox(key="eval_true").value, app.selectbox(key="eval_pred").value) == (2, 8)
    assert app.toggle(key="eval_normalised").value is True
    open_tab(app, "eval_tab", "Mistakes")
    assert app.slider(key="eval_gallery_n").value == 3
    assert app.radio(key="eval_overlay_class").value == "true"
    open_tab(app, "eval_tab", "One vs rest")
    assert app.selectbox(key="eval_ovr_class").value == 4
    assert not app.exception


def test_a_view_value_that_does_not_fit_the_run_is_a_notice(with_trained_run):
    app = open_page("views/evaluate.py", query={"run": with_trained_run, "cell": "99,0", "tab": "Nope"})
    assert not app.exception
    text = " ".join(notices(app))
    assert "The link's cell = 99,0 was not used: this run has 10 classes" in text
    assert "The link's tab = Nope was not used" in text


def test_inspect_reopens_on_the_links_image_tab_and_scale(with_trained_run):
    query = {"run": with_trained_run, "image": "7", "scale": "raw activations", "tab": "First-layer kernels"}
    app = open_page("views/inspect.py", query=query)
    assert not app.exception and not notices(app)
    assert app.session_state["inspect_tab"] == "First-layer kernels"
    for name, value in query.items():
        assert param(app, name) == value, name  # the closed test-image tab's values kept, and in the link
    open_tab(app, "inspect_tab", "A test image")
    assert app.number_input(key="inspect_index").value == 7
    assert app.radio(key="inspect_scaling").value == "raw activations"
    too_far = open_page("views/inspect.py", query={"run": with_trained_run, "image": "99999"})
    assert any("The link's image = 99999 was not used" in n for n in notices(too_far))


def test_data_page_options_travel_in_the_link():
    query = {
        "dataset": "digits",
        "tab": "Images",
        "split": "test",
        "per_class": "3",
        "draw": "5",
        "log": "1",
        "map": "tsne",
        "points": "200",
    }
    app = open_page("views/data.py", query=query)
    assert not app.exception and not notices(app)
    assert app.session_state["data_tab"] == "Images"
    assert app.radio(key="data_split").value == "test"
    assert app.slider(key="data_per_class").value == 3
    assert app.number_input(key="data_seed").value == 5
    assert app.toggle(key="data_log_y").value is True
    for name, value in query.items():
        assert param(app, name) == value, name
    open_tab(app, "data_tab", "2-D map")
    assert app.radio(key="data_embed_method").value == "tsne"
    assert app.slider(key="data_embed_n").value == 200


def test_a_data_view_at_one_image_per_class_reopens_at_one():
    """The link leaves out only the page's own starting values (5 images per class): 1 must be written."""
    app = open_page("views/data.py", query={"dataset": "digits", "tab": "Images"})
    assert app.slider(key="data_per_class").value == 5 and param(app, "per_class") is None
    app.slider(key="data_per_class").set_value(1).run()
    assert param(app, "per_class") == "1"
    reopened = open_page("views/data.py", query={"dataset": "digits", "tab": "Images", "per_class": "1"})
    assert reopened.slider(key="data_per_class").value == 1


def test_data_closed_tabs_keep_their_values_across_tabs_and_pages():
    """Data draws only the open tab; the other tabs' values must outlive the runs that do not draw them."""
    app = open_page("views/data.py", query={"dataset": "digits", "tab": "2-D map", "points": "300"})
    assert not app.exception and not notices(app)
    assert app.session_state["data_tab"] == "2-D map"  # the link's tab is the one drawn
    assert app.slider(key="data_embed_n").value == 300
    assert "data_split" not in {r.key for r in app.radio}  # Images is closed, so its widgets are not drawn
    app.radio(key="data_embed_method").set_value("tsne").run()  # chosen here, not by the link
    open_tab(app, "data_tab", "Images")
    app.radio(key="data_split").set_value("test").run()
    app.number_input(key="data_seed").set_value(11).run()
    app.toggle(key="data_log_y").set_value(True).run()
    open_tab(app, "data_tab", "Classes")
    app.switch_page("views/evaluate.py").run()
    app.switch_page("views/data.py").run()
    assert not app.exception
    assert app.session_state["data_tab"] == "Classes"
    expected = {"split": "test", "draw": "11", "log": "1", "map": "tsne", "points": "300"}
    for name, value in expected.items():
        assert param(app, name) == value, name  # kept while no widget of theirs was drawn, and still in the link
    assert param(app, "tab") is None  # the default tab is left out of the link
    open_tab(app, "data_tab", "2-D map")
    assert app.radio(key="data_embed_method").value == "tsne"
    assert app.slider(key="data_embed_n").value == 300
    # The map uses the split and seed chosen on the closed Images tab.
    assert any(t.startswith("t-SNE of 300 test images") for t in chart_titles(app))
    open_tab(app, "data_tab", "Images")
    assert app.radio(key="data_split").value == "test"
    assert app.number_input(key="data_seed").value == 11
    assert app.toggle(key="data_log_y").value is True
    assert not app.exception

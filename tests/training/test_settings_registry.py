"""Every `TrainConfig` setting is reachable from the CLI, a link, the sidebar and a sweep, or its metadata says why
not: the walk below names no setting, so a new field is checked the day it is added. Also: the tables derived
from the fields' metadata pick up a made-up field, the user-visible names of the existing settings are kept, and
`key_dict` (hence every run key) is what it was before the settings carried metadata."""

from __future__ import annotations

import dataclasses

import pytest

from engine.architectures import DEFAULT_PRESET, PRESETS
from engine.architectures.presets import recipe_overrides
from engine.cli import _parser
from engine.cli.requests import _unchecked_request, config_arguments
from engine.reports.notebook import unreproduced_settings
from engine.sweeps.space import SearchSpace, apply_params, config_param_names, is_param_name
from engine.training.config import (
    FLOAT_FIELDS,
    KEY_OPTIONAL,
    SettingInfo,
    TrainConfig,
    float_fields,
    key_optional,
    setting,
    settings,
)

FIELDS = dataclasses.fields(TrainConfig)
WAYS = ("label", "flag", "link", "widget", "sweep", "recipe")
# AppTest's accessor for each widget kind a setting may declare.
ACCESSORS = {"number": "number_input", "select": "selectbox", "checkbox": "checkbox", "text": "text_input"}


def other_value(f: dataclasses.Field, base: TrainConfig | None = None):
    """A value of `f`'s type other than its value in `base` (default: TrainConfig's default); a text setting with
    choices gets another choice."""
    default, info = getattr(base or TrainConfig(), f.name), f.metadata["setting"]
    if f.type == "bool":
        return not default
    if f.type == "int":
        return default + 1
    if f.type == "float":
        return default + 0.05
    assert f.type == "str", f"{f.name}: a type this walk does not know ({f.type})"
    if info.choices:
        return next(c for c in info.choices if c != default)
    return "0,6|1,7|2,3,5,8|4,9"  # free text; this value happens to be a valid class merge too


def as_text(value) -> str:
    """How a value is written on a command line or in a link."""
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


def reachable(info: SettingInfo, way: str) -> bool:
    """True when `way` is open; otherwise the metadata must give a reason (checked here, not assumed)."""
    open_ = {
        "label": info.label is not None,
        "flag": info.flag is not None,
        "link": info.link is not None,
        "widget": info.widget is not None,
        "sweep": info.sweep,
        "recipe": info.recipe,
    }[way]
    if not open_:
        assert info.reason_not(way).strip(), f"{info}: no {way} and no reason why"
    return open_


def ids(f):
    return f.name


@pytest.mark.parametrize("f", FIELDS, ids=ids)
def test_every_field_states_where_it_is_reached_from(f):
    assert isinstance(f.metadata.get("setting"), SettingInfo), f"{f.name} has no setting(...) metadata"
    for way in WAYS:
        reachable(f.metadata["setting"], way)


@pytest.mark.parametrize("f", FIELDS, ids=ids)
def test_the_cli_sets_each_field_that_has_a_flag(f, monkeypatch):
    info = f.metadata["setting"]
    if not reachable(info, "flag"):
        return
    value = other_value(f, PRESETS[DEFAULT_PRESET].config)
    if f.type == "bool":
        assert value is True, f"{f.name}: a store_true flag can only turn a setting on, so its default must be off"
        argv = [info.flag]
    else:
        argv = [info.flag, as_text(value)]
    args = _parser().parse_args(["train", "--dataset", "digits", *argv])
    # Only the class count is read from the transformed data here; any mapping text must reach the config as given.
    monkeypatch.setattr("engine.cli.requests.transformed_dataset", lambda dataset, config: dataset)
    _, _, config, preset = _unchecked_request(args)
    assert preset == DEFAULT_PRESET
    assert getattr(config, f.name) == value
    assert type(getattr(config, f.name)) is type(value)
    assert all(getattr(config, g.name) == getattr(PRESETS[preset].config, g.name) for g in FIELDS if g is not f)


@pytest.mark.parametrize("f", FIELDS, ids=ids)
def test_a_link_parameter_reads_each_field_that_has_one(f):
    from dashboard import links

    info = f.metadata["setting"]
    if not reachable(info, "link"):
        return
    # Links carry only what the sidebar can show: a link parameter without a widget could never be edited.
    assert info.widget is not None, f"{f.name}: a link parameter needs a sidebar widget"
    value = other_value(f)
    setting_name, parse = links.CONFIG_PARAMS[info.link]
    assert setting_name == f.name and links.PARAM_OF_SETTING[f.name] == info.link
    assert info.link in links.MODEL_PARAMS
    parsed = parse(as_text(value))
    assert parsed == value and type(parsed) is type(value)
    assert getattr(TrainConfig().replace(**{f.name: parsed}), f.name) == value


@pytest.mark.parametrize("f", FIELDS, ids=ids)
def test_a_sweep_varies_each_field_it_may(f):
    info = f.metadata["setting"]
    preset = PRESETS[DEFAULT_PRESET]
    value = other_value(f, preset.config)
    space = {"params": [{"name": f.name, "kind": "choice", "choices": [value]}]}
    if not reachable(info, "sweep"):
        assert not is_param_name(f.name)
        return
    assert is_param_name(f.name)
    assert SearchSpace.from_dict(space).names == (f.name,)
    spec, config = apply_params(preset.spec, preset.config, {f.name: value})
    assert getattr(config, f.name) == value and spec == preset.spec


@pytest.mark.parametrize("f", FIELDS, ids=ids)
def test_a_models_label_names_each_changed_field_that_has_a_label(f):
    info = f.metadata["setting"]
    preset = PRESETS[DEFAULT_PRESET]
    value = other_value(f, preset.config)
    overrides = recipe_overrides(preset, preset.config.replace(**{f.name: value}))
    if not reachable(info, "label"):
        assert overrides == ()
        return
    assert [o.setting for o in overrides] == [f.name]
    assert overrides[0].describe().startswith(f"{info.label} ")


@pytest.mark.parametrize("f", FIELDS, ids=ids)
def test_the_notebook_reproduces_each_field_marked_recipe(f):
    info = f.metadata["setting"]
    changed = TrainConfig().replace(**{f.name: other_value(f)})
    notices = unreproduced_settings(changed)
    assert notices == ([] if reachable(info, "recipe") else [f"{f.name} = {other_value(f)!r}"])


def test_each_widget_setting_is_drawn_in_the_sidebar_as_its_declared_kind(tmp_path, monkeypatch):
    from dashboard import state
    from tests.dashboard.conftest import open_app

    monkeypatch.setenv("DIGIT_LAB_CACHE", str(tmp_path))
    widgets = {f.name: f.metadata["setting"] for f in FIELDS if reachable(f.metadata["setting"], "widget")}
    assert widgets, "no setting has a sidebar widget"
    app = open_app()
    assert not app.exception
    for name, info in widgets.items():
        assert state.CONFIG_WIDGETS[name] == info.widget
        drawn = {w.key: w for w in getattr(app.sidebar, ACCESSORS[info.widget_kind])}
        assert info.widget in drawn, f"{name}: no {info.widget_kind} widget {info.widget!r}"
        # What a link may carry the widget can hold, and the reverse.
        if info.choices:
            assert list(drawn[info.widget].options) == list(info.choices)
        if info.max_length:
            assert drawn[info.widget].max_chars == info.max_length
        assert app.session_state[info.widget] == getattr(PRESETS[DEFAULT_PRESET].config, name)
    assert set(state.CONFIG_WIDGETS) == set(widgets)


def test_a_new_widget_setting_is_drawn_from_its_metadata_alone(tmp_path, monkeypatch):
    """A setting the sidebar does not lay out by hand is drawn below the others by its declared kind, so a new
    setting with a widget needs no sidebar edit: two made-up settings (a number and a checkbox) join the real
    ones and are drawn, once each, holding their values, with their flag's help."""
    from streamlit.testing.v1 import AppTest

    from dashboard import sidebar
    from tests.dashboard.conftest import HOME, open_sidebar_expanders

    made_up = {
        "mixup_alpha": setting(
            label="mixup",
            flag="--mixup",
            help="mix pairs of images",
            widget="cfg_mixup_alpha",
            widget_kind="number",
            no_link="x",
            no_sweep="x",
            recipe=False,
            no_recipe="x",
        ),
        "cutout": setting(
            label="cutout",
            flag="--cutout",
            help="cut a square out",
            widget="cfg_cutout",
            widget_kind="checkbox",
            no_link="x",
            no_sweep="x",
            recipe=False,
            no_recipe="x",
        ),
    }
    real = settings()
    monkeypatch.setenv("DIGIT_LAB_CACHE", str(tmp_path))
    monkeypatch.setattr(sidebar, "settings", lambda: {**real, **{k: v["setting"] for k, v in made_up.items()}})
    app = AppTest.from_file(HOME, default_timeout=120)
    app.session_state["cfg_mixup_alpha"] = 0.2
    app.session_state["cfg_cutout"] = True
    open_sidebar_expanders(app, True)
    app.run()
    assert not app.exception
    for key, kind, value, label, help_text in (
        ("cfg_mixup_alpha", "number_input", 0.2, "Mixup alpha", "mix pairs of images"),
        ("cfg_cutout", "checkbox", True, "Cutout", "cut a square out"),
    ):
        drawn = [w for w in getattr(app.sidebar, kind) if w.key == key]
        assert len(drawn) == 1, f"{key}: {len(drawn)} widgets"
        assert (drawn[0].value, drawn[0].label, drawn[0].help) == (value, label, help_text)


def test_a_setting_must_give_each_way_in_or_a_reason():
    with pytest.raises(ValueError, match="flag"):
        SettingInfo(label="x", no_link="r", no_widget="r", no_sweep="r")
    with pytest.raises(ValueError, match="sweep"):
        SettingInfo(label="x", flag="--x", no_link="r", no_widget="r", sweep=True, no_sweep="both")
    with pytest.raises(ValueError, match="widget"):
        SettingInfo(label="x", flag="--x", no_link="r", widget="cfg_x", no_sweep="r")


def made_up_config():
    """TrainConfig plus a setting declared the way the next one will be, and nowhere else."""
    extra = dataclasses.field(
        default=0.0,
        metadata=setting(
            label="mixup",
            flag="--mixup",
            help="mixup's Beta(alpha, alpha)",
            link="mixup",
            widget="cfg_mixup",
            widget_kind="number",
            sweep=True,
            key_optional=True,
        ),
    )
    return dataclasses.make_dataclass("MadeUp", [("mixup_alpha", "float", extra)], bases=(TrainConfig,), frozen=True)


def test_a_made_up_setting_is_picked_up_by_every_derived_table():
    import argparse

    from dashboard import links, state

    made_up = made_up_config()
    parser = argparse.ArgumentParser()
    config_arguments(parser, made_up)
    assert parser.parse_args(["--mixup", "0.4"]).mixup_alpha == 0.4
    assert parser.parse_args([]).mixup_alpha is None  # not given: the preset's value stays
    assert links.config_params(made_up)["mixup"][0] == "mixup_alpha"
    assert links.config_params(made_up)["mixup"][1]("0.4") == 0.4
    assert "mixup" not in links.CONFIG_PARAMS  # the real tables are TrainConfig's alone
    assert state.config_widgets(made_up)["mixup_alpha"] == "cfg_mixup"
    assert "mixup_alpha" in config_param_names(made_up) and "mixup_alpha" in float_fields(made_up)
    assert key_optional(made_up) == {**KEY_OPTIONAL, "mixup_alpha": 0.0}
    preset = PRESETS[DEFAULT_PRESET]
    base = made_up(**preset.config.to_dict())
    _, config = apply_params(preset.spec, base, {"mixup_alpha": 1})
    assert config.mixup_alpha == 1.0 and type(config.mixup_alpha) is float
    # Added at its default, the new setting leaves every existing run key as it was.
    assert base.key_dict() == preset.config.key_dict()
    assert made_up.from_dict({"mixup_alpha": 1}).mixup_alpha == 1.0


def test_a_field_without_setting_metadata_is_refused():
    bare = dataclasses.make_dataclass("Bare", [("mixup_alpha", float, dataclasses.field(default=0.0))])
    with pytest.raises(TypeError, match="mixup_alpha"):
        settings(bare)


# The user-visible names the settings had before they carried metadata: a link, a script or a habit may use any
# of them, so they are kept (a new setting adds names; none of these may change).
FLAGS_BEFORE = {
    "epochs": ("--epochs", None),
    "batch_size": ("--batch-size", None),
    "seed": ("--seed", None),
    "validation_split": ("--validation-split", None),
    "limit_train": ("--limit-train", "train on a stratified subset of this many images"),
    "label_mapping": ("--label-mapping", 'merge classes: a preset name or "0,6|1,7|2,3,5,8|4,9"'),
    "lr_schedule": ("--schedule", None),
    "early_stopping_patience": ("--early-stopping", None),
    "augmentation": ("--augment", None),
    "augment_flip": ("--flip", "random left-right flips while training"),
    "label_smoothing": ("--label-smoothing", "smooth one-hot targets by this much (0 = off)"),
    "warmup_fraction": ("--warmup", "cosine: warm-up share of all steps"),
}
LINKS_BEFORE = {
    "epochs": "epochs",
    "batch": "batch_size",
    "val_split": "validation_split",
    "seed": "seed",
    "patience": "early_stopping_patience",
    "schedule": "lr_schedule",
    "augment": "augmentation",
    "flip": "augment_flip",
    "limit": "limit_train",
    "classes": "label_mapping",
}
WIDGETS_BEFORE = {
    "epochs": "cfg_epochs",
    "batch_size": "cfg_batch_size",
    "validation_split": "cfg_validation_split",
    "seed": "cfg_seed",
    "early_stopping_patience": "cfg_early_stopping",
    "lr_schedule": "cfg_schedule",
    "augmentation": "cfg_augmentation",
    "augment_flip": "cfg_augment_flip",
    "limit_train": "cfg_limit_train",
    "label_mapping": "cfg_label_mapping",
}
LABELS_BEFORE = {
    "epochs": "epochs",
    "batch_size": "batch",
    "validation_split": "validation",
    "seed": "seed",
    "early_stopping_patience": "patience",
    "lr_schedule": "schedule",
    "augmentation": "augmentation",
    "augment_shift": "shift",
    "augment_rotation": "rotation",
    "augment_zoom": "zoom",
    "limit_train": "subset",
    "label_mapping": "classes",
    "label_smoothing": "smoothing",
    "warmup_fraction": "warm-up",
    "augment_flip": "flips",
}
SWEEP_BEFORE = (
    "batch_size",
    "early_stopping_patience",
    "lr_schedule",
    "augmentation",
    "augment_shift",
    "augment_rotation",
    "augment_zoom",
    "augment_flip",
)


def test_the_names_users_know_are_kept():
    from dashboard import links, state
    from engine.architectures.presets import OVERRIDE_NAMES
    from engine.sweeps.space import CONFIG_PARAMS

    train = next(a for a in _parser()._actions if a.dest == "command").choices["train"]
    by_dest = {a.dest: a for a in train._actions}
    for name, (flag, help_text) in FLAGS_BEFORE.items():
        assert by_dest[name].option_strings == [flag] and by_dest[name].help == help_text, name
    assert by_dest["lr_schedule"].choices == ["constant", "one_cycle", "cosine"]
    assert by_dest["augmentation"].default is None and by_dest["augment_flip"].default is None
    assert (by_dest["epochs"].type, by_dest["validation_split"].type, by_dest["label_mapping"].type) == (
        int,
        float,
        None,
    )
    assert by_dest["dataset"].default == "digits"
    assert {param: setting for param, (setting, _) in links.CONFIG_PARAMS.items()}.items() >= LINKS_BEFORE.items()
    assert state.CONFIG_WIDGETS.items() >= WIDGETS_BEFORE.items()
    assert OVERRIDE_NAMES.items() >= LABELS_BEFORE.items()
    assert CONFIG_PARAMS[: len(SWEEP_BEFORE)] == SWEEP_BEFORE


def test_the_run_key_settings_are_unchanged():
    before = {
        "epochs": 10,
        "batch_size": 64,
        "validation_split": 0.2,
        "seed": 0,
        "early_stopping_patience": 0,
        "lr_schedule": "constant",
        "augmentation": False,
        "augment_shift": 0.1,
        "augment_rotation": 10.0,
        "augment_zoom": 0.1,
        "limit_train": 0,
        "label_mapping": "",
        "cv_folds": 0,
        "cv_fold": 0,
    }
    assert TrainConfig().key_dict() == before
    assert list(TrainConfig().key_dict()) == list(before)  # the same order too
    assert TrainConfig(epochs=3, augment_flip=True).key_dict() == {**before, "epochs": 3, "augment_flip": True}
    smoothed = TrainConfig(label_smoothing=0.1, warmup_fraction=0.0, lr_schedule="cosine")
    assert smoothed.key_dict() == {**before, "lr_schedule": "cosine", "label_smoothing": 0.1}
    folded = TrainConfig(cv_folds=5, cv_fold=2, warmup_fraction=0.25, seed=7)
    assert folded.key_dict() == {**before, "cv_folds": 5, "cv_fold": 2, "seed": 7, "warmup_fraction": 0.25}
    assert KEY_OPTIONAL == {
        "label_smoothing": 0.0,
        "warmup_fraction": 0.0,
        "augment_flip": False,
        "test_time_mirror": False,
    }
    assert TrainConfig(test_time_mirror=True).key_dict() == {**before, "test_time_mirror": True}
    assert {
        "validation_split",
        "augment_shift",
        "augment_rotation",
        "augment_zoom",
        "label_smoothing",
        "warmup_fraction",
    } == FLOAT_FIELDS

"""The session's current choice of dataset and model, kept in `st.session_state` under widget keys.

Widgets in the sidebar own these keys, so a choice survives page switches; `selection()` turns them into
engine objects (a loaded `Dataset`, a sized `ModelSpec`, a `TrainConfig`) or the engine's message saying
why they cannot be used. A value a link (or a preset's recipe) asked for that the widgets cannot hold is a
`Refusal`: it keeps training off until the user changes that widget or accepts what the widgets show.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace

import streamlit as st

from dashboard import services
from engine.architectures import DEFAULT_PRESET as ENGINE_DEFAULT_PRESET
from engine.architectures import PRESETS, ConvBlock, DenseLayer, ModelSpec
from engine.architectures.presets import Override, model_label, recipe_overrides
from engine.datasets import DEFAULT_DATASET, Dataset
from engine.errors import DigitLabError, InvalidConfig
from engine.limits import train_limits
from engine.training.checks import validate_config_values
from engine.training.config import TrainConfig, settings
from engine.validation import validate_request

DATASET_KEY = "dataset"
PRESET_KEY = "preset"
TRAIN_RECIPE_OPEN_KEY = "train_recipe_open"  # the Train page's Keras-code expander (drawn only while open)
RUN_KEY = "run_id"
FOLDS_KEY = "folds"
COMPARE_KEY = "compare_runs"
COMPARE_KEPT_KEY = "_compare_runs"  # widget state is dropped on other pages; this copy brings the selection back
JOB_KEY = "_job_id"  # the job (engine.jobs) this session follows; in the link as ?job=
LINK_PROBLEMS_KEY = "_link_problems"  # one-off notices (plain text) from the link, shown on the first page
REFUSALS_KEY = "_link_refusals"  # Refusals still in force
PAGE_PARAMS_KEY = "_page_params"
# Inspect's "Draw a digit" tab is drawn only while open, and its canvas forgets a drawing once it is not drawn: the
# last drawing is kept here (a KeptDrawing), the drawing the canvas was mounted with beside it, and a counter that
# "Clear" bumps to mount a fresh, empty canvas.
INSPECT_DRAWING_KEY = "_inspect_drawing"
INSPECT_CANVAS_SEED_KEY = "_inspect_canvas_seed"
INSPECT_CANVAS_CLEARS_KEY = "_inspect_canvas_clears"
CUSTOM = "(custom)"
DEFAULT_PRESET = ENGINE_DEFAULT_PRESET  # one default for the CLI and the dashboard


def config_widgets(config_type: type | None = None) -> dict[str, str]:
    """{setting: sidebar widget key} for each setting of `config_type` (default TrainConfig) with a widget."""
    return {name: info.widget for name, info in settings(config_type).items() if info.widget is not None}


# Sidebar widget keys for the training settings, one per TrainConfig field the user may change.
CONFIG_WIDGETS = config_widgets()
BLOCK_FIELDS = [f.name for f in fields(ConvBlock)]
DENSE_FIELDS = [f.name for f in fields(DenseLayer)]
SPEC_WIDGETS = ("output_activation", "optimizer", "learning_rate", "batch_norm_momentum", "loss")
# The validator takes fractions in [0, 1) and learning rates in (0, max]: these bounds are the same sets of
# floats, so a widget can hold every value the validator accepts and nothing it refuses.
BELOW_ONE = math.nextafter(1.0, 0.0)
ABOVE_ZERO = math.ulp(0.0)


def config_widget_ranges() -> dict[str, tuple]:
    """(min, max) of each training-setting number widget, from the limits in force (max None = no maximum).

    The validator's bounds, so what a link may carry a widget can show, and the reverse.
    """
    limits = train_limits()
    return {
        "epochs": (1, limits.max_epochs),
        "batch_size": (1, limits.max_batch_size),
        "validation_split": (0.0, BELOW_ONE),
        "seed": (0, limits.max_seed),
        "early_stopping_patience": (0, limits.max_epochs),
        "limit_train": (0, None),  # the validator has no maximum either: a subset above the set means all of it
    }


LINK = "link"  # a Refusal's source when a link asked


@dataclass(frozen=True)
class Refusal:
    """A value asked for (by a link, or by a preset's recipe beyond this server's caps) that was not used.

    `shown` holds the widget keys and the values they were given instead; while every one of them still holds
    that value the refusal stands and training stays off, so nothing is trained that nobody chose.
    """

    parameter: str  # the link parameter (or setting) name
    value: str  # what was asked, as text (shown shortened, as plain text)
    reason: str  # the validator's message
    shown: tuple[tuple[str, object], ...] = ()  # (widget key, value shown instead)
    raw: str = ""  # the link's value, kept in the address bar while the refusal stands
    # Who asked: LINK, or a preset's recipe chosen in the sidebar (`preset_source`). A refusal names its asker, so
    # a student who never opened a link is not told that "the link" asked for anything.
    source: str = LINK

    @property
    def asker(self) -> str:
        """Who asked, as the subject of a sentence: "the link", "preset seed002-lenet5's recipe"."""
        return "the link" if self.source == LINK else self.source

    def message(self) -> str:
        instead = ""
        if self.shown:
            instead = " The sidebar shows other values; training stays off until you choose one there"
            instead += " (or press 'Use the values shown')."
        reason = self.reason if self.reason.endswith((".", "!", "?")) else f"{self.reason}."
        if self.source == LINK:
            return f"The link's {self.parameter} = {shorten(self.value)} was refused: {reason}{instead}"
        asked = f"{self.asker[0].upper()}{self.asker[1:]} asks for {self.parameter} = {shorten(self.value)}"
        return f"{asked}, which this server refuses: {reason}{instead}"

    def withdrawn(self, session) -> bool:
        return any(key not in session or session[key] != value for key, value in self.shown)


def preset_source(preset: str | None, named_by: str = "") -> str:
    """A preset's recipe as a refusal's asker; `named_by` says who chose the preset when not the sidebar."""
    recipe = f"preset {preset}'s recipe" if preset else "the model's recipe"
    return f"{recipe} (named by {named_by})" if named_by else recipe


def shorten(text: str, limit: int = 60) -> str:
    """At most `limit` characters of untrusted text, saying how long it was when cut."""
    text = str(text)
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text):,} characters)"


@dataclass(frozen=True)
class Selection:
    """What the sidebar currently describes; `error` says why it cannot be trained, when it cannot."""

    dataset_name: str
    dataset: Dataset | None
    preset: str  # the preset whose architecture the builder still has; "" for a custom model
    spec: ModelSpec | None  # sized for the dataset (after class merging)
    config: TrainConfig | None
    error: str = ""
    overrides: tuple[Override, ...] = ()  # recipe settings changed from the preset's

    @property
    def ready(self) -> bool:
        return self.dataset is not None and self.spec is not None and self.config is not None and not self.error

    @property
    def label(self) -> str:
        """'seed001-cnn3', 'seed001-cnn3 + epochs 20' or 'custom'."""
        return model_label(self.preset, self.overrides)


def block_key(index: int, name: str) -> str:
    return f"conv{index}_{name}"


def dense_key(index: int, name: str) -> str:
    return f"dense{index}_{name}"


def load_model_choice(
    preset: str | None, spec: ModelSpec | None = None, config: TrainConfig | None = None, named_by: str = ""
) -> list[Refusal]:
    """Write a preset (or a spec) and training settings into the widget keys before the widgets are drawn.

    `config` defaults to the preset's recipe. Callers validate what they pass (`links` validates a link's
    values); a recipe value beyond this server's caps (seed 002's 100 epochs in hosted mode) is not written: the
    widget gets the nearest value it can hold and the returned `Refusal` keeps training off until the user
    chooses. Its notice names the preset's recipe as the asker, and `named_by` who chose the preset ("the link").
    """
    base = PRESETS[preset] if preset else None
    spec = spec or (base.spec if base else PRESETS[DEFAULT_PRESET].spec)
    if config is None:
        config = base.config if base else TrainConfig()
        if base and base.label_mapping:
            config = config.replace(label_mapping=base.label_mapping)
    ss = st.session_state
    ss[PRESET_KEY] = preset or CUSTOM
    ss["n_conv"] = len(spec.conv_blocks)
    for index, block in enumerate(spec.conv_blocks, 1):
        for name in BLOCK_FIELDS:
            ss[block_key(index, name)] = getattr(block, name)
    ss["n_dense"] = len(spec.dense_layers)
    for index, layer in enumerate(spec.dense_layers, 1):
        for name in DENSE_FIELDS:
            ss[dense_key(index, name)] = getattr(layer, name)
    for name in SPEC_WIDGETS:
        ss[f"spec_{name}"] = getattr(spec, name)
    refusals = []
    for name, value, reason in config_beyond_limits(config):
        low, high = config_widget_ranges()[name]
        shown = max(low, value if high is None else min(high, value))
        config = config.replace(**{name: shown})
        source = preset_source(preset if base is not None else None, named_by)
        refusals.append(Refusal(name, str(value), reason, ((CONFIG_WIDGETS[name], shown),), source=source))
    for name, key in CONFIG_WIDGETS.items():
        ss[key] = getattr(config, name)
    return refusals


def config_beyond_limits(config: TrainConfig) -> list[tuple[str, object, str]]:
    """(setting, value, the validator's reason) for each widget setting of `config` the limits in force refuse,
    each checked on its own against the default recipe so one bad value does not hide another."""
    found = []
    for name in CONFIG_WIDGETS:
        value = getattr(config, name)
        probe = TrainConfig().replace(**{name: value})
        if name == "early_stopping_patience":
            probe = probe.replace(validation_split=config.validation_split)
        try:
            validate_config_values(probe)
        except InvalidConfig as error:
            found.append((name, value, str(error)))
    return found


def refusals() -> list[Refusal]:
    """The refusals still in force; one the user has answered (by changing its widget) is dropped for good."""
    ss = st.session_state
    standing = [refusal for refusal in ss.get(REFUSALS_KEY, []) if not refusal.withdrawn(ss)]
    ss[REFUSALS_KEY] = standing
    return standing


def add_refusals(new: list[Refusal]) -> None:
    st.session_state[REFUSALS_KEY] = [*st.session_state.get(REFUSALS_KEY, []), *new]


def accept_shown_values() -> None:
    """The user's answer to every refusal at once: train what the widgets show."""
    st.session_state[REFUSALS_KEY] = []


def ensure_defaults() -> None:
    if PRESET_KEY not in st.session_state:
        add_refusals(load_model_choice(DEFAULT_PRESET))
    st.session_state.setdefault(DATASET_KEY, DEFAULT_DATASET)


def spec_from_widgets() -> ModelSpec:
    ss = st.session_state
    blocks = tuple(
        ConvBlock(**{name: ss.get(block_key(i, name), getattr(ConvBlock(), name)) for name in BLOCK_FIELDS})
        for i in range(1, int(ss.get("n_conv", 1)) + 1)
    )
    dense = tuple(
        DenseLayer(**{name: ss.get(dense_key(i, name), getattr(DenseLayer(), name)) for name in DENSE_FIELDS})
        for i in range(1, int(ss.get("n_dense", 0)) + 1)
    )
    return ModelSpec(
        conv_blocks=blocks,
        dense_layers=dense,
        output_activation=ss.get("spec_output_activation", "softmax"),
        optimizer=ss.get("spec_optimizer", "adam"),
        learning_rate=float(ss.get("spec_learning_rate", 1e-3)),
        batch_norm_momentum=float(ss.get("spec_batch_norm_momentum", ModelSpec.batch_norm_momentum)),
        loss=ss.get("spec_loss", "categorical_crossentropy"),
    )


def config_from_widgets() -> TrainConfig:
    ss = st.session_state
    values = {name: ss[key] for name, key in CONFIG_WIDGETS.items() if key in ss}
    values["label_mapping"] = (values.get("label_mapping") or "").strip()
    # Settings without a widget (label smoothing, warm-up, augmentation strengths) keep the selected preset's
    # values: starting from TrainConfig() would silently train another recipe than the preset names.
    preset = PRESETS.get(ss.get(PRESET_KEY, CUSTOM))
    return (preset.config if preset else TrainConfig()).replace(**values)


def selection() -> Selection:
    """The sidebar's current dataset and model as engine objects, validated; refused link values keep it unready."""
    chosen = _selection()
    standing = refusals()
    if standing and not chosen.error:
        by_asker: dict[str, list[str]] = {}
        for refusal in standing:
            by_asker.setdefault(refusal.asker, []).append(refusal.parameter)
        asked = "; ".join(f"{asker} asked for {', '.join(dict.fromkeys(names))}" for asker, names in by_asker.items())
        return replace(
            chosen,
            error=f"Training is off: this server refused values ({asked}; see the notices). "
            "Choose those settings in the sidebar, or press 'Use the values shown'.",
        )
    return chosen


def _selection() -> Selection:
    ensure_defaults()
    name = st.session_state[DATASET_KEY]
    try:
        dataset = services.dataset(name)
    except DigitLabError as error:
        return Selection(name, None, "", None, None, str(error))
    raw_spec, config = spec_from_widgets(), config_from_widgets()
    try:
        classes = services.class_count(dataset, config.label_mapping, dataset.fingerprint)
        spec = raw_spec.for_data(dataset.image_shape, classes)
        preset = PRESETS.get(st.session_state.get(PRESET_KEY, CUSTOM))
        if preset is not None and preset.spec.for_data(spec.input_shape, spec.num_classes) == spec:
            preset.spec_for(dataset.image_shape, classes)  # its message names the preset and the image sizes
        validate_request(spec, config, n_train=len(dataset.x_train), num_classes=classes)
    except DigitLabError as error:
        shown = raw_spec.for_data(dataset.image_shape, dataset.num_classes)
        return Selection(name, dataset, "", shown, config, str(error))
    preset_name = matching_preset(spec)
    overrides = recipe_overrides(PRESETS[preset_name], config) if preset_name else ()
    return Selection(name, dataset, preset_name, spec, config, overrides=overrides)


def matching_preset(spec: ModelSpec) -> str:
    """The chosen preset's name while the builder still has its architecture (sized for the data), else "".

    Training settings may differ: they are the selection's `overrides` ("seed001-cnn3 + epochs 20").
    """
    chosen = st.session_state.get(PRESET_KEY, CUSTOM)
    preset = PRESETS.get(chosen)
    if preset is None:
        return ""
    return chosen if preset.spec.for_data(spec.input_shape, spec.num_classes) == spec else ""


def architecture_matches_preset() -> str:
    """The chosen preset while the widgets hold its architecture (any image size), else "": what a link names."""
    chosen = st.session_state.get(PRESET_KEY, CUSTOM)
    preset = PRESETS.get(chosen)
    if preset is None:
        return ""
    spec = spec_from_widgets()
    return chosen if preset.spec.for_data(spec.input_shape, spec.num_classes) == spec else ""


def set_page_param(name: str, value) -> None:
    """Put a page's own state (run id, folds, selected runs) into the shareable link, right away."""
    text = "" if value is None else str(value)
    st.session_state.setdefault(PAGE_PARAMS_KEY, {})[name] = text
    if text:
        st.query_params[name] = text
    elif name in st.query_params:
        del st.query_params[name]


@dataclass(frozen=True)
class KeptDrawing:
    """What Inspect's canvas last sent: its fabric.js objects (fed back as `initial_drawing` when the canvas mounts
    again) and its PNG (the pixels the model is shown), so the drawing and its results outlive the tab."""

    objects: dict  # the canvas's `json_data`
    png: bytes  # the canvas's `image_bytes`, 280x280 RGBA


def current_run_id() -> str | None:
    return st.session_state.get(RUN_KEY)


def open_run(run_id: str) -> None:
    st.session_state[RUN_KEY] = run_id

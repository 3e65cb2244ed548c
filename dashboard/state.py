"""The session's current choice of dataset and model, kept in `st.session_state` under widget keys.

Widgets in the sidebar own these keys, so a choice survives page switches; `selection()` turns them into
engine objects (a loaded `Dataset`, a sized `ModelSpec`, a `TrainConfig`) or the engine's message saying
why they cannot be used.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import streamlit as st

from dashboard import services
from engine.architectures import PRESETS, ConvBlock, DenseLayer, ModelSpec
from engine.datasets import DEFAULT_DATASET, Dataset
from engine.errors import DigitLabError
from engine.training.config import TrainConfig
from engine.validation import validate_config_values, validate_request

DATASET_KEY = "dataset"
PRESET_KEY = "preset"
RUN_KEY = "run_id"
FOLDS_KEY = "folds"
COMPARE_KEY = "compare_runs"
JOB_KEY = "_job_id"  # the job (engine.jobs) this session follows; in the link as ?job=
LINK_PROBLEMS_KEY = "_link_problems"
PAGE_PARAMS_KEY = "_page_params"
CUSTOM = "(custom)"
DEFAULT_PRESET = "digitlab-small8"

# Sidebar widget keys for the training settings, one per TrainConfig field the user may change.
CONFIG_WIDGETS = {
    "epochs": "cfg_epochs",
    "batch_size": "cfg_batch_size",
    "validation_split": "cfg_validation_split",
    "seed": "cfg_seed",
    "early_stopping_patience": "cfg_early_stopping",
    "lr_schedule": "cfg_schedule",
    "augmentation": "cfg_augmentation",
    "limit_train": "cfg_limit_train",
    "label_mapping": "cfg_label_mapping",
}
BLOCK_FIELDS = [f.name for f in fields(ConvBlock)]
DENSE_FIELDS = [f.name for f in fields(DenseLayer)]


@dataclass(frozen=True)
class Selection:
    """What the sidebar currently describes; `error` says why it cannot be trained, when it cannot."""

    dataset_name: str
    dataset: Dataset | None
    preset: str  # "" when the builder no longer matches any preset
    spec: ModelSpec | None  # sized for the dataset (after class merging)
    config: TrainConfig | None
    error: str = ""

    @property
    def ready(self) -> bool:
        return self.dataset is not None and self.spec is not None and self.config is not None and not self.error


def block_key(index: int, name: str) -> str:
    return f"conv{index}_{name}"


def dense_key(index: int, name: str) -> str:
    return f"dense{index}_{name}"


def load_model_choice(preset: str | None, spec: ModelSpec | None = None, config_changes: dict | None = None) -> None:
    """Write a preset (or a spec) and training settings into the widget keys before the widgets are drawn.

    Settings from a link are validated first (`InvalidConfig`), because the widgets' ranges are the
    validator's: a value the engine refuses is one a widget cannot show. `links` validates a linked spec.
    """
    base = PRESETS[preset] if preset else None
    spec = spec or (base.spec if base else PRESETS[DEFAULT_PRESET].spec)
    config = base.config if base else TrainConfig()
    if base and base.label_mapping:
        config = config.replace(label_mapping=base.label_mapping)
    if config_changes:
        config = TrainConfig.from_dict({**config.to_dict(), **config_changes})
        validate_config_values(config)
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
    for name in ("output_activation", "optimizer", "learning_rate", "batch_norm_momentum", "loss"):
        ss[f"spec_{name}"] = getattr(spec, name)
    for name, key in CONFIG_WIDGETS.items():
        ss[key] = getattr(config, name)


def ensure_defaults() -> None:
    if PRESET_KEY not in st.session_state:
        load_model_choice(DEFAULT_PRESET)
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
    return TrainConfig().replace(**values)


def selection() -> Selection:
    """The sidebar's current dataset and model as engine objects, validated."""
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
    return Selection(name, dataset, matching_preset(spec, config), spec, config)


def matching_preset(spec: ModelSpec, config: TrainConfig) -> str:
    """The chosen preset's name while the builder still equals it (architecture and recipe), else ""."""
    chosen = st.session_state.get(PRESET_KEY, CUSTOM)
    preset = PRESETS.get(chosen)
    if preset is None:
        return ""
    expected_config = preset.config
    if preset.label_mapping:
        expected_config = expected_config.replace(label_mapping=preset.label_mapping)
    same_spec = preset.spec.for_data(spec.input_shape, spec.num_classes) == spec
    return chosen if same_spec and expected_config == config.replace(seed=preset.config.seed) else ""


def set_page_param(name: str, value) -> None:
    """Put a page's own state (run id, folds, selected runs) into the shareable link, right away."""
    text = "" if value is None else str(value)
    st.session_state.setdefault(PAGE_PARAMS_KEY, {})[name] = text
    if text:
        st.query_params[name] = text
    elif name in st.query_params:
        del st.query_params[name]


def current_run_id() -> str | None:
    return st.session_state.get(RUN_KEY)


def open_run(run_id: str) -> None:
    st.session_state[RUN_KEY] = run_id

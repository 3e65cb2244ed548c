"""`TrainConfig`: everything about one training run except the architecture and the data source, and where each
of its settings can be reached from (`SettingInfo`, stated once beside the field).

Its values are checked, with the spec's, by `engine.validation`; `check_types` here is the part that parsing
(`TrainConfig.from_dict`) needs too. The caps come from `engine.limits`. The CLI's training flags, the link's
parameters, the sidebar's widget keys, the names a sweep may vary, the labels of a model's overrides, the fields the
exported recipe reproduces and the run key's optional fields are all derived from the fields' `SettingInfo`
(`settings()`), so a new setting is registered here alone; what else it needs is its own: the training code that
uses it and its range check (`engine.training.checks`, with a cap in `engine.limits` if it has one). A setting with
a widget that the sidebar does not lay out by hand is drawn there from this metadata, by its kind.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, cast

from engine.errors import InvalidConfig
from engine.limits import TrainLimits  # re-exported: its home before engine.limits held every cap

LR_SCHEDULES = ("constant", "one_cycle", "cosine")
WIDGET_KINDS = ("number", "select", "checkbox", "text")
_METADATA_KEY = "setting"


@dataclass(frozen=True)
class SettingInfo:
    """Where one `TrainConfig` setting is reached from. Each way in is either given or refused with a reason
    (`no_label`, `no_flag`, `no_link`, `no_widget`, `no_sweep`, `no_recipe`), so leaving a setting out anywhere
    is a decision someone wrote down, never an oversight."""

    label: str | None = None  # short name in a model's label when it differs from the preset's ("+ batch 32")
    flag: str | None = None  # the flag of train, cv and memory (dest is the field's name)
    help: str | None = None  # the flag's help text
    link: str | None = None  # the link's query parameter; links carry only the settings the sidebar has widgets for
    widget: str | None = None  # the sidebar widget's session-state key
    widget_kind: str | None = None  # one of WIDGET_KINDS: the Streamlit widget that shows it
    choices: tuple[str, ...] = ()  # a text setting's allowed values (CLI choices, the link's parser)
    max_length: int = 0  # a free-text setting's longest value a link may carry; 0 = not free text
    sweep: bool = False  # a sweep may vary it (a `--space` name)
    recipe: bool = True  # the exported Keras recipe and notebook reproduce it
    key_optional: bool = False  # added after runs were stored: at its default the run key leaves it out
    no_label: str = ""  # why a model's label never names it, when it has no label
    no_flag: str = ""  # why there is no flag, when there is none
    no_link: str = ""
    no_widget: str = ""
    no_sweep: str = ""
    no_recipe: str = ""

    def __post_init__(self) -> None:
        ways = {
            "label": (self.label is not None, self.no_label),
            "flag": (self.flag is not None, self.no_flag),
            "link": (self.link is not None, self.no_link),
            "widget": (self.widget is not None, self.no_widget),
            "sweep": (self.sweep, self.no_sweep),
            "recipe": (self.recipe, self.no_recipe),
        }
        for way, (given, reason) in ways.items():
            if given == bool(reason):
                raise ValueError(f"setting {self.label!r}: give either its {way} or no_{way} with a reason")
        if (self.widget is None) != (self.widget_kind is None) or self.widget_kind not in (None, *WIDGET_KINDS):
            raise ValueError(f"setting {self.label!r}: a widget needs its key and a kind from {WIDGET_KINDS}")

    def reason_not(self, way: str) -> str:
        """Why the setting cannot be reached by `way` (label, flag, link, widget, sweep, recipe); "" when it can."""
        return getattr(self, f"no_{way}")


def setting(**info: Any) -> dict[str, SettingInfo]:
    """A field's metadata: `field(default=..., metadata=setting(label=..., flag=..., ...))`."""
    return {_METADATA_KEY: SettingInfo(**info)}


# Reasons shared by several fields.
_NO_LINK = "links carry only the settings the sidebar has widgets for"
_NO_WIDGET_RECIPE = "a preset's recipe sets it; the sidebar keeps the selected preset's value"
_NO_FLAG_STRENGTH = "an augmentation strength: the preset's recipe or a sweep sets it"
_NO_SWEEP_OWN = "the sweep's own setting (or it would change what the metric is measured on)"
_FOLD = "set by cross-validation (digit-lab cv --folds, the k-fold page), one run per fold"
_FOLD_LABEL = "it says which fold a run is, not how its model was changed"


@dataclass(frozen=True)
class TrainConfig:
    """How to train. Part of the run key: change any field and the run is trained anew."""

    epochs: int = field(
        default=10,
        metadata=setting(
            label="epochs",
            flag="--epochs",
            link="epochs",
            widget="cfg_epochs",
            widget_kind="number",
            no_sweep=_NO_SWEEP_OWN,
        ),
    )
    batch_size: int = field(
        default=64,
        metadata=setting(
            label="batch", flag="--batch-size", link="batch", widget="cfg_batch_size", widget_kind="number", sweep=True
        ),
    )
    validation_split: float = field(  # fraction of the training set held out, stratified and seeded; 0 = none
        default=0.2,
        metadata=setting(
            label="validation",
            flag="--validation-split",
            link="val_split",
            widget="cfg_validation_split",
            widget_kind="number",
            no_sweep=_NO_SWEEP_OWN,
        ),
    )
    seed: int = field(  # seeds Keras, NumPy, Python, the split, the shuffles and the folds
        default=0,
        metadata=setting(
            label="seed", flag="--seed", link="seed", widget="cfg_seed", widget_kind="number", no_sweep=_NO_SWEEP_OWN
        ),
    )
    early_stopping_patience: int = field(  # epochs without val_loss improvement before stopping; 0 = off
        default=0,
        metadata=setting(
            label="patience",
            flag="--early-stopping",
            link="patience",
            widget="cfg_early_stopping",
            widget_kind="number",
            sweep=True,
        ),
    )
    lr_schedule: str = field(  # constant | one_cycle (warm up then anneal) | cosine (decay to 0)
        default="constant",
        metadata=setting(
            label="schedule",
            flag="--schedule",
            link="schedule",
            widget="cfg_schedule",
            widget_kind="select",
            choices=LR_SCHEDULES,
            sweep=True,
        ),
    )
    augmentation: bool = field(  # random shifts, rotations and zoom while training (Keras preprocessing layers)
        default=False,
        metadata=setting(
            label="augmentation",
            flag="--augment",
            link="augment",
            widget="cfg_augmentation",
            widget_kind="checkbox",
            sweep=True,
        ),
    )
    augment_shift: float = field(  # fraction of the image size
        default=0.1,
        metadata=setting(
            label="shift",
            no_flag=_NO_FLAG_STRENGTH,
            no_link=_NO_LINK,
            no_widget=_NO_WIDGET_RECIPE,
            sweep=True,
        ),
    )
    augment_rotation: float = field(  # degrees
        default=10.0,
        metadata=setting(
            label="rotation",
            no_flag=_NO_FLAG_STRENGTH,
            no_link=_NO_LINK,
            no_widget=_NO_WIDGET_RECIPE,
            sweep=True,
        ),
    )
    augment_zoom: float = field(  # fraction
        default=0.1,
        metadata=setting(
            label="zoom",
            no_flag=_NO_FLAG_STRENGTH,
            no_link=_NO_LINK,
            no_widget=_NO_WIDGET_RECIPE,
            sweep=True,
        ),
    )
    limit_train: int = field(  # use a stratified subset of this many training images; 0 = all
        default=0,
        metadata=setting(
            label="subset",
            flag="--limit-train",
            help="train on a stratified subset of this many images",
            link="limit",
            widget="cfg_limit_train",
            widget_kind="number",
            no_sweep=_NO_SWEEP_OWN,
        ),
    )
    label_mapping: str = field(  # merge classes before training: a preset name or "0,6|1,7|..."; "" = none
        default="",
        metadata=setting(
            label="classes",
            flag="--label-mapping",
            help='merge classes: a preset name or "0,6|1,7|2,3,5,8|4,9"',
            link="classes",
            widget="cfg_label_mapping",
            widget_kind="text",
            max_length=200,
            no_sweep=_NO_SWEEP_OWN,
        ),
    )
    cv_folds: int = field(  # set by cross-validation: validate on fold `cv_fold` of a stratified k-fold instead
        default=0,
        metadata=setting(no_label=_FOLD_LABEL, no_flag=_FOLD, no_link=_FOLD, no_widget=_FOLD, no_sweep=_FOLD),
    )
    cv_fold: int = field(
        default=0, metadata=setting(no_label=_FOLD_LABEL, no_flag=_FOLD, no_link=_FOLD, no_widget=_FOLD, no_sweep=_FOLD)
    )
    # Added after runs were stored (key_optional): at their defaults they leave a run's key unchanged.
    label_smoothing: float = field(  # one-hot targets become (1 - s) * onehot + s / classes; categorical loss only
        default=0.0,
        metadata=setting(
            label="smoothing",
            flag="--label-smoothing",
            help="smooth one-hot targets by this much (0 = off)",
            no_link=_NO_LINK,
            no_widget=_NO_WIDGET_RECIPE,
            no_sweep="not offered yet: the sweep varies the sidebar's recipe widgets and the augmentation strengths",
            key_optional=True,
        ),
    )
    warmup_fraction: float = field(  # cosine only: share of all steps warming up linearly from lr / 25 to lr
        default=0.0,
        metadata=setting(
            label="warm-up",
            flag="--warmup",
            help="cosine: warm-up share of all steps",
            no_link=_NO_LINK,
            no_widget=_NO_WIDGET_RECIPE,
            no_sweep="not offered yet: the sweep varies the sidebar's recipe widgets and the augmentation strengths",
            key_optional=True,
        ),
    )
    augment_flip: bool = field(  # mirror each training image left-right with probability 1/2 (clothing, not digits)
        default=False,
        metadata=setting(
            label="flips",
            flag="--flip",
            help="random left-right flips while training",
            link="flip",
            widget="cfg_augment_flip",
            widget_kind="checkbox",
            sweep=True,
            key_optional=True,
        ),
    )
    test_time_mirror: bool = field(  # predict from each image and its mirror together (engine.test_time_views)
        default=False,
        metadata=setting(
            label="mirror views",
            flag="--test-time-mirror",
            help="predict each image from the mean of its and its left-right mirror's logits (training unchanged)",
            link="mirror_views",
            widget="cfg_test_time_mirror",
            widget_kind="checkbox",
            sweep=True,
            key_optional=True,
        ),
    )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def key_dict(self) -> dict[str, Any]:
        """The settings as the run key hashes them: a later-added field at its default is left out, so runs stored
        before it existed keep their ids."""
        optional = KEY_OPTIONAL if type(self) is TrainConfig else key_optional(type(self))
        return {k: v for k, v in asdict(self).items() if not (k in optional and v == optional[k])}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InvalidConfig(f"Unknown training setting(s): {', '.join(unknown)}.")
        # A whole number in a float setting (a link's `"validation_split": 0`) becomes a float (`FLOAT_FIELDS`).
        floats = FLOAT_FIELDS if cls is TrainConfig else float_fields(cls)
        values: dict[str, Any] = {k: float(v) if k in floats and type(v) is int else v for k, v in data.items()}
        config = cls(**values)
        check_types(config)
        return config

    def replace(self, **changes: Any) -> TrainConfig:
        return replace(self, **changes)


def settings(config_type: type | None = None) -> dict[str, SettingInfo]:
    """Each setting of `config_type` (default `TrainConfig`; any dataclass whose fields carry `setting(...)`) by
    name, in field order: what the CLI, links, sidebar, sweeps, labels and recipe derive their tables from."""
    found = {}
    for f in fields(config_type or TrainConfig):
        if _METADATA_KEY not in f.metadata:
            raise TypeError(f"{f.name} has no setting(...) metadata: say where it can be reached from")
        found[f.name] = f.metadata[_METADATA_KEY]
    return found


def float_fields(config_type: type | None = None) -> frozenset[str]:
    return frozenset(f.name for f in fields(config_type or TrainConfig) if f.type in ("float", float))


def key_optional(config_type: type | None = None) -> dict[str, Any]:
    """Fields added after runs were stored, with the default the older runs trained with (the field's default)."""
    return {f.name: f.default for f in fields(config_type or TrainConfig) if f.metadata[_METADATA_KEY].key_optional}


# The float settings: a whole number given for one (a link's or a JSON file's `0`) becomes a float, so the run key,
# which hashes the config's JSON where 0 and 0.0 differ, is the same as for the widget's 0.0.
FLOAT_FIELDS = float_fields()

# Fields added after runs were stored, with the default that the older runs trained with.
KEY_OPTIONAL: dict[str, Any] = key_optional()

_TYPES: dict[str, type | tuple[type, ...]] = {"int": int, "float": (int, float), "bool": bool, "str": str}


def check_types(config: TrainConfig) -> None:
    """Raise `InvalidConfig` naming the first setting whose type is wrong (a bool is not a number here)."""
    for f in fields(config):
        value = getattr(config, f.name)
        if (isinstance(value, bool) and f.type != "bool") or not isinstance(value, _TYPES[cast(str, f.type)]):
            raise InvalidConfig(f"Training setting {f.name} has the wrong type: {value!r}.")


__all__ = [
    "FLOAT_FIELDS",
    "KEY_OPTIONAL",
    "LR_SCHEDULES",
    "SettingInfo",
    "TrainConfig",
    "TrainLimits",
    "check_types",
    "float_fields",
    "key_optional",
    "setting",
    "settings",
]

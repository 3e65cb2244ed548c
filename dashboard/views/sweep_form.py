"""The Sweep page's search-space form: the settings it offers, their defaults around the preset, a link's space
filled into the widgets, and the widgets that build the space."""

import streamlit as st

from dashboard import components, links
from engine.architectures.spec import OPTIMIZERS
from engine.limits import SpecLimits
from engine.sweeps import InvalidSweep, Param, SearchSpace, default_space
from engine.training.config import LR_SCHEDULES

# Settings the page offers: ranges (kind, log scale, widget bounds) and choices (the options shown).
RANGES = {
    "learning_rate": ("float", True, 1e-6, SpecLimits().max_learning_rate),
    "filters": ("int", True, 1, SpecLimits().max_filters),
    "dropout": ("float", False, 0.0, 0.95),
    "units": ("int", True, 1, SpecLimits().max_units),
}
CHOICES = {"batch_size": (8, 16, 32, 64, 128, 256), "optimizer": OPTIMIZERS, "lr_schedule": LR_SCHEDULES}


def preset_value(spec, name: str) -> str:
    """The base model's own value of a range setting, shown beside its range."""
    value = {
        "learning_rate": spec.learning_rate,
        "filters": spec.conv_blocks[0].filters if spec.conv_blocks else None,
        "dropout": spec.dense_layers[0].dropout if spec.dense_layers else None,
        "units": spec.dense_layers[0].units if spec.dense_layers else None,
    }.get(name)
    return "none" if value is None else f"{value:g}"


def seed_from_link(token: str | None, limits) -> None:
    """A link's space fills the widgets once (later runs leave them to the user); settings the widgets cannot show
    are named, never dropped silently."""
    ss = st.session_state
    token = ss.get("sweep_space")
    if token and ss.get("_sweep_seeded") != token:
        ss["_sweep_seeded"] = token
        try:
            linked = SearchSpace.from_dict(links.decode(token))
        except (ValueError, InvalidSweep):
            linked = SearchSpace(())
        shown, left = [], []
        for param in linked.params:
            lowest, highest = RANGES[param.name][2:] if param.name in RANGES else (0, 0)
            if (
                param.name in RANGES
                and param.kind == RANGES[param.name][0]
                and lowest <= param.low <= param.high <= highest
                and 1 <= param.grid_points <= limits.max_grid_points
            ):
                ss[f"sweep_low_{param.name}"], ss[f"sweep_high_{param.name}"] = param.low, param.high
                ss["sweep_grid_points"] = param.grid_points
                shown.append(param.name)
            elif param.name in CHOICES and param.kind == "choice" and set(param.choices) <= set(CHOICES[param.name]):
                ss[f"sweep_choices_{param.name}"] = list(param.choices)
                shown.append(param.name)
            else:
                left.append(param.name)
        ss["sweep_vary"] = shown
        if left:
            st.warning(
                f"The link's space varies {components.plain(', '.join(left))} in a way this page's widgets cannot "
                "show; those settings were left out. Use `digit-lab sweep --space FILE.json` for them.",
                icon=":material/link:",
            )


def default_params(base_spec, base_config) -> dict[str, Param]:
    """Each offered setting's default range or choices around the preset."""
    ss = st.session_state
    defaults = {p.name: p for p in default_space(base_spec, base_config).params}
    if base_spec.dense_layers:
        units = base_spec.dense_layers[0].units
        defaults["units"] = Param("units", "int", low=max(1, units // 2), high=units * 2, log=True)
    defaults["optimizer"] = Param("optimizer", "choice", choices=("adam", "rmsprop"))
    defaults["lr_schedule"] = Param("lr_schedule", "choice", choices=("constant", "cosine"))
    if "batch_size" in defaults:
        offered = CHOICES["batch_size"]
        defaults["batch_size"] = Param(
            "batch_size", "choice", choices=tuple(c for c in defaults["batch_size"].choices if c in offered) or (32, 64)
        )
    ss.setdefault(
        "sweep_vary", [name for name in ("learning_rate", "filters", "dropout", "batch_size") if name in defaults]
    )
    return defaults


def space_params(defaults: dict[str, Param], spec) -> list[Param]:
    """The settings to vary and their ranges or choices, as widgets; the grid points are set by the caller."""
    ss = st.session_state
    st.subheader("Search space")
    vary = st.multiselect(
        "Settings to vary",
        [name for name in (*RANGES, *CHOICES) if name in defaults],
        key="sweep_vary",
        help="filters: the first conv block's filters (later blocks keep their ratio); dropout: every dense layer's; "
        "units: the first dense layer's.",
    )
    params = []
    for name in vary:
        default = defaults[name]
        if name in RANGES:
            kind, log, lowest, highest = RANGES[name]
            left, right, note = st.columns([1, 1, 2])
            number = float if kind == "float" else int
            step = None if kind == "float" else 1
            shown_format = "%.6g" if kind == "float" else "%d"
            ss.setdefault(f"sweep_low_{name}", number(default.low))
            ss.setdefault(f"sweep_high_{name}", number(default.high))
            low = left.number_input(
                f"{name} from",
                min_value=number(lowest),
                max_value=number(highest),
                step=step,
                format=shown_format,
                key=f"sweep_low_{name}",
            )
            high = right.number_input(
                f"{name} to",
                min_value=number(lowest),
                max_value=number(highest),
                step=step,
                format=shown_format,
                key=f"sweep_high_{name}",
            )
            note.caption(f"{'log scale' if log else 'linear scale'}; the preset has {preset_value(spec, name)}")
            params.append(
                Param(name, kind, low=low, high=high, log=log, grid_points=int(ss.get("sweep_grid_points", 3)))
            )
        else:
            ss.setdefault(f"sweep_choices_{name}", list(default.choices))
            picked = st.multiselect(f"{name} choices", list(CHOICES[name]), key=f"sweep_choices_{name}")
            params.append(Param(name, "choice", choices=tuple(picked)))
    return params


def space_widget_keys(params: list[Param]) -> list[str]:
    """The keys of the search-space widgets drawn for `params`: which settings vary, and each one's range or
    choices."""
    keys = ["sweep_vary"]
    for param in params:
        if param.name in RANGES:
            keys += [f"sweep_low_{param.name}", f"sweep_high_{param.name}"]
        else:
            keys.append(f"sweep_choices_{param.name}")
    return keys

"""The shared sidebar: dataset picker and the model builder (preset, architecture, training settings).

Every widget writes to a key in `state`, so choices survive page switches. The engine validates the result;
its message appears right under the widgets and `selection().ready` turns False, which disables Train. Widget
ranges come from `engine.limits`, the bounds the validator enforces, read on every run.
"""

from __future__ import annotations

import streamlit as st

from dashboard import components, hosting, state
from engine.architectures import (
    ACTIVATIONS,
    BATCH_NORM_PLACES,
    LOSSES,
    OPTIMIZERS,
    OUTPUT_ACTIVATIONS,
    PADDINGS,
    POOLS,
    PRESETS,
    ConvBlock,
    DenseLayer,
)
from engine.datasets import LABEL_MAPPINGS, dataset_status, list_datasets
from engine.limits import spec_limits
from engine.training.config import LR_SCHEDULES, SettingInfo, settings

# Fractions the validator takes in [0, 1): the widgets' inclusive maximum is the largest float below 1, and
# "%g" shows what a link carries (0.995) instead of rounding it to two decimals.
FRACTION_MAX = state.BELOW_ONE


def _on_preset_change() -> None:
    chosen = st.session_state[state.PRESET_KEY]
    if chosen != state.CUSTOM:
        state.add_refusals(state.load_model_choice(chosen))


ARCHITECTURE_KEY, TRAINING_KEY = "sidebar_architecture", "sidebar_training"  # the expanders' open state


def render() -> None:
    state.ensure_defaults()
    st.session_state[state.PAGE_PARAMS_KEY] = {}
    _keep_model_state()
    with st.sidebar:
        st.header("Digit Lab")
        _dataset_picker()
        st.selectbox(
            "Model preset",
            [state.CUSTOM, *PRESETS],
            key=state.PRESET_KEY,
            on_change=_on_preset_change,
            help="Start from a model in one of the source reports; editing the widgets makes it custom.",
        )
        # Drawn only while open: some 35 widgets on every run of every page cost each page switch time in the
        # browser. Their values live on through `_keep_model_state`.
        architecture = st.expander("Architecture", key=ARCHITECTURE_KEY, on_change="rerun")
        with architecture:
            if architecture.open:
                _architecture_widgets()
        training = st.expander("Training settings", key=TRAINING_KEY, on_change="rerun")
        with training:
            if training.open:
                _training_widgets()
        selection = state.selection()
        if selection.dataset is None:
            pass  # the dataset's own problem: the caption under the picker points to the page, which shows it once
        elif selection.error:
            st.error(components.plain(selection.error), icon=":material/warning:")
        elif selection.preset:
            st.caption(f"Model: {components.plain(selection.label)}")
        else:
            started = st.session_state.get(state.PRESET_KEY)
            origin = f", started from {components.plain(started)}" if started in PRESETS else ""
            st.caption(f"Custom model (the architecture differs from the preset{origin}).")


def model_widget_keys() -> list[str]:
    """The keys of the model and training widgets the expanders would draw now: those `state.selection()` reads."""
    ss = st.session_state
    blocks = range(1, int(ss.get("n_conv", 0)) + 1)
    keys = ["n_conv", *(state.block_key(i, name) for i in blocks for name in state.BLOCK_FIELDS)]
    keys += ["n_dense"]
    keys += [state.dense_key(i, name) for i in range(1, int(ss.get("n_dense", 0)) + 1) for name in state.DENSE_FIELDS]
    # Batch norm momentum is drawn (and so kept) only with batch norm, as when the expander is open.
    with_batch_norm = any(ss.get(state.block_key(i, "batch_norm"), "none") != "none" for i in blocks)
    keys += [f"spec_{name}" for name in state.SPEC_WIDGETS if name != "batch_norm_momentum" or with_batch_norm]
    return [*keys, *state.CONFIG_WIDGETS.values()]


def _keep_model_state() -> None:
    """Streamlit drops a widget's value when the widget is not drawn in a run: with an expander closed the model
    would silently become the defaults. Written back through session state before the widgets, each value the
    widgets would show outlives the run, whether its expander is open or not."""
    ss = st.session_state
    for key in model_widget_keys():
        if key in ss:
            ss[key] = ss[key]


def _dataset_picker() -> None:
    # In hosted mode another visitor's upload is not listed (hosting.dataset_visible); the session's own choice
    # always is, as a selectbox must hold its value.
    chosen = st.session_state.get(state.DATASET_KEY)
    infos = {info.name: info for info in list_datasets() if info.name == chosen or hosting.dataset_visible(info.name)}
    status = {name: dataset_status(name) for name in infos}

    def label(name: str) -> str:
        return name if status[name][0] else f"{name} (not available here)"

    st.selectbox("Dataset", list(infos), key=state.DATASET_KEY, format_func=label)
    chosen = st.session_state[state.DATASET_KEY]
    if not status[chosen][0]:
        # One line here; the page shows the full message (what was tried, how to get it) once.
        st.caption(
            f"{components.plain(infos[chosen].title)} is not stored on this machine; the page says how to get it."
        )


def _architecture_widgets() -> None:
    limits = spec_limits()
    st.number_input("Conv blocks", 1, limits.max_conv_blocks, key="n_conv")
    for i in range(1, int(st.session_state["n_conv"]) + 1):
        st.markdown(f"**Conv block {i}**")
        _seed_missing(state.block_key, i, ConvBlock())
        # Numbers share a row; every select gets the sidebar's full width: in a half column its value was cut
        # ("rel" for relu, "one_cycl" for one_cycle) and the arrow hid the rest.
        left, right = st.columns(2)
        left.number_input("Filters", 1, limits.max_filters, key=state.block_key(i, "filters"))
        right.number_input("Kernel", 1, limits.max_kernel, key=state.block_key(i, "kernel_size"))
        left.number_input("Stride", 1, limits.max_stride, key=state.block_key(i, "stride"))
        right.number_input("Dropout", 0.0, FRACTION_MAX, step=0.05, format="%g", key=state.block_key(i, "dropout"))
        left.number_input("Pool size", 1, limits.max_pool_size, key=state.block_key(i, "pool_size"))
        right.number_input("Pool stride (0 = size)", 0, limits.max_pool_size, key=state.block_key(i, "pool_stride"))
        st.selectbox("Padding", PADDINGS, key=state.block_key(i, "padding"))
        st.selectbox("Activation", ACTIVATIONS, key=state.block_key(i, "activation"))
        st.selectbox("Pooling", POOLS, key=state.block_key(i, "pool"))
        st.selectbox("Batch norm", BATCH_NORM_PLACES, key=state.block_key(i, "batch_norm"))
    st.number_input("Dense layers", 0, limits.max_dense_layers, key="n_dense")
    for i in range(1, int(st.session_state["n_dense"]) + 1):
        _seed_missing(state.dense_key, i, DenseLayer())
        left, right = st.columns(2)
        left.number_input(f"Dense {i} units", 1, limits.max_units, key=state.dense_key(i, "units"))
        right.number_input("Dropout", 0.0, FRACTION_MAX, step=0.05, format="%g", key=state.dense_key(i, "dropout"))
        st.selectbox("Activation", ACTIVATIONS, key=state.dense_key(i, "activation"))
    st.selectbox("Output activation", OUTPUT_ACTIVATIONS, key="spec_output_activation")
    st.selectbox("Optimizer", OPTIMIZERS, key="spec_optimizer")
    st.selectbox(
        "Loss",
        LOSSES,
        key="spec_loss",
        help="Both are cross-entropy: categorical takes one-hot labels (and label smoothing), sparse takes class "
        "numbers. Seeds 001 and 002 use categorical.",
    )
    # (0, max] like the validator: the smallest positive float is the inclusive minimum.
    st.number_input(
        "Learning rate", state.ABOVE_ZERO, limits.max_learning_rate, format="%g", step=1e-4, key="spec_learning_rate"
    )
    if any(
        st.session_state.get(state.block_key(i, "batch_norm"), "none") != "none"
        for i in range(1, int(st.session_state["n_conv"]) + 1)
    ):
        st.number_input(
            "Batch norm momentum",
            0.0,
            FRACTION_MAX,
            step=0.01,
            format="%g",
            key="spec_batch_norm_momentum",
            help="How fast BatchNorm's moving statistics follow the batches. Keras' default 0.99 lags "
            "behind at high learning rates; 0.9 keeps early-epoch scores honest.",
        )


def _training_widgets() -> None:
    # The limits in force, hosted caps included: a preset recipe above them (seed 002's 100 epochs on a hosted
    # server) is a refusal with its notice (`state.load_model_choice`), never a value the widget cannot hold.
    ranges = state.config_widget_ranges()
    keys = state.CONFIG_WIDGETS
    left, right = st.columns(2)
    left.number_input("Epochs", *ranges["epochs"], key=keys["epochs"])
    right.number_input("Batch size", *ranges["batch_size"], key=keys["batch_size"])
    left.number_input(
        "Validation split", *ranges["validation_split"], step=0.05, format="%g", key=keys["validation_split"]
    )
    right.number_input("Seed", *ranges["seed"], key=keys["seed"])
    left.number_input(
        "Early stop patience (0 = off)", *ranges["early_stopping_patience"], key=keys["early_stopping_patience"]
    )
    right.number_input("Train subset (0 = all)", *ranges["limit_train"], step=100, key=keys["limit_train"])
    st.selectbox("LR schedule", LR_SCHEDULES, key=keys["lr_schedule"])  # full width: "one_cycle" was cut
    # Full width, and a short placeholder: in a half-width column the label read "Augme…", and a long
    # placeholder was cut off too.
    st.checkbox(
        "Augmentation",
        key=keys["augmentation"],
        help="Random shifts (10 %), rotations (10°) and zoom (10 %) while training.",
    )
    st.checkbox(
        "Random left-right flips",
        key=keys["augment_flip"],
        help="Mirror each training image left-right with probability 1/2, anew each epoch. For data whose "
        "mirror image is the same class (clothing); not for digits, whose mirror images are no digits.",
    )
    st.checkbox(
        "Predict with the mirror too",
        key=keys["test_time_mirror"],
        help="Test-time augmentation: the trained model predicts each image from the mean of its logits for the "
        "image and for its left-right mirror, on every page (scores, explanations, the classroom). Training is "
        "unchanged; each prediction costs two passes. For clothing trained with random flips, not digits: a "
        "model that never saw a mirrored image guesses about the mirrors.",
    )
    st.text_input(
        "Merge classes",
        key=keys["label_mapping"],
        max_chars=settings()["label_mapping"].max_length,  # the longest a link may carry: the same number
        placeholder="e.g. 0,6|1,7|2,3,5,8|4,9",
        help="Train on merged classes, as seed 004's 4-class experiment does: groups of classes split by |, "
        "or a named mapping (" + ", ".join(LABEL_MAPPINGS) + "). Empty = the original classes.",
    )
    for name, info in settings().items():
        if info.widget is not None and name not in LAID_OUT:
            _setting_widget(name, info, ranges.get(name, (None, None)))


# The settings `_training_widgets` lays out by hand (columns, steps, placeholders). Any other setting whose
# TrainConfig metadata gives it a widget is drawn below them from that metadata alone, so a new setting is
# reachable from the sidebar without an edit here; laying it out by hand is a later choice.
LAID_OUT = frozenset(
    {
        "epochs",
        "batch_size",
        "validation_split",
        "seed",
        "lr_schedule",
        "early_stopping_patience",
        "limit_train",
        "augmentation",
        "augment_flip",
        "test_time_mirror",
        "label_mapping",
    }
)


def _setting_widget(name: str, info: SettingInfo, bounds: tuple) -> None:
    """One training setting's widget drawn from its metadata: its kind, its flag's help, and the validator's bounds
    where `state.config_widget_ranges` has them."""
    label, help_text = name.replace("_", " ").capitalize(), info.help
    if info.widget_kind == "number":
        number_format = "%g" if isinstance(st.session_state.get(info.widget), float) else None
        st.number_input(label, *bounds, format=number_format, key=info.widget, help=help_text)
    elif info.widget_kind == "select":
        st.selectbox(label, info.choices, key=info.widget, help=help_text)
    elif info.widget_kind == "checkbox":
        st.checkbox(label, key=info.widget, help=help_text)
    else:
        st.text_input(label, key=info.widget, max_chars=info.max_length or None, help=help_text)


def _seed_missing(key, index: int, template) -> None:
    """A block added with the +/- control starts from the spec's defaults rather than from nothing."""
    for name in template.__dataclass_fields__:
        st.session_state.setdefault(key(index, name), getattr(template, name))

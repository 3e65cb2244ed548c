"""Data: the sidebar's dataset as a card, its class balance, seeded sample grids, class means, the pixel
histogram, a 2-D map (PCA or t-SNE) whose selected points show their images, and the labels k-fold models doubt.

Statistics come from `engine.exploration`, cached per dataset fingerprint so switching pages costs nothing.
"""

import pandas as pd
import streamlit as st

from dashboard import components, hosting, links, state
from dashboard.views.data_label_issues import show_label_issues
from dashboard.views.data_tabs import (
    PER_CLASS_KEY,
    SEED_KEY,
    SPLIT_KEY,
    show_classes,
    show_images,
    show_leakage,
    show_map,
)
from dashboard.views.data_view import TABS, VIEW
from engine import exploration
from engine.datasets import list_datasets
from engine.datasets.network import forget_failure, remembered_failure
from engine.datasets.scaling import AUTO_OBSERVED_AT_MOST, DEFAULT_SCALING, PIXEL_SCALINGS
from engine.datasets.uploads import is_upload_name, register_upload, rescale_upload, upload_info
from engine.errors import DigitLabError, InvalidDataFile
from engine.limits import input_limits

UPLOAD_KEY, UPLOAD_RESULT_KEY = "data_upload_files", "_data_upload_result"
UPLOAD_SCALING_KEY, SCALING_KEY = "data_upload_scaling", "data_pixel_scaling"
SCALING_HELP = (
    f"What raw pixels are divided by to train on 0..1. auto: the largest value when it is at most "
    f"{AUTO_OBSERVED_AT_MOST} (e.g. 0..16 digit counts), else 255; type: 255 (uint8's range); observed: the largest "
    "value in the files."
)


def _add_upload() -> None:
    """Button callback (it runs before the sidebar's widgets exist, so it may select the new dataset)."""
    files = st.session_state.get(UPLOAD_KEY) or []
    try:
        cap = input_limits().max_upload_bytes
        if sum(f.size for f in files) > cap:  # before copying the bytes out of the uploader
            raise InvalidDataFile(f"The upload is over this server's {cap:,}-byte limit.")
        name = register_upload(
            [(f.name, f.getvalue()) for f in files], st.session_state.get(UPLOAD_SCALING_KEY, DEFAULT_SCALING)
        )
    except DigitLabError as error:
        st.session_state[UPLOAD_RESULT_KEY] = ("error", str(error))
        return
    st.session_state[state.DATASET_KEY] = name
    hosting.grant_upload(name)  # hosted: the upload is this session's until it shares a link naming it
    st.session_state[UPLOAD_RESULT_KEY] = ("ok", f"Added as {name} and selected in the sidebar.")


def _rescale(name: str) -> None:
    """Select callback: the same upload's files registered with the chosen scaling, then selected in the sidebar."""
    try:
        rescaled = rescale_upload(name, st.session_state[SCALING_KEY])
    except DigitLabError as error:
        st.session_state[UPLOAD_RESULT_KEY] = ("error", str(error))
        return
    st.session_state[state.DATASET_KEY] = rescaled
    st.session_state[UPLOAD_RESULT_KEY] = ("ok", f"Rescaled as {rescaled} and selected in the sidebar.")


def _scaling_section(name: str, used: str) -> None:
    """What this upload's pixels are divided by and why (plain text: it names the files' values), and the choice."""
    if is_upload_name(name):
        st.session_state[SCALING_KEY] = upload_info(name).scaling  # the shown choice is always this upload's own
        st.selectbox(
            "Pixel scaling", PIXEL_SCALINGS, key=SCALING_KEY, on_change=_rescale, args=(name,), help=SCALING_HELP
        )
    st.text(f"Pixel scaling: {used}")


def _upload_section() -> None:
    """Upload IDX (raw or .gz) or npz files: checked by the engine exactly like a --data-path folder, kept in
    this server's cache under their fingerprint, so a link naming the upload reopens here."""
    per_file_mb, _ = hosting.upload_limits_mb()  # the caption and the uploader state the limits in force
    outcome = st.session_state.pop(UPLOAD_RESULT_KEY, None)  # what the last "Check and add" said, shown once
    with st.expander("Upload your own data (IDX files or an npz)", icon=":material/upload:", expanded=bool(outcome)):
        st.caption(
            f"The four IDX files under their usual names (raw or .gz) or one .npz with x_train, y_train, x_test, "
            f"y_test; labels 0-9; {hosting.upload_limit_words()}. They are checked like a local folder on the command "
            "line and kept in this server's cache."
        )
        # Without max_upload_size the uploader states the server's per-file limit, whatever the engine's cap.
        st.file_uploader("Files", accept_multiple_files=True, key=UPLOAD_KEY, max_upload_size=per_file_mb)
        st.selectbox("Pixel scaling", PIXEL_SCALINGS, key=UPLOAD_SCALING_KEY, help=SCALING_HELP)
        st.button(
            "Check and add", key="data_upload_add", on_click=_add_upload, disabled=not st.session_state.get(UPLOAD_KEY)
        )
        if outcome is not None:
            (st.success if outcome[0] == "ok" else st.error)("Added." if outcome[0] == "ok" else "Not added:")
            st.text(outcome[1])  # file names and messages are untrusted: plain text


selection = components.open_page("Data", VIEW)
info = {i.name: i for i in list_datasets()}.get(selection.dataset_name)
if selection.dataset is None:
    # The engine's message already says what was tried and how to get the data: shown once, not repeated.
    st.warning(components.plain(selection.error), icon=":material/inventory_2:")
    if remembered_failure(selection.dataset_name):  # its download failed in this process and is not retried alone
        st.button(
            "Retry download",
            key="data_retry_download",
            on_click=forget_failure,
            args=(selection.dataset_name,),
            help="Downloads that failed are not retried on every page view; this tries once more.",
        )
    st.caption("Pick another dataset in the sidebar; `digits` is bundled and always works.")
    _upload_section()
    st.stop()
ds = selection.dataset
names = list(ds.class_names)
chart_names = [components.plain(name, 40, chart=True) for name in names]  # a data file's names, for Plotly (HTML)

# --- the card --------------------------------------------------------------------------------------------
st.subheader(components.plain(info.title if info else ds.name, 80))
h, w, _ = ds.image_shape
cols = st.columns(4)
cols[0].metric("Train images", f"{len(ds.x_train):,}")
cols[1].metric("Test images", f"{len(ds.x_test):,}")
cols[2].metric("Image shape", f"{h} x {w}")
cols[3].metric("Classes", ds.num_classes)
card_col, prov_col = st.columns([3, 2])
card_col.dataframe(
    pd.DataFrame(exploration.dataset_card(ds, info.title if info else ""), columns=["field", "value"]),
    hide_index=True,
    key="data_card",
    width="stretch",
    # A wide value column: the source (a path or a loader's name) was cut off in a half-width grid.
    column_config={
        "field": st.column_config.TextColumn(width="small"),
        "value": st.column_config.TextColumn(width="large"),
    },
)
prov_col.markdown("**Provenance**")
prov_col.caption(components.plain(ds.provenance))
for warning in ds.warnings:  # e.g. files offered as one dataset that are another (plain text: they name paths)
    st.text(f"Warning: {warning}")
if ds.pixel_scaling:
    _scaling_section(ds.name, ds.pixel_scaling)
_upload_section()

# Only the open tab is computed and drawn: Chromium drawing all five charts (a 50-image grid with a hover label on
# every pixel, a 1,000-point map with thumbnails in its hover) made each switch to this page cost over a second.
# Defaults before the tabs: the map reads the split and seed whichever tab is open.
for key in (
    SEED_KEY,
    PER_CLASS_KEY,
    SPLIT_KEY,
    "data_leak_threshold",
    "data_leak_pairs",
):  # the defaults the link leaves out, from one place
    st.session_state.setdefault(key, VIEW.default(key))
images, labels = exploration.split_arrays(ds, st.session_state[SPLIT_KEY])
top = len(labels)
low, high = exploration.map_size_range(top)
components.link_view_check(  # here, not in its tab: a link's bad value is refused when the page opens
    "points",
    ("data_embed_n",),
    low <= int(st.session_state.get("data_embed_n", low)) <= high,
    f"the map takes {low:,} to {high:,} images of this split",
)
st.session_state.setdefault("data_embed_n", min(1000, top))  # set here, not as the slider's value: a link may set it
tabs = st.tabs(list(TABS), key="data_tab", on_change="rerun")

components.draw_open_tab(
    tabs,
    (
        lambda: show_classes(ds),
        lambda: show_images(ds, images, labels, chart_names),
        lambda: show_map(ds, images, labels, names, chart_names, low, high),
        lambda: show_leakage(ds, names, chart_names),
        lambda: show_label_issues(ds, chart_names),
    ),
)

links.publish_view(VIEW)

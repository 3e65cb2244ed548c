"""Data: the sidebar's dataset as a card, its class balance, seeded sample grids, class means, the pixel
histogram and a 2-D map (PCA or t-SNE) whose selected points show their images.

Statistics come from `engine.exploration`, cached per dataset fingerprint so switching pages costs nothing.
"""

import time

import pandas as pd
import streamlit as st

from charts.data import (
    class_distribution_chart,
    embedding_chart,
    image_mosaic,
    mean_image_grid,
    pixel_histogram_chart,
    sample_grid,
)
from dashboard import components, links, state
from engine import exploration
from engine.datasets import list_datasets
from engine.datasets.network import forget_failure, remembered_failure
from engine.datasets.uploads import register_upload
from engine.errors import DigitLabError, InvalidDataFile
from engine.limits import input_limits

SEED_KEY, PER_CLASS_KEY, SPLIT_KEY = "data_seed", "data_per_class", "data_split"
UPLOAD_KEY, UPLOAD_RESULT_KEY = "data_upload_files", "_data_upload_result"
MAX_SELECTED = 60  # images shown for a box/lasso selection on the 2-D map


@st.cache_data(show_spinner=False, max_entries=8)
def _statistics(_dataset, fingerprint: str, split: str):
    images, labels = exploration.split_arrays(_dataset, split)
    return (
        exploration.mean_images(images, labels, _dataset.num_classes),
        exploration.pixel_histogram(images, _dataset.value_max),
    )


@st.cache_data(show_spinner=False, max_entries=16)
def _embedding(_dataset, fingerprint: str, split: str, n: int, method: str, seed: int):
    images, labels = exploration.split_arrays(_dataset, split)
    result = exploration.embedding(images, labels, _dataset.value_max, n=n, method=method, seed=seed)
    thumbs = [exploration.ascii_thumbnail(images[i], _dataset.value_max) for i in result.indices]
    return result, thumbs


def _reshuffle() -> None:
    st.session_state[SEED_KEY] = int(st.session_state.get(SEED_KEY, 0)) + 1


def _add_upload() -> None:
    """Button callback (it runs before the sidebar's widgets exist, so it may select the new dataset)."""
    files = st.session_state.get(UPLOAD_KEY) or []
    try:
        cap = input_limits().max_upload_bytes
        if sum(f.size for f in files) > cap:  # before copying the bytes out of the uploader
            raise InvalidDataFile(f"The upload is over this server's {cap:,}-byte limit.")
        name = register_upload([(f.name, f.getvalue()) for f in files])
    except DigitLabError as error:
        st.session_state[UPLOAD_RESULT_KEY] = ("error", str(error))
        return
    st.session_state[state.DATASET_KEY] = name
    st.session_state[UPLOAD_RESULT_KEY] = ("ok", f"Added as {name} and selected in the sidebar.")


def _upload_section() -> None:
    """Upload IDX (raw or .gz) or npz files: checked by the engine exactly like a --data-path folder, kept in
    this server's cache under their fingerprint, so a link naming the upload reopens here."""
    cap_mb = input_limits().max_upload_bytes / 2**20
    outcome = st.session_state.pop(UPLOAD_RESULT_KEY, None)  # what the last "Check and add" said, shown once
    with st.expander("Upload your own data (IDX files or an npz)", icon=":material/upload:", expanded=bool(outcome)):
        st.caption(
            f"The four IDX files under their usual names (raw or .gz) or one .npz with x_train, y_train, x_test, "
            f"y_test; labels 0-9; up to {cap_mb:.0f} MB in all. They are checked like a local folder on the command "
            "line and kept in this server's cache."
        )
        st.file_uploader("Files", accept_multiple_files=True, key=UPLOAD_KEY)
        st.button(
            "Check and add", key="data_upload_add", on_click=_add_upload, disabled=not st.session_state.get(UPLOAD_KEY)
        )
        if outcome is not None:
            (st.success if outcome[0] == "ok" else st.error)("Added." if outcome[0] == "ok" else "Not added:")
            st.text(outcome[1])  # file names and messages are untrusted: plain text


st.title("Data")
components.link_problems()
links.keep_view_state("data")  # before any widget: a closed tab's widgets keep their values and their link
selection = state.selection()
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
_upload_section()

# Only the open tab is computed and drawn: Chromium drawing all five charts (a 50-image grid with a hover label on
# every pixel, a 1,000-point map with thumbnails in its hover) made each switch to this page cost over a second.
# Defaults before the tabs: the map reads the split and seed whichever tab is open.
for key in (SEED_KEY, PER_CLASS_KEY, SPLIT_KEY):  # the defaults the link leaves out, from one place
    st.session_state.setdefault(key, links.view_default("data", key))
images, labels = exploration.split_arrays(ds, st.session_state[SPLIT_KEY])
top = len(labels)
low, high = min(100, top), min(3000, top)
components.link_view_check(  # here, not in its tab: a link's bad value is refused when the page opens
    "points",
    ("data_embed_n",),
    low <= int(st.session_state.get("data_embed_n", low)) <= high,
    f"the map takes {low:,} to {high:,} images of this split",
)
st.session_state.setdefault("data_embed_n", min(1000, top))  # set here, not as the slider's value: a link may set it
classes_tab, images_tab, map_tab = st.tabs(list(links.DATA_TABS), key="data_tab", on_change="rerun")

with classes_tab:
    if classes_tab.open:
        st.subheader("Class distribution")
        distribution = exploration.class_distribution(ds)
        st.plotly_chart(components.cached_figure(class_distribution_chart, distribution), key="data_distribution")
        with st.expander("Counts per class (table)"):
            st.dataframe(
                distribution,
                hide_index=True,
                key="data_distribution_table",
                column_config={
                    "train %": st.column_config.NumberColumn(format="%.2f %%"),
                    "test %": st.column_config.NumberColumn(format="%.2f %%"),
                },
            )

with images_tab:
    if images_tab.open:
        st.subheader("Images")
        # Five per class (the default above): one image per class says little about how a class varies.
        controls = st.columns([1.2, 2, 1.2, 1], vertical_alignment="bottom")
        split = controls[0].radio(
            "Split",
            exploration.SPLITS,
            horizontal=True,
            key=SPLIT_KEY,
            help="Which part of the dataset the samples, means, histogram and map are drawn from.",
        )
        per_class = controls[1].slider("Images per class", 1, 10, key=PER_CLASS_KEY)
        controls[2].number_input(
            "Sample seed",
            0,
            2**31 - 1,
            key=SEED_KEY,
            help="The same seed always draws the same images; Reshuffle moves to the next seed.",
        )
        controls[3].button("Reshuffle", key="data_reshuffle", on_click=_reshuffle)
        seed = int(st.session_state[SEED_KEY])
        picks = exploration.sample_indices(labels, ds.num_classes, per_class, seed)
        st.plotly_chart(
            components.cached_figure(sample_grid, images, picks, chart_names, ds.value_max, split, seed),
            key="data_samples",
        )
        st.caption(f"Seed **{seed}** · type it back in to draw the same images again.")

        means, histogram = _statistics(ds, ds.fingerprint, split)
        st.plotly_chart(
            components.cached_figure(mean_image_grid, means, chart_names, ds.value_max, split), key="data_means"
        )
        log_y = st.toggle(
            "Log scale", key="data_log_y", help="Most pixels are background (0); a log axis shows the rest."
        )
        st.plotly_chart(
            components.cached_figure(pixel_histogram_chart, histogram, ds.value_max, split, log_y), key="data_histogram"
        )

with map_tab:
    if map_tab.open:
        st.subheader("2-D map of the images")
        map_cols = st.columns([1, 2])
        split, seed = st.session_state[SPLIT_KEY], int(st.session_state[SEED_KEY])  # set in Images, kept when closed
        method = map_cols[0].radio(
            "Method",
            exploration.EMBEDDINGS,
            horizontal=True,
            key="data_embed_method",
            format_func={"pca": "PCA", "tsne": "t-SNE"}.get,
            help="PCA is instant; t-SNE separates classes better but takes seconds (cached).",
        )
        n = map_cols[1].slider("Images (stratified by class)", low, high, step=50, key="data_embed_n")
        started = time.perf_counter()
        with st.status(f"{'t-SNE' if method == 'tsne' else 'PCA'} of {n:,} images…", expanded=False) as status:
            result, thumbs = _embedding(ds, ds.fingerprint, split, n, method, seed)
            status.update(
                label=f"{'t-SNE' if method == 'tsne' else 'PCA'} of {n:,} {split} images (seed {seed}) · "
                f"{time.perf_counter() - started:.1f} s",
                state="complete",
            )
        event = st.plotly_chart(
            components.cached_figure(
                embedding_chart,
                result.coords,
                result.labels,
                result.indices,
                chart_names,
                method,
                thumbs,
                result.explained_variance,
                split,
            ),
            key="data_embedding",
            on_select="rerun",
            selection_mode=("points", "box", "lasso"),
        )
        st.caption("Hover a point to see its digit; drag a lasso or box (or click a point) to show the images below.")
        points = event.selection.points if event and event.selection else []
        chosen = []
        for point in points:
            custom = point.get("customdata")
            if custom is not None:
                chosen.append(int(custom[0]))
        chosen = list(dict.fromkeys(chosen))
        if chosen:
            shown = chosen[:MAX_SELECTED]
            title = f"{len(chosen)} selected image(s)" + (
                f", first {MAX_SELECTED}" if len(chosen) > MAX_SELECTED else ""
            )
            st.plotly_chart(
                image_mosaic(
                    [images[i] for i in shown],
                    10,
                    title,
                    captions=[f"#{i} · {chart_names[labels[i]]}" for i in shown],
                    hover=[f"{split} #{i}, class {chart_names[labels[i]]}" for i in shown],
                    zmax=ds.value_max,
                ),
                key="data_selected",
            )
            counts = pd.Series([names[labels[i]] for i in chosen]).value_counts().rename_axis("class").reset_index()
            st.dataframe(counts, hide_index=True, key="data_selected_counts")

links.publish_view("data")

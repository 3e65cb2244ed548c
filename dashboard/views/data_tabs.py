"""The Data page's tabs: class balance, seeded sample grids with class means and the pixel histogram, the
2-D map whose selected points show their images, and the test images that copy training images (leakage)."""

import time

import pandas as pd
import streamlit as st

from charts.data import (
    class_distribution_chart,
    embedding_chart,
    image_mosaic,
    leakage_pairs_chart,
    mean_image_grid,
    pixel_histogram_chart,
    sample_grid,
)
from charts.thumbnails import hover_thumbnails, picked_indices, thumbnail_map_spec
from dashboard import components, state
from engine import exploration
from engine.errors import DigitLabError
from engine.leakage import LeakageSpec, find_leakage, validate_leakage_spec
from engine.limits import LeakageLimits, display_limits, leakage_limits

SEED_KEY, PER_CLASS_KEY, SPLIT_KEY = "data_seed", "data_per_class", "data_split"
MAX_SELECTED = 60  # images shown for a box/lasso selection on the 2-D map
PICTURES_KEY = "data_map_pictures"
LEAK_SHOWN = 30  # pairs drawn side by side; the table lists every pair asked for


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


@st.cache_data(show_spinner=False, max_entries=8)
def _pictures(_dataset, fingerprint: str, split: str, n: int, method: str, seed: int, most: int):
    """The map's hover pictures (one PNG data URI per point, None past the cap), made once per map."""
    result, _ = _embedding(_dataset, fingerprint, split, n, method, seed)
    images, _ = exploration.split_arrays(_dataset, split)
    return hover_thumbnails(images[result.indices], _dataset.value_max, most)


def _axis_titles(method: str, explained) -> tuple[str, str]:
    if method != "pca":
        return "t-SNE 1", "t-SNE 2"
    return (
        "PC 1" + (f" ({explained[0]:.1%} of variance)" if explained else ""),
        "PC 2" + (f" ({explained[1]:.1%} of variance)" if explained else ""),
    )


def _reshuffle() -> None:
    st.session_state[SEED_KEY] = int(st.session_state.get(SEED_KEY, 0)) + 1


def show_classes(ds) -> None:
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


def show_images(ds, images, labels, chart_names) -> None:
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
    log_y = st.toggle("Log scale", key="data_log_y", help="Most pixels are background (0); a log axis shows the rest.")
    st.plotly_chart(
        components.cached_figure(pixel_histogram_chart, histogram, ds.value_max, split, log_y), key="data_histogram"
    )


def show_map(ds, images, labels, names, chart_names, low: int, high: int) -> None:
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
    if low < high:
        n = map_cols[1].slider("Images (stratified by class)", low, high, step=50, key="data_embed_n")
    else:  # a small split is mapped whole: a slider cannot have one value (Streamlit refuses min == max)
        n = high
        map_cols[1].caption(f"All {n:,} images of this split are mapped.")
    st.toggle(
        "Pictures on hover",
        key=PICTURES_KEY,
        help="Draw the map so that pointing at a point shows its image (click to select); off, the map offers "
        "box and lasso selection and its hover shows the digit in shades.",
    )
    started = time.perf_counter()
    with st.status(f"{'t-SNE' if method == 'tsne' else 'PCA'} of {n:,} images…", expanded=False) as status:
        result, thumbs = _embedding(ds, ds.fingerprint, split, n, method, seed)
        status.update(
            label=f"{'t-SNE' if method == 'tsne' else 'PCA'} of {n:,} {split} images (seed {seed}) · "
            f"{time.perf_counter() - started:.1f} s",
            state="complete",
        )
    if st.session_state.get(PICTURES_KEY):
        most = display_limits().max_hover_thumbnails
        pictures = _pictures(ds, ds.fingerprint, split, n, method, seed, most)
        x_title, y_title = _axis_titles(method, result.explained_variance)
        event = st.vega_lite_chart(
            spec=thumbnail_map_spec(
                result.coords,
                result.indices,
                result.labels,
                [state.shorten(name, 40) for name in names],  # Vega-Lite draws text as text: raw names
                pictures,
                title=f"{'t-SNE' if method == 'tsne' else 'PCA'} of {len(result.coords):,} {split} images",
                x_title=x_title,
                y_title=y_title,
                index_title=f"{split} image #",
                height=560,
            ),
            key="data_embedding_pictures",
            on_select="rerun",
            width="stretch",
        )
        chosen = picked_indices(event.selection if event else None)
        with_pictures = sum(p is not None for p in pictures)
        st.caption(
            "Hover a point to see its image; click one (shift-click for more) to show the images below."
            + (f" {with_pictures:,} evenly spread points carry a picture on this server." if with_pictures < n else "")
        )
    else:
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
        st.caption(
            "Hover a point to see its digit in shades; drag a lasso or box (or click a point) to show the images "
            "below. Pictures on hover shows the image itself."
        )
        points = event.selection.points if event and event.selection else []
        chosen = []
        for point in points:
            custom = point.get("customdata")
            if custom is not None:
                chosen.append(int(custom[0]))
        chosen = list(dict.fromkeys(chosen))
    if chosen:
        shown = chosen[:MAX_SELECTED]
        title = f"{len(chosen)} selected image(s)" + (f", first {MAX_SELECTED}" if len(chosen) > MAX_SELECTED else "")
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


@st.cache_data(show_spinner=False, max_entries=8)
def _leakage(_dataset, fingerprint: str, spec: LeakageSpec, limits: LeakageLimits):
    return find_leakage(_dataset, spec, limits)  # the limits in force are part of the key: hosted mode caps


def show_leakage(ds, names, chart_names) -> None:
    st.subheader("Train/test leakage")
    st.caption(
        "Test images that are exact or near copies of training images: a model has seen them, so its test score "
        "overstates how it does on new digits. Near means the root-mean-square pixel difference (pixels scaled to "
        "0..1) to the nearest training image is at most the threshold."
    )
    controls = st.columns(2)
    threshold = controls[0].number_input(
        "Near-copy threshold (RMS, 0..1 pixels)",
        0.0,
        1.0,
        step=0.005,
        format="%.3f",
        key="data_leak_threshold",
        help=f"{LeakageSpec.threshold:g} flags copies with light noise; distinct digits are rarely closer than 0.06.",
    )
    max_pairs = controls[1].number_input("Pairs listed", 1, LeakageLimits.max_pairs, key="data_leak_pairs")
    try:
        spec = validate_leakage_spec(LeakageSpec(threshold=float(threshold), max_pairs=int(max_pairs)))
        with st.spinner("Comparing every test image with its nearest training image…"):
            report = _leakage(ds, ds.fingerprint, spec, leakage_limits())
    except DigitLabError as error:
        components.show_error(error)
        return
    cols = st.columns(3)
    cols[0].metric("Exact copies", f"{report.exact:,}")
    cols[1].metric("Near copies", f"{report.near:,}")
    cols[2].metric("Test images compared", f"{report.test_compared:,}")
    if report.test_compared < report.test_total or report.train_compared < report.train_total:
        st.caption(
            f"This server compares the first {report.test_compared:,} of {report.test_total:,} test images with the "
            f"first {report.train_compared:,} of {report.train_total:,} training images."
        )
    if not report.pairs:
        st.success(f"No test image lies within {spec.threshold:g} of a training image.")
        return
    pairs = [report_pair.__dict__ for report_pair in report.pairs]
    shown = pairs[:LEAK_SHOWN]
    st.plotly_chart(
        components.cached_figure(
            leakage_pairs_chart,
            [ds.x_test[p["test_index"]] for p in shown],
            [ds.x_train[p["train_index"]] for p in shown],
            shown,
            chart_names,
            ds.value_max,
        ),
        key="data_leak_pairs_chart",
    )
    if report.found > len(pairs):
        st.caption(f"{report.found - len(pairs):,} more pair(s) not listed; raise Pairs listed to see them.")
    table = pd.DataFrame(pairs)
    table["test class"] = [names[i] for i in table["test_label"]]
    table["train class"] = [names[i] for i in table["train_label"]]
    st.dataframe(
        table[["test_index", "train_index", "distance", "test class", "train class", "labels_agree", "exact"]],
        hide_index=True,
        key="data_leak_table",
        column_config={"distance": st.column_config.NumberColumn(format="%.4f")},
    )

"""Figures for the Data page: class balance, image mosaics (samples, class means), pixel histogram, 2-D map.

Builders take plain arrays and tables from `engine.exploration` and return plotly figures; no Streamlit here.
Many small images are drawn as one tiled heatmap rather than one subplot each, which keeps a 10x10 grid of
28x28 digits fast to send and to render.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.colors import hex_to_rgb, qualitative, sequential

from charts.layout import readable

# Every image in the dashboard: pixel value 0 black, the largest white (white ink on black, as the datasets store
# digits), so a digit looks the same on Data, Evaluate and Inspect.
GRAY = [[0.0, "black"], [1.0, "white"]]
TRAIN_COLOUR, TEST_COLOUR = "#1f77b4", "#ff7f0e"
CLASS_COLOURS = qualitative.Plotly + qualitative.D3  # ten distinct hues first, more for merged/extra classes
# Inferno as rgb() strings: plotly.js misreads its first stop "#000004", painting zeros pink instead of black.
INFERNO = [
    [i / (len(sequential.Inferno) - 1), "rgb({},{},{})".format(*hex_to_rgb(c))]
    for i, c in enumerate(sequential.Inferno)
]
MONO = "DejaVu Sans Mono, Menlo, Consolas, monospace"


def class_distribution_chart(table: pd.DataFrame, title: str = "Class distribution: train vs test") -> go.Figure:
    """Grouped bars of images per class for each split, counts on the bars, shares in the hover."""
    figure = go.Figure()
    labels = table["name"].astype(str)
    for split, colour in (("train", TRAIN_COLOUR), ("test", TEST_COLOUR)):
        figure.add_bar(
            x=labels,
            y=table[split],
            name=split,
            marker_color=colour,
            text=table[split],
            textposition="outside",
            customdata=table[f"{split} %"],
            hovertemplate=(
                f"class %{{x}}<br>{split}: %{{y:,}} images<br>%{{customdata:.2f}} % of {split}<extra></extra>"
            ),
        )
    figure.update_layout(
        title=title,
        barmode="group",
        xaxis_title="Class",
        yaxis_title="Images",
        xaxis={"type": "category"},
        height=420,
        margin={"t": 80},
    )
    return readable(figure, legend_below=True)


def image_mosaic(
    images: np.ndarray | Sequence[np.ndarray | None],
    columns: int,
    title: str,
    captions: Sequence[str] | None = None,
    hover: Sequence[str] | None = None,
    zmin: float = 0.0,
    zmax: float | None = None,
    colorscale: str | list = GRAY,
    colorbar_title: str | None = None,
    zmid: float | None = None,
    tile_px: int | None = None,
    caption_colours: Sequence[str] | None = None,
    tile_hover: str | None = None,
) -> go.Figure:
    """Tile same-sized 2-D images (None leaves a blank tile) into one heatmap, `columns` per row.

    `captions` go above each tile (coloured by `caption_colours`), `hover` is shown when pointing at a tile,
    `colorbar_title` turns the colour scale on. `tile_hover` replaces `hover` where the text is the same but for
    the tile's number: a Plotly template with `%{customdata}` for it. Every pixel then carries a number instead of
    a string, which halves a large grid's figure (Inspect's activation grids: 240 to about 120 kB) and the browser's
    work on it.
    """
    tiles = [None if im is None else np.asarray(im, dtype=np.float64) for im in images]
    shape = next((t.shape for t in tiles if t is not None), (1, 1))
    h, w = shape[:2]
    n = len(tiles)
    columns = max(1, min(columns, n))
    rows = max(1, math.ceil(n / columns))
    gap = max(1, round(min(h, w) / 8))
    # Captions sit in a strip above every row, about a third of a tile high, so they never cover a tile.
    vgap = max(gap, math.ceil(0.3 * h)) if captions is not None else gap
    top = vgap if captions is not None else 0
    canvas = np.full((top + rows * (h + vgap) - vgap, columns * (w + gap) - gap), np.nan)
    text = np.full(canvas.shape, "", dtype=object) if tile_hover is None else np.full(canvas.shape, -1)
    annotations = []
    for i, tile in enumerate(tiles):
        r, c = divmod(i, columns)
        y0, x0 = top + r * (h + vgap), c * (w + gap)
        if tile is not None:
            canvas[y0 : y0 + h, x0 : x0 + w] = tile.reshape(h, w)
            if tile_hover is not None:
                text[y0 : y0 + h, x0 : x0 + w] = i
            elif hover is not None:
                text[y0 : y0 + h, x0 : x0 + w] = hover[i]
        if captions is not None and captions[i]:
            annotations.append(
                {
                    "x": x0 + (w - 1) / 2,
                    "y": y0 - 0.5,
                    "text": captions[i],
                    "showarrow": False,
                    "yanchor": "bottom",
                    "xref": "x",
                    "yref": "y",
                    "font": {"size": 11, "color": caption_colours[i] if caption_colours else "#222222"},
                }
            )
    heatmap = go.Heatmap(
        z=canvas,
        colorscale=colorscale,
        zmin=zmin,
        zmax=zmax,
        zmid=zmid,
        hoverongaps=False,
        showscale=colorbar_title is not None,
        colorbar={"title": {"text": colorbar_title or ""}, "thickness": 12},
        customdata=text if hover is not None or tile_hover is not None else None,
        hovertemplate=(
            f"{tile_hover}<br>" if tile_hover is not None else "%{customdata}<br>" if hover is not None else ""
        )
        + "value %{z:.3g}<extra></extra>",
    )
    figure = go.Figure(heatmap)
    figure.update_xaxes(visible=False, constrain="domain")
    figure.update_yaxes(visible=False, autorange="reversed", scaleanchor="x", constrain="domain")
    tile_px = tile_px or max(24, min(110, round(900 / columns)))
    # Square pixels: the grid is as tall as its rows at the scale the (about 900 px wide) page allows.
    px_per_unit = min(tile_px / h, 900 / canvas.shape[1])
    height = round(canvas.shape[0] * px_per_unit) + 60
    figure.update_layout(
        title=title,
        annotations=annotations,
        height=max(160, min(height, 1400)),
        margin={"t": 50, "b": 10, "l": 10, "r": 10},
        plot_bgcolor="white",
    )
    return readable(figure)


def sample_grid(
    images: np.ndarray,
    picks: Sequence[np.ndarray],
    class_names: Sequence[str],
    value_max: float,
    split: str,
    seed: int,
) -> go.Figure:
    """One column per class, `per_class` rows of random samples (seed 002: one random sample per class)."""
    per_class = max((len(p) for p in picks), default=1)
    tiles, captions, hover = [], [], []
    for row in range(per_class):
        for cls, rows in enumerate(picks):
            index = int(rows[row]) if row < len(rows) else None
            tiles.append(None if index is None else images[index])
            captions.append(f"Class: {class_names[cls]}" if row == 0 else "")
            hover.append("" if index is None else f"class {class_names[cls]} · {split} image #{index}")
    noun = "sample" if per_class == 1 else "samples"
    return image_mosaic(
        tiles,
        len(picks),
        f"{per_class} random {noun} per class ({split} set, seed {seed})",
        captions,
        hover,
        zmax=value_max,
    )


def mean_image_grid(means: np.ndarray, class_names: Sequence[str], value_max: float, split: str) -> go.Figure:
    """The average image of each class on one colour scale, so classes can be compared by brightness."""
    captions = [f"Class: {name}" for name in class_names]
    hover = [f"mean of class {name}" for name in class_names]
    return image_mosaic(
        list(means),
        5,
        f"Mean image per class ({split} set)",
        captions,
        hover,
        zmax=value_max,
        colorscale=INFERNO,
        colorbar_title="mean raw value",
        tile_px=120,
    )


def pixel_histogram_chart(table: pd.DataFrame, value_max: float, split: str, log_y: bool = False) -> go.Figure:
    figure = go.Figure(
        go.Bar(
            x=table["value"],
            y=table["count"],
            customdata=table["share %"],
            marker_color=TRAIN_COLOUR,
            hovertemplate="value %{x}<br>%{y:,} pixels (%{customdata:.2f} %)<extra></extra>",
        )
    )
    figure.update_layout(
        title=f"Pixel intensities ({split} set, raw values 0..{value_max:g})",
        xaxis_title="Raw pixel value",
        yaxis_title="Pixels (log scale)" if log_y else "Pixels",
        yaxis_type="log" if log_y else "linear",
        bargap=0.05,
        height=380,
    )
    return readable(figure)


def embedding_chart(
    coords: np.ndarray,
    labels: np.ndarray,
    indices: np.ndarray,
    class_names: Sequence[str],
    method: str,
    thumbnails: Sequence[str],
    explained: tuple[float, float] | None = None,
    split: str = "train",
) -> go.Figure:
    """Scatter of the 2-D map, one trace per class (click the legend to hide one); the digit shows on hover."""
    figure = go.Figure()
    for cls, name in enumerate(class_names):
        members = np.flatnonzero(labels == cls)
        if len(members) == 0:
            continue
        figure.add_trace(
            go.Scatter(
                x=coords[members, 0],
                y=coords[members, 1],
                mode="markers",
                name=str(name),
                marker={"size": 6, "color": CLASS_COLOURS[cls % len(CLASS_COLOURS)], "opacity": 0.8},
                customdata=np.stack(
                    [indices[members], [thumbnails[int(i)].replace("\n", "<br>") for i in members]], axis=1
                ),
                hovertemplate=f"<b>class {name}</b> · {split} #%{{customdata[0]}}<br>%{{customdata[1]}}<extra></extra>",
                hoverlabel={"font": {"family": MONO, "size": 10}},
            )
        )
    if method == "pca":
        x_title = "PC 1" + (f" ({explained[0]:.1%} of variance)" if explained else "")
        y_title = "PC 2" + (f" ({explained[1]:.1%} of variance)" if explained else "")
        title = f"PCA of {len(coords):,} {split} images"
    else:
        x_title, y_title = "t-SNE 1", "t-SNE 2"
        title = f"t-SNE of {len(coords):,} {split} images"
    figure.update_layout(
        title=title, xaxis_title=x_title, yaxis_title=y_title, height=560, legend_title="Class", dragmode="lasso"
    )
    return readable(figure)


LEAK_AGREE, LEAK_DISAGREE = "#222222", "#d62728"


def leakage_pairs_chart(
    test_images: Sequence[np.ndarray],
    train_images: Sequence[np.ndarray],
    pairs: Sequence[dict],
    class_names: Sequence[str],
    value_max: float,
    pairs_per_row: int = 3,
) -> go.Figure:
    """Each test image beside the training image it copies: `pairs[i]` (the fields of a leakage pair) describes
    `test_images[i]` and `train_images[i]`. A pair whose labels differ has red captions."""
    tiles, captions, hover, colours = [], [], [], []
    for test, train, pair in zip(test_images, train_images, pairs, strict=True):
        test_name, train_name = class_names[pair["test_label"]], class_names[pair["train_label"]]
        distance = "exact" if pair["exact"] else f"{pair['distance']:.3f}"
        colour = LEAK_AGREE if pair["labels_agree"] else LEAK_DISAGREE
        tiles += [test, train]
        # Two short lines per tile: a tile is ~120 px wide and a longer caption would run into its neighbour's.
        captions += [
            f"test #{pair['test_index']}<br>{test_name}",
            f"train #{pair['train_index']}<br>{train_name} · {distance}",
        ]
        hover += [
            f"test #{pair['test_index']} (class {test_name}) vs train #{pair['train_index']} (class {train_name}), "
            f"RMS distance {pair['distance']:.4f}"
        ] * 2
        colours += [colour, colour]
    shown = len(pairs)
    return image_mosaic(
        tiles,
        2 * max(1, min(pairs_per_row, shown)),
        f"{shown} closest test/train pair(s): test image | training image",
        captions,
        hover,
        zmax=value_max,
        tile_px=120,
        caption_colours=colours,
    )

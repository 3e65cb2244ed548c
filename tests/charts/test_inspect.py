"""Inspect's activation grid: one tiled heatmap whose hover names each pixel's filter by number (`tile_hover`),
checked against a grid built by hand."""

import numpy as np

from charts.inspect import activation_grid


def test_each_pixel_carries_its_filter_number_and_gaps_carry_none():
    channels, h, w = 3, 4, 4
    maps = np.arange(channels * h * w, dtype=np.float64).reshape(channels, h, w)
    figure = activation_grid("block1_conv", "Conv2D", maps, per_map=False)
    heatmap = figure.data[0]
    z, numbers = np.asarray(heatmap.z, dtype=float), np.asarray(heatmap.customdata)
    # Three 4x4 tiles in one row, 1-pixel gaps, a 2-pixel caption strip on top (0.3 x 4, rounded up).
    assert z.shape == numbers.shape == (2 + 4, 3 * 4 + 2)
    for filter_number in range(channels):
        x0 = filter_number * (w + 1)
        np.testing.assert_array_equal(z[2:, x0 : x0 + w], maps[filter_number])
        assert (numbers[2:, x0 : x0 + w] == filter_number).all()
    assert (numbers[:2] == -1).all() and (numbers[:, [4, 9]] == -1).all()  # caption strip and gaps
    assert heatmap.hovertemplate.startswith("filter %{customdata}<br>")
    assert "block1_conv" in figure.layout.title.text
    # Up to 16 maps keep their numbers as captions above the tiles; more go by hover alone.
    assert [a.text for a in figure.layout.annotations] == ["0", "1", "2"]
    many = activation_grid("block2_conv", "Conv2D", np.zeros((32, h, w)), per_map=True)
    assert not many.layout.annotations
    assert np.asarray(many.data[0].customdata).max() == 31

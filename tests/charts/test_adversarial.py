"""The accuracy-vs-eps figure: hand-built numbers in, traces and axes checked."""

from __future__ import annotations

from charts.adversarial import adversarial_curve


def test_the_curve_plots_the_numbers_given_and_the_raw_line_only_where_it_differs():
    same = adversarial_curve([0, 0.1, 0.2], [0.9, 0.5, 0.2], [0.9, 0.5, 0.2], "fgsm", 360)
    assert len(same.data) == 1
    assert list(same.data[0].x) == [0, 0.1, 0.2] and list(same.data[0].y) == [0.9, 0.5, 0.2]
    assert same.layout.title.text == "Test accuracy under FGSM (360 images)"
    assert tuple(same.layout.yaxis.range) == (0, 1.02)
    differs = adversarial_curve([0, 0.1, 0.2], [0.9, 0.5, 0.2], [0.9, 0.5, 0.3], "pgd", 1000)
    assert len(differs.data) == 2 and list(differs.data[1].y) == [0.9, 0.5, 0.3]
    assert differs.data[1].line.dash == "dot" and "1,000 images" in differs.layout.title.text


def test_hover_names_eps_as_typed_not_padded_to_six_digits():
    # Plotly's d3 "g" (unlike Python's) keeps trailing zeros: eps 0 hovered as "0.00000". "~g" trims them.
    figure = adversarial_curve([0, 0.1, 0.2], [0.9, 0.5, 0.2], [0.9, 0.5, 0.3], "pgd", 360)
    for trace in figure.data:
        assert "%{x:~g}" in trace.hovertemplate and "%{x:g}" not in trace.hovertemplate

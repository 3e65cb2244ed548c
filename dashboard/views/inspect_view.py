"""The Inspect page's part of the link: its tabs, the activations' scalings and its view parameters."""

from dashboard.links import MAX_INDEX, PageView, ViewParam, choice, single, whole_number
from dashboard.views.explain_view import METHODS

TABS = ("A test image", "Draw a digit", "First-layer kernels")
SCALES = ("each map (seed 002)", "raw activations")

VIEW = PageView(
    "inspect",
    (
        ViewParam("tab", ("inspect_tab",), single(choice(TABS)), ("A test image",)),
        ViewParam("image", ("inspect_index",), single(whole_number, 0, MAX_INDEX), (0,)),
        ViewParam("scale", ("inspect_scaling",), single(choice(SCALES)), (SCALES[0],)),
        ViewParam("draw_method", ("inspect_draw_method",), single(choice(METHODS)), (METHODS[0],)),
    ),
)

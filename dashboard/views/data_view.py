"""The Data page's part of the link: its tabs and options and its view parameters."""

from dashboard.links import PageView, ViewParam, choice, flag, single, whole_number
from engine.exploration import EMBEDDINGS, SPLITS

TABS = ("Classes", "Images", "2-D map", "Label issues")

VIEW = PageView(
    "data",
    (
        ViewParam("tab", ("data_tab",), single(choice(TABS)), (TABS[0],)),
        ViewParam("split", ("data_split",), single(choice(SPLITS)), ("train",)),
        ViewParam("per_class", ("data_per_class",), single(whole_number, 1, 10), (5,)),
        ViewParam("draw", ("data_seed",), single(whole_number, 0, 2**31 - 1), (0,)),
        ViewParam("log", ("data_log_y",), single(flag), (False,)),
        ViewParam("map", ("data_embed_method",), single(choice(EMBEDDINGS)), ("pca",)),
        ViewParam("points", ("data_embed_n",), single(whole_number, 0, 3000)),
    ),
)

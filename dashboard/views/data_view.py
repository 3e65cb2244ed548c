"""The Data page's part of the link: its tabs and options and its view parameters."""

from dashboard.links import PageView, ViewParam, choice, decimal, flag, single, whole_number
from engine.architectures import DEFAULT_PRESET, PRESETS
from engine.datasets.noise import MAX_NOISE_FRACTION
from engine.exploration import EMBEDDINGS, SPLITS
from engine.leakage import LeakageSpec
from engine.limits import LeakageLimits, diagnostics_limits, train_limits

TABS = ("Classes", "Images", "2-D map", "Leakage", "Label issues")
# The Label issues tab's presets: those that keep the dataset's own classes (a merging preset relabels every image).
ISSUE_PRESETS = tuple(name for name, preset in PRESETS.items() if not preset.label_mapping)


def most_issue_folds() -> int:
    """The label-issue search's fold cap in force (hosted: lower), for the widget and the link alike."""
    return min(diagnostics_limits().max_folds, train_limits().max_cv_folds)


def _issue_folds(text: str) -> tuple:
    return single(whole_number, 2, most_issue_folds())(text)


def _noise_seed(text: str) -> tuple:
    return single(whole_number, 0, train_limits().max_seed)(text)


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
        ViewParam("pictures", ("data_map_pictures",), single(flag), (False,)),
        ViewParam("near", ("data_leak_threshold",), single(decimal, 0.0, 1.0), (LeakageSpec.threshold,)),
        ViewParam(
            "pairs", ("data_leak_pairs",), single(whole_number, 1, LeakageLimits.max_pairs), (LeakageSpec.max_pairs,)
        ),
        ViewParam("issue_model", ("data_issues_preset",), single(choice(ISSUE_PRESETS)), (DEFAULT_PRESET,)),
        ViewParam("issue_folds", ("data_issues_folds",), _issue_folds, (5,)),
        ViewParam("noise", ("data_issues_noise",), single(decimal, 0.0, MAX_NOISE_FRACTION), (0.05,)),
        ViewParam("noise_seed", ("data_issues_seed",), _noise_seed, (0,)),
    ),
)

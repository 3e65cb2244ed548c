"""The Evaluate page's part of the link: its tabs, the gallery's overlay options and its view parameters."""

from dashboard.links import MAX_INDEX, PageView, Refused, ViewParam, choice, flag, single, whole_number
from engine.errors import DigitLabError
from engine.probes.epochs import check_epoch_number

TABS = (
    "Report",
    "Confusion matrix",
    "Mistakes",
    "Sample predictions",
    "One vs rest",
    "ROC",
    "Training curves",
    "Training dynamics",
    "Downloads",
)
# The mistakes gallery's overlays: the batched gradient methods only (occlusion costs ~50 passes per image).
GALLERY_OVERLAYS = ("off", "Grad-CAM", "Saliency", "Integrated gradients")
GALLERY_TARGETS = ("predicted", "true")


def _cell(text: str) -> tuple:
    parts = text.split(",")
    if len(parts) != 2:
        raise Refused("must be two class numbers, true and predicted, such as 3,5")
    truth, guess = (whole_number(part) for part in parts)
    if min(truth, guess) < 0:
        raise Refused("class numbers start at 0")
    return truth, guess


def _epoch(text: str) -> int:
    """The confusion matrix's epoch: a whole number the engine's epoch check accepts (the page then checks the
    run's own number of epochs)."""
    try:
        return check_epoch_number(whole_number(text))
    except DigitLabError as error:
        raise Refused(str(error)) from None


VIEW = PageView(
    "evaluate",
    (
        ViewParam("tab", ("eval_tab",), single(choice(TABS)), ("Report",)),
        ViewParam("cell", ("eval_true", "eval_pred"), _cell),
        ViewParam("norm", ("eval_normalised",), single(flag), (False,)),
        ViewParam("epoch", ("eval_epoch",), single(_epoch)),
        ViewParam("pictures", ("eval_dynamics_pictures",), single(flag), (False,)),
        ViewParam("ovr", ("eval_ovr_class",), single(whole_number, 0, MAX_INDEX), (0,)),
        ViewParam("mistake", ("eval_inspect",), single(whole_number, 0, MAX_INDEX)),
        ViewParam("shown", ("eval_gallery_n",), single(whole_number, 1, 100), (20,)),
        ViewParam("sample", ("eval_sample_seed",), single(whole_number, 0, 2**31 - 1), (0,)),
        ViewParam("overlay", ("eval_overlay",), single(choice(GALLERY_OVERLAYS)), (GALLERY_OVERLAYS[0],)),
        ViewParam("overlay_class", ("eval_overlay_class",), single(choice(GALLERY_TARGETS)), (GALLERY_TARGETS[0],)),
    ),
)

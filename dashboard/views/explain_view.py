"""The Explain page's part of the link: its tabs, the explanation methods and its view parameters."""

from dashboard.links import (
    MAX_INDEX,
    PageView,
    ViewParam,
    choice,
    decimal,
    flag,
    run_id_text,
    short_text,
    single,
    whole_number,
)
from engine.exploration import EMBEDDINGS
from engine.limits import adversarial_limits
from engine.probes.adversarial import METHODS as ATTACKS
from engine.probes.robustness import PERTURBATIONS

TABS = ("Explain a prediction", "Robustness", "Calibration", "Embedding map", "Adversarial")
# Tab labels links carried before a rename: such a link still opens its tab (and is rewritten with today's label).
# "Feature map" now names only a layer's activations (Inspect); the 2-D map of the test set is the embedding map.
RENAMED_TABS = {"Feature map": "Embedding map"}
METHODS = ("Grad-CAM", "Saliency", "SmoothGrad", "Integrated gradients", "Occlusion")
PREDICTED = -1  # the class picker's "explain the predicted class"


def _bounded(limit: str, low: int = 1):
    """A whole number from `low` to an adversarial limit, read when the link is (hosted mode lowers it)."""
    return lambda text: single(whole_number, low, getattr(adversarial_limits(), limit))(text)


VIEW = PageView(
    "explain",
    (
        ViewParam("tab", ("explain_tab",), single(lambda text: choice(TABS)(RENAMED_TABS.get(text, text))), (TABS[0],)),
        ViewParam("image", ("explain_index",), single(whole_number, 0, MAX_INDEX), (0,)),
        ViewParam("method", ("explain_method",), single(choice(METHODS)), (METHODS[0],)),
        ViewParam("perturbation", ("robust_perturbation",), single(choice(PERTURBATIONS)), ("rotation",)),
        ViewParam("map", ("embedding_map_method",), single(choice(EMBEDDINGS)), ("pca",)),
        ViewParam("pictures", ("embedding_map_pictures",), single(flag), (False,)),
        # The page checks what depends on the run (class count, conv layer names, patch size, the second run).
        ViewParam("class", ("explain_class",), single(whole_number, PREDICTED, MAX_INDEX), (PREDICTED,)),
        ViewParam("layer", ("explain_layer",), single(short_text(100))),
        ViewParam("patch", ("explain_patch",), single(whole_number, 1, 14), (2,)),
        ViewParam("opacity", ("explain_opacity",), single(decimal, 0.0, 1.0), (0.6,)),
        ViewParam("smooth", ("explain_smooth",), single(whole_number, 5, 100), (25,)),
        ViewParam("ig_steps", ("explain_ig_steps",), single(whole_number, 8, 128), (32,)),
        ViewParam("level", ("robust_level",), single(decimal, 0.0, 1000.0)),
        ViewParam("bins", ("calib_bins",), single(whole_number, 5, 30), (10,)),
        ViewParam("second", ("explain_second",), single(run_id_text), ("",)),
        # The Adversarial tab: its widgets' ranges, like these bounds, come from engine.limits.
        ViewParam("attack", ("adv_method",), single(choice(ATTACKS)), ("fgsm",)),
        ViewParam("eps_max", ("adv_eps_max",), single(decimal, 0.01, 1.0), (0.3,)),
        ViewParam("eps_points", ("adv_eps_points",), _bounded("max_epsilons", 2), (7,)),
        ViewParam("steps", ("adv_steps",), _bounded("max_steps"), (10,)),
        ViewParam("attacked", ("adv_images",), _bounded("max_images")),
    ),
)

"""The explanation methods as the pages name them (Explain, Inspect's drawing, Evaluate's mistakes gallery), and
the engine settings each name stands for, so every page computes the same thing under the same name."""

from __future__ import annotations

from dashboard.views.evaluate_view import GALLERY_OVERLAYS
from dashboard.views.explain_view import METHODS
from engine.probes.explain import ExplainSettings

# Page name -> the engine's settings at their page defaults (SmoothGrad is saliency over 25 noisy copies).
METHOD_SETTINGS: dict[str, dict] = {
    "Grad-CAM": {"method": "gradcam"},
    "Saliency": {"method": "saliency"},
    "SmoothGrad": {"method": "saliency", "smooth_samples": 25},
    "Integrated gradients": {"method": "integrated-gradients"},
    "Occlusion": {"method": "occlusion"},
}
assert tuple(METHOD_SETTINGS) == METHODS
assert set(GALLERY_OVERLAYS[1:]) <= set(METHOD_SETTINGS)


def settings_for(method: str, **changes) -> ExplainSettings:
    """The engine settings for a page's method name, with the page's own widget values on top."""
    return ExplainSettings(**{**METHOD_SETTINGS[method], **changes})

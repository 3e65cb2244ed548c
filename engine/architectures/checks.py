"""The model spec's checks, under the names every request path uses: `validate_spec_values` (types, choices and
ranges) and `validate_spec` (those, then the layer walk that finds collapsing shapes and counts parameters). Both
are `engine.architectures.shapes`'s own checks, not copies: laying out the layers needs sane values first."""

from __future__ import annotations

from engine.architectures.shapes import check_values, validate
from engine.architectures.spec import ModelSpec
from engine.limits import SpecLimits


def validate_spec(spec: ModelSpec, limits: SpecLimits | None = None) -> None:
    """Raise `InvalidSpec` when `spec` cannot be built within the limits; return quietly when it can."""
    validate(spec, limits)


def validate_spec_values(spec: ModelSpec, limits: SpecLimits | None = None) -> None:
    """The spec checks short of laying out the layers: types, choices and ranges (shared links use these alone,
    so a model whose shapes collapse still opens, with the engine's message under the widgets)."""
    check_values(spec, limits)

"""Python source for plain values taken from a stored run (`py_literal`), for the notebook's code cells.

`repr` is not enough: a stored score can be NaN or infinite (a log loss of a confident mistake is `inf`, a hand
edit can put `NaN` in the JSON), and `repr(float("inf"))` is `inf`, a name the notebook does not define, so it
failed with NameError after training for minutes. Here a non-finite float is written as `float('inf')`, which
evaluates to the same value; everything else is a literal (`repr` of str, int, bool, None), so a value read from
the cache can never become code.
"""

from __future__ import annotations

import math


def py_literal(value: object) -> str:
    """Python source that evaluates to `value`: None, bool, int, float (NaN and infinities included), str, and
    lists, tuples and dicts of these. Anything else is a `TypeError`: the cache's values are JSON, nothing more."""
    if value is None or isinstance(value, bool | int | str):
        return repr(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "float('nan')"
        if math.isinf(value):
            return "float('inf')" if value > 0 else "-float('inf')"
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(py_literal(item) for item in value) + "]"
    if isinstance(value, tuple):
        items = [py_literal(item) for item in value]
        return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{py_literal(key)}: {py_literal(item)}" for key, item in value.items()) + "}"
    raise TypeError(f"no Python literal for a value of type {type(value).__name__}")

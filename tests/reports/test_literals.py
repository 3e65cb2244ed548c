"""`py_literal`: the Python source the notebook writes for stored values evaluates back to exactly those values,
NaN and infinities included (a bare `inf` / `nan` was a NameError in the notebook after training)."""

from __future__ import annotations

import ast
import math

import pytest

from engine.reports.literals import py_literal

# Only `float` is reachable: the source may call it for a non-finite number and nothing else.
ONLY_FLOAT = {"__builtins__": {}, "float": float}


def _back(source: str) -> object:
    return eval(source, dict(ONLY_FLOAT))  # noqa: S307 - the point of the test: the generated source, evaluated


def test_finite_values_are_plain_literals_that_literal_eval_reads_back():
    value = {"run": "a'b\"c\n", "n": 3, "ok": True, "none": None, "scores": [0.5, 1e-300, -2.0], "pair": (1,)}
    assert ast.literal_eval(py_literal(value)) == value


@pytest.mark.parametrize("number", [math.inf, -math.inf])
def test_infinities_evaluate_to_themselves(number):
    assert _back(py_literal(number)) == number
    assert _back(py_literal({"test_loss": number}))["test_loss"] == number


def test_nan_evaluates_to_nan_inside_containers():
    back = _back(py_literal({"curves": [0.1, math.nan, math.inf], "row": (math.nan,)}))
    assert back["curves"][0] == 0.1 and math.isnan(back["curves"][1]) and back["curves"][2] == math.inf
    assert isinstance(back["row"], tuple) and math.isnan(back["row"][0])


def test_repr_of_the_same_values_is_what_failed():
    # The old writer's output for a stored infinite loss: a bare name, undefined in the notebook.
    with pytest.raises(NameError):
        _back(repr({"test_loss": math.inf}))


def test_a_value_that_is_not_plain_data_is_refused():
    with pytest.raises(TypeError):
        py_literal(object())

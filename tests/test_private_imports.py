"""No engine package imports another's private names (`from engine.x import _name`).

Ruff's PLC2701 (enabled in pyproject.toml) flags private imports from another top-level package (dashboard or
charts reaching into engine) but deliberately skips imports inside one top-level package, which is where the
engine's packages reached into each other (the recipe into `datasets.transforms`, the notebook into
`architectures.build`). This walk covers that gap: within `engine`, a private name may be imported only inside
its own unit (a subpackage such as `engine.training`, or a top-level module such as `engine.runs`).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _unit(module: str) -> str:
    """`engine.reports.notebook` -> `engine.reports`; `engine.runs` -> `engine.runs`."""
    return ".".join(module.split(".")[:2])


def private_imports_across_units(module: str, is_package: bool, source: str) -> list[str]:
    """`module`'s imports of private names from another engine unit, as 'line: from X import _y'."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.ImportFrom):
            continue
        if node.level:  # relative: resolve against the importing module's package
            base = module.split(".") if is_package else module.split(".")[:-1]
            base = base[: len(base) - (node.level - 1)]
            target = ".".join(base + ([node.module] if node.module else []))
        else:
            target = node.module or ""
        if target.split(".")[0] != "engine" or _unit(target) == _unit(module):
            continue
        found += [
            f"{node.lineno}: from {target} import {alias.name}"
            for alias in node.names
            if alias.name.startswith("_") and not alias.name.startswith("__")
        ]
    return found


def test_the_walk_flags_a_cross_package_private_import_and_allows_one_inside_a_package():
    notebook_before = "from engine.architectures.build import _LOADERS, build_model\n"
    assert private_imports_across_units("engine.reports.notebook", False, notebook_before) == [
        "1: from engine.architectures.build import _LOADERS"
    ]
    assert private_imports_across_units("engine.reports.notebook", False, "from .html import _num\n") == []
    assert private_imports_across_units("engine.reports.notebook", False, "from ..store import _x\n") == [
        "1: from engine.store import _x"
    ]
    assert private_imports_across_units("engine.training.fit", False, "from engine.training.data import _y\n") == []
    assert private_imports_across_units("engine.runs", False, "from engine.crossval import _z\n") == [
        "1: from engine.crossval import _z"
    ]


def test_no_engine_module_imports_a_private_name_of_another_engine_package():
    found = []
    for path in sorted((ROOT / "engine").rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        is_package = parts[-1] == "__init__"
        module = ".".join(parts[:-1] if is_package else parts)
        found += [
            f"{path.relative_to(ROOT)}:{hit}"
            for hit in private_imports_across_units(module, is_package, path.read_text())
        ]
    assert len(list((ROOT / "engine").rglob("*.py"))) > 50  # the walk sees the engine
    assert not found, "private names imported across engine packages (make them public in their home):\n" + "\n".join(
        found
    )

"""What import-linter does not check about the import graph.

`lint-imports` (pyproject.toml's `[tool.importlinter]`, run by .ci/run) checks the engine's layers, that the
engine never imports the dashboard, and that no import cycle exists anywhere in `engine/` or `dashboard/`; it
counts an import inside a function like one at the top. It cannot say where an import stands, so this file keeps
one rule: `engine.limits` sits at the very bottom (it imports no engine module), so its users import it at module
top, never deferred inside a function.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def imports(source: str) -> tuple[set[str], set[str]]:
    """(modules imported at the top of `source`, modules imported deferred, inside a function or block)."""
    tree = ast.parse(source)
    top_nodes = set(map(id, tree.body))
    top: set[str] = set()
    deferred: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            names = {node.module}
        elif isinstance(node, ast.Import):
            names = {alias.name for alias in node.names}
        else:
            continue
        (top if id(node) in top_nodes else deferred).update(names)
    return top, deferred


def _source(module: str) -> str:
    return (ROOT / (module.replace(".", "/") + ".py")).read_text()


def test_the_import_finder_tells_top_from_deferred():
    source = "import engine.errors\nfrom engine.limits import x\ndef f():\n    from engine.limits import y\n"
    assert imports(source) == ({"engine.errors", "engine.limits"}, {"engine.limits"})


def test_limits_imports_no_engine_module_but_the_settings():
    # settings.env_flag reads hosted mode's switch; settings itself imports nothing from the engine.
    for module, allowed in (("engine.limits", {"engine.settings"}), ("engine.settings", set())):
        top, deferred = imports(_source(module))
        engine_imports = {name for name in top | deferred if name == "engine" or name.startswith("engine.")}
        assert engine_imports <= allowed, f"{module} imports {sorted(engine_imports)}"


def test_limits_users_import_it_at_the_top():
    for user in ("engine.architectures.shapes", "engine.training.config", "engine.training.checks"):
        top, deferred = imports(_source(user))
        assert "engine.limits" in top and "engine.limits" not in deferred, user

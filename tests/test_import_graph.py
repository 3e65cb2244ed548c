"""The import graph of `engine/` and `dashboard/`, deferred imports inside functions included, has no cycle.

Built from the source with `ast` (nothing is imported), so an import hidden in a function body counts as much as
one at the top: a cycle broken only by deferring an import is still a design cycle. `engine.limits` sits at the
bottom: it imports no engine module, so every user can import it at module top.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("engine", "dashboard")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(path): path for package in PACKAGES for path in sorted((ROOT / package).rglob("*.py"))}


def _imported_names(path: Path, module: str) -> set[str]:
    """Every absolute module name `path` imports anywhere in its body, `from a import b` giving both a and a.b."""
    is_package = path.name == "__init__.py"
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against this module's package
                package = module.split(".") if is_package else module.split(".")[:-1]
                package = package[: len(package) - (node.level - 1)]
                base = ".".join([*package, base] if base else package)
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def import_graph() -> dict[str, set[str]]:
    modules = _modules()
    graph = {}
    for module, path in modules.items():
        graph[module] = {name for name in _imported_names(path, module) if name in modules and name != module}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str]:
    """One cycle as [a, b, ..., a], or [] when the graph is acyclic (iterative depth-first search)."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = finished
    for start in sorted(graph):
        if state.get(start):
            continue
        path, stack = [start], [iter(sorted(graph[start]))]
        state[start] = 1
        while stack:
            following = next(stack[-1], None)
            if following is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(following) == 1:
                return [*path[path.index(following) :], following]
            elif not state.get(following):
                state[following] = 1
                path.append(following)
                stack.append(iter(sorted(graph[following])))
    return []


def test_cycle_finder_finds_a_planted_cycle():
    # The finder itself must be able to fail: a -> b -> c -> a is found, a tree is not.
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) in (["a", "b", "c", "a"],)
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) == []


def test_deferred_imports_are_edges(tmp_path):
    source = tmp_path / "m.py"
    source.write_text("def f():\n    from engine.limits import spec_limits\n    import engine.errors\n")
    assert {"engine.limits", "engine.errors"} <= _imported_names(source, "engine.m")


def test_engine_and_dashboard_have_no_import_cycle():
    graph = import_graph()
    assert "engine.limits" in graph and "dashboard.state" in graph  # the walk found the packages
    cycle = find_cycle(graph)
    assert not cycle, "import cycle: " + " -> ".join(cycle)


def test_limits_imports_no_engine_module_but_the_settings():
    graph = import_graph()
    # settings.env_flag reads hosted mode's switch; settings itself imports nothing from the engine.
    assert graph["engine.limits"] <= {"engine.settings"}, f"engine.limits imports {sorted(graph['engine.limits'])}"
    assert graph["engine.settings"] == set(), f"engine.settings imports {sorted(graph['engine.settings'])}"
    # Its users import it at module top, not inside functions.
    for user in ("engine.architectures.shapes", "engine.training.config"):
        tree = ast.parse((ROOT / (user.replace(".", "/") + ".py")).read_text())
        top = {node.module for node in tree.body if isinstance(node, ast.ImportFrom)}
        assert "engine.limits" in top, user
        deferred = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)} - top
        assert "engine.limits" not in deferred, user

"""Packaging: pyproject.toml agrees with the pinned requirements, the `digit-lab` command resolves and lists its
verbs, nothing adjusts sys.path, the default cache is the working folder's, and the README's set-up holds."""

from __future__ import annotations

import ast
import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from importlib import import_module
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PROJECT = PYPROJECT["project"]
VERBS = ("datasets", "presets", "train", "cv", "study", "compare", "runs", "app")


def pinned(name: str) -> list[Requirement]:
    """The requirements a requirements file pins itself (not its -r includes, not -e)."""
    lines = (ROOT / name).read_text().splitlines()
    return [Requirement(line) for line in map(str.strip, lines) if line and not line.startswith(("#", "-"))]


def _key(requirement: Requirement) -> tuple[str, str]:
    return canonicalize_name(requirement.name), str(requirement.marker or "")


def _assert_ranges_admit_pins(ranges: list[str], pins: list[Requirement]) -> None:
    by_key = {_key(r): r for r in map(Requirement, ranges)}
    for pin in pins:
        assert _key(pin) in by_key, f"{pin} is pinned but missing from pyproject.toml"
        (version,) = [spec.version for spec in pin.specifier]
        assert by_key[_key(pin)].specifier.contains(version), f"{by_key[_key(pin)]} excludes the pinned {pin}"


def test_dependencies_are_ranges_that_admit_every_pin_in_requirements_txt():
    pins = pinned("requirements.txt")
    assert {"tensorflow-cpu", "tensorflow", "streamlit", "filelock"} <= {canonicalize_name(p.name) for p in pins}
    _assert_ranges_admit_pins(PROJECT["dependencies"], pins)
    # And the reverse: a hosted install (requirements.txt) has everything the package declares.
    assert {_key(Requirement(r)) for r in PROJECT["dependencies"]} == {_key(p) for p in pins}
    for requirement in map(Requirement, PROJECT["dependencies"]):
        assert not any(spec.operator == "==" for spec in requirement.specifier), f"{requirement} is a pin, not a range"


def test_tensorflow_keeps_its_platform_markers():
    markers = {canonicalize_name(r.name): str(r.marker) for r in map(Requirement, PROJECT["dependencies"])}
    assert markers["tensorflow-cpu"] == 'sys_platform == "linux" and platform_machine == "x86_64"'
    assert markers["tensorflow"] == 'sys_platform != "linux" or platform_machine != "x86_64"'


def test_extras_match_the_ray_and_dev_requirement_files():
    extras = PROJECT["optional-dependencies"]
    _assert_ranges_admit_pins(extras["ray"], pinned("requirements-ray.txt"))
    assert sorted(extras["dev"]) == sorted(str(p) for p in pinned("requirements-dev.txt"))
    assert "ruff" in {canonicalize_name(Requirement(r).name) for r in extras["dev"]}


def test_requirements_txt_installs_the_project_itself():
    lines = [line.strip() for line in (ROOT / "requirements.txt").read_text().splitlines()]
    assert "-e ." in lines  # so `streamlit run dashboard/Home.py` imports the packages without sys.path changes
    assert PROJECT["name"] == "digit-lab" and PROJECT["requires-python"] == ">=3.11"


def test_console_command_resolves_to_a_callable_that_lists_the_verbs(capsys):
    module, _, attribute = PROJECT["scripts"]["digit-lab"].partition(":")
    main = getattr(import_module(module), attribute)
    assert callable(main)
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: digit-lab")
    for verb in VERBS:
        assert re.search(rf"^\s+{verb}\s", out, re.MULTILINE), verb


def test_app_runs_streamlit_on_the_packaged_home_page(monkeypatch):
    from engine import cli
    from engine.cli import app

    calls = []

    def replace_process(path, argv):  # os.execv never returns
        calls.append(argv)
        raise SystemExit(0)

    monkeypatch.setattr(app.os, "execv", replace_process)
    monkeypatch.setattr(app.subprocess, "call", lambda argv: calls.append(argv) or 0)
    with contextlib.suppress(SystemExit):
        cli.main(["app", "--server.port", "8599"])
    (argv,) = calls
    assert argv[1:4] == ["-m", "streamlit", "run"]
    assert Path(argv[4]) == ROOT / "dashboard" / "Home.py" and argv[5:] == ["--server.port", "8599"]


def test_packages_ship_the_dashboard_pages():
    setuptools = PYPROJECT["tool"]["setuptools"]
    assert setuptools["packages"]["find"]["include"] == ["engine*", "dashboard*", "charts*"]
    assert "views/*.py" in setuptools["package-data"]["dashboard"]
    assert list((ROOT / "dashboard" / "views").glob("*.py"))


def test_packages_ship_every_project_package_the_shipped_code_imports():
    """A wheel holds what setuptools finds with pyproject's settings; every top-level package of this checkout that
    the shipped code imports (the chart builders that the report and the pages share, say) must be among them."""
    from setuptools import find_namespace_packages

    find = PYPROJECT["tool"]["setuptools"]["packages"]["find"]
    assert find["namespaces"] is True
    shipped = set(find_namespace_packages(where=str(ROOT), include=find["include"]))
    assert {"engine", "dashboard", "charts"} <= shipped
    own = {path.parent.name for path in ROOT.glob("*/__init__.py")}
    imported: dict[str, str] = {}
    for package in sorted(shipped):
        for source in (ROOT / package.replace(".", "/")).glob("*.py"):
            for node in ast.walk(ast.parse(source.read_text(), str(source))):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    imported.setdefault(name.partition(".")[0], str(source.relative_to(ROOT)))
    assert "charts" in imported  # the pages and the HTML report draw with it
    missing = {top: where for top, where in imported.items() if top in own and top not in shipped}
    assert not missing, f"imported but not shipped in the wheel: {missing}"


def _text_files():
    skip = {".git", "__pycache__", "cache", "build", "dist", ".venv", ".pytest_cache", ".hypothesis", "test-artifacts"}
    for folder, names, files in os.walk(ROOT):
        names[:] = [n for n in names if n not in skip and not n.endswith(".egg-info")]
        for name in files:
            if name.endswith((".py", ".md", ".txt", ".toml", ".sh", ".cfg", ".ini")) or name == "run":
                yield Path(folder) / name


def test_no_file_adjusts_sys_path():
    needle = "sys.path" + ".insert"  # spelled in two parts so this file does not match itself
    offenders = [str(path.relative_to(ROOT)) for path in _text_files() if needle in path.read_text(errors="replace")]
    assert offenders == []
    assert not (ROOT / "pytest.ini").exists()  # its settings live in pyproject.toml


def test_default_cache_is_the_working_folder_read_at_call_time(monkeypatch, tmp_path):
    from engine import settings

    monkeypatch.delenv(settings.CACHE_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    assert settings.cache_dir() == tmp_path / "cache"
    assert settings.runs_dir() == tmp_path / "cache" / "runs"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert settings.cache_dir() == elsewhere / "cache"  # not remembered from an earlier call
    monkeypatch.setenv(settings.CACHE_ENV, str(tmp_path / "mine"))
    assert settings.cache_dir() == tmp_path / "mine"


def test_tests_isolate_the_cache(isolated_cache):
    from engine import settings

    assert settings.cache_dir() == isolated_cache
    assert ROOT not in settings.cache_dir().parents


def test_pytest_and_ruff_are_configured_in_pyproject():
    pytest_options = PYPROJECT["tool"]["pytest"]["ini_options"]
    assert "not slow" not in pytest_options["addopts"]  # plain `python -m pytest` is the full suite
    assert pytest_options["pythonpath"] == ["."]
    markers = {marker.split(":")[0] for marker in pytest_options["markers"]}
    assert {"browser", "slow"} <= markers
    ruff = PYPROJECT["tool"]["ruff"]
    assert ruff["line-length"] == 120 and ruff["target-version"] == "py311"
    assert {"E", "F", "I", "B", "UP", "SIM"} <= set(ruff["lint"]["select"])
    assert "format" in ruff


def test_readme_keeps_two_set_up_commands_and_ci_runs_the_test_one_after_ruff():
    readme = (ROOT / "README.md").read_text()
    set_up = readme.split("## Set up", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)```", set_up, re.DOTALL)
    assert [block.strip() for block in blocks] == [
        "pip install -r requirements.txt && streamlit run dashboard/Home.py",
        "pip install -r requirements-dev.txt && python -m pytest",
    ]
    ci = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines() if not line.startswith("#")]
    test_line = ci.index("pip install -r requirements-dev.txt && python -m pytest")
    assert ci.index("ruff check .") < test_line and ci.index("ruff format --check .") < test_line
    assert ci.index("ruff format --check .") < ci.index("lint-imports") < test_line  # the layers, before the suite


def test_mypy_is_configured_in_pyproject_and_ci_runs_it_before_the_tests():
    mypy = PYPROJECT["tool"]["mypy"]
    assert {"engine", "charts"} <= set(mypy["files"])
    assert mypy["python_version"] == "3.11" and mypy["check_untyped_defs"]
    # Only named third-party modules may be unchecked imports, never every missing one.
    assert "ignore_missing_imports" not in mypy
    dev = PYPROJECT["project"]["optional-dependencies"]["dev"]
    assert "mypy" in {canonicalize_name(Requirement(r).name) for r in dev}
    ci = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines() if not line.startswith("#")]
    assert (
        ci.index("ruff format --check .")
        < ci.index("mypy")
        < ci.index("pip install -r requirements-dev.txt && python -m pytest")
    )


@pytest.mark.slow
def test_the_command_runs_from_another_folder(tmp_path):
    """`digit-lab datasets --json` (or `python -m engine` where the project is not installed) outside the clone."""
    command = [shutil.which("digit-lab")] if shutil.which("digit-lab") else [sys.executable, "-m", "engine"]
    env = {**os.environ, "DIGIT_LAB_CACHE": str(tmp_path / "cache")}
    if command[0] == sys.executable:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")]))
    done = subprocess.run(
        [*command, "datasets", "--json"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert "digits" in {row["name"] for row in json.loads(done.stdout)}

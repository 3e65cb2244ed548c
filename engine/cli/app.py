"""`digit-lab app`: the dashboard, run by streamlit on the installed `dashboard/Home.py`."""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

from engine.errors import DigitLabError


def _add_app(commands: argparse._SubParsersAction) -> None:
    # Only for the help text: `main` hands `app` and its arguments to streamlit before argparse sees them.
    commands.add_parser("app", help="start the dashboard: streamlit run dashboard/Home.py [streamlit options]")


COMMANDS = {"app": _add_app}


def dashboard_entry_point() -> Path:
    """The installed `dashboard/Home.py` (found without importing the dashboard, which imports streamlit)."""
    found = importlib.util.find_spec("dashboard")
    if found is None or not found.submodule_search_locations:
        raise DigitLabError("The dashboard package is not installed beside the engine; reinstall digit-lab.")
    return Path(next(iter(found.submodule_search_locations))) / "Home.py"


def run_app(streamlit_args: list[str]) -> int:
    """Run the dashboard in the foreground with this Python's streamlit; its exit code is ours."""
    try:
        home = dashboard_entry_point()
    except DigitLabError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    command = [sys.executable, "-m", "streamlit", "run", str(home), *streamlit_args]
    if os.name == "posix":
        # Become streamlit, so a service manager's SIGTERM reaches the server rather than orphaning it.
        os.execv(sys.executable, command)
    try:
        return subprocess.call(command)
    except KeyboardInterrupt:
        return 130

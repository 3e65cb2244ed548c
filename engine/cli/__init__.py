"""The `digit-lab` command line (also `python -m engine`): datasets, presets, train, cv, study, sweep, compare, runs,
job, calibration, robustness, explain, embedding-map (alias feature-map), adversarial, confusion, dynamics,
label-issues, report, upload, leakage, challenge, submit, app.

`digit-lab app` starts the dashboard (streamlit on the installed `dashboard/Home.py`). With `--json` every
other command prints one JSON value on stdout; without it, readable text, and a progress bar on stderr when
that is a terminal. Errors print one line on stderr and exit non-zero (2 for bad input, 1 for an
unexpected failure; set DIGIT_LAB_DEBUG=1 to see the traceback).

This module holds `main` and the parser's assembly. Each group of verbs is one module that registers its verbs'
parsers and handlers (its `COMMANDS`): data (datasets, upload, presets, leakage), training (train, memory, cv, study,
job), sweep, runs (runs, compare), probes (calibration, robustness, explain, embedding-map, adversarial),
diagnostics (label-issues), reports (report) and app (app); requests holds the training-request arguments they
share, progress_bar the bar they draw.
"""

from __future__ import annotations

import argparse
import os
import sys

from engine.cli import app, classroom, data, diagnostics, probes, reports, runs, sweep, training
from engine.errors import DigitLabError

# `digit-lab --help` lists the verbs in this order, the order users have known; a verb not named here is listed last.
_HELP_ORDER = (
    "datasets",
    "upload",
    "presets",
    "leakage",
    "train",
    "memory",
    "cv",
    "sweep",
    "study",
    "compare",
    "runs",
    "job",
    "calibration",
    "robustness",
    "explain",
    "report",
    "embedding-map",
    "label-issues",
    "confusion",
    "dynamics",
    "challenge",
    "submit",
    "app",
)


def main(argv: list[str] | None = None, prog: str = "digit-lab") -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["app"]:
        # Everything after `app` belongs to streamlit (`--server.port 8502`), which argparse would try to parse.
        return app.run_app(argv[1:])
    parser = _parser(prog)
    args = parser.parse_args(argv)
    try:
        return args.handler(args) or 0
    except DigitLabError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted; nothing half-finished was stored", file=sys.stderr)
        return 130
    except Exception as error:  # noqa: BLE001 - the CLI promises one line, not a traceback
        if os.environ.get("DIGIT_LAB_DEBUG"):
            raise
        print(f"error: unexpected {type(error).__name__}: {error} (set DIGIT_LAB_DEBUG=1 for details)", file=sys.stderr)
        return 1


def _parser(prog: str = "digit-lab") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog, description="Digit Lab: handwritten-digit data and the CNNs that classify them"
    )
    commands = parser.add_subparsers(dest="command", required=True)
    verbs = {
        **data.COMMANDS,
        **training.COMMANDS,
        **sweep.COMMANDS,
        **runs.COMMANDS,
        **probes.COMMANDS,
        **diagnostics.COMMANDS,
        **reports.COMMANDS,
        **classroom.COMMANDS,
        **app.COMMANDS,
    }
    for verb in [*_HELP_ORDER, *(verb for verb in verbs if verb not in _HELP_ORDER)]:
        verbs[verb](commands)
    return parser

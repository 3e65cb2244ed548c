"""`digit-lab report`: a standalone notebook or a self-contained HTML report of a run, a study or a sweep."""

from __future__ import annotations

import argparse
import json
import sys

from engine.datasets import load_dataset
from engine.errors import InvalidConfig
from engine.reports import preset_study_subject, run_subject, sweep_subject
from engine.reports.writer import write_report


def _add_report(commands: argparse._SubParsersAction) -> None:
    report = commands.add_parser("report", help="a standalone notebook or a self-contained HTML report")
    report.add_argument("run_id", nargs="?", help="a stored run (or use --study / --sweep)")
    report.add_argument("--study", help="a named study, as trained by `digit-lab study` with the options below")
    report.add_argument("--sweep", help="a sweep id")
    report.add_argument("--format", required=True, choices=["ipynb", "html"])
    report.add_argument("--output", required=True, help="the file to write")
    report.add_argument("--dataset", default="mnist", help="--study: the dataset it was trained on")
    report.add_argument("--data-path", help="--study: local folder or file with the dataset")
    report.add_argument("--epochs", type=int, help="--study: as given to `digit-lab study`")
    report.add_argument("--limit-train", type=int, help="--study: as given to `digit-lab study`")
    report.add_argument("--seed", type=int, help="--study: as given to `digit-lab study`")
    report.add_argument("--json", action="store_true")
    report.set_defaults(handler=_report)


COMMANDS = {"report": _add_report}


def _report(args: argparse.Namespace) -> None:
    from dataclasses import asdict

    chosen = [
        name for name, value in (("RUN_ID", args.run_id), ("--study", args.study), ("--sweep", args.sweep)) if value
    ]
    if len(chosen) != 1:
        raise InvalidConfig(f"`report` needs exactly one of RUN_ID, --study NAME or --sweep ID (got {len(chosen)}).")

    def progress(step: str) -> None:
        if not args.json:
            print(f"report: {step}…", file=sys.stderr, flush=True)

    if args.study:
        progress(f"finding the stored runs of study {args.study[:40]}")
        dataset = load_dataset(args.dataset, local_path=args.data_path)
        subject = preset_study_subject(
            args.study, dataset, epochs=args.epochs, limit_train=args.limit_train, seed=args.seed
        )
    elif args.sweep:
        progress(f"reading sweep {args.sweep[:40]}")
        subject = sweep_subject(args.sweep)
    else:
        subject = run_subject(args.run_id)
    written = write_report(subject, args.format, args.output, progress)
    if args.json:
        print(json.dumps(asdict(written)))
    else:
        for part in written.left_out:
            print(f"warning: left out {part}", file=sys.stderr)
        print(f"wrote {written.path} ({written.bytes:,} bytes): {', '.join(written.holds)}")

"""`digit-lab datasets` and `digit-lab presets`: what data and which model presets this install offers."""

from __future__ import annotations

import argparse
import json

from engine.architectures import PRESETS
from engine.datasets import dataset_status, list_datasets


def _add_datasets(commands: argparse._SubParsersAction) -> None:
    datasets = commands.add_parser("datasets", help="list datasets and whether each can be loaded here")
    datasets.add_argument("--json", action="store_true")
    datasets.set_defaults(handler=_datasets)


def _add_presets(commands: argparse._SubParsersAction) -> None:
    presets = commands.add_parser("presets", help="list model presets with parameter counts")
    presets.add_argument("--json", action="store_true")
    presets.set_defaults(handler=_presets)


COMMANDS = {"datasets": _add_datasets, "presets": _add_presets}


def _datasets(args: argparse.Namespace) -> None:
    from dataclasses import asdict

    rows = []
    for info in list_datasets():
        available, detail = dataset_status(info.name)
        rows.append({**asdict(info), "available": available, "status": detail})
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    for row in rows:
        mark = "yes" if row["available"] else "no "
        print(f"{row['name']:<15} {mark}  {row['title']} — {row['status']}")


def _presets(args: argparse.Namespace) -> None:
    rows = [preset.summary() for preset in PRESETS.values()]
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    for row in rows:
        shape = "x".join(str(d) for d in row["input_shape"][:2])
        print(f"{row['name']:<20} {shape:>5}  {row['total_parameters']:>9,} params  {row['title']}")

"""`digit-lab datasets`, `digit-lab upload` and `digit-lab presets`: what data and which model presets this install
offers, and registering an upload from files on disk (as the Data page's upload does)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from engine.architectures import PRESETS
from engine.datasets import dataset_status, list_datasets, load_dataset
from engine.datasets.scaling import DEFAULT_SCALING, PIXEL_SCALINGS
from engine.datasets.uploads import register_upload
from engine.errors import InvalidDataFile
from engine.limits import input_limits


def _add_datasets(commands: argparse._SubParsersAction) -> None:
    datasets = commands.add_parser("datasets", help="list datasets and whether each can be loaded here")
    datasets.add_argument("--json", action="store_true")
    datasets.set_defaults(handler=_datasets)


def _add_presets(commands: argparse._SubParsersAction) -> None:
    presets = commands.add_parser("presets", help="list model presets with parameter counts")
    presets.add_argument("--json", action="store_true")
    presets.set_defaults(handler=_presets)


def _add_upload(commands: argparse._SubParsersAction) -> None:
    upload = commands.add_parser(
        "upload", help="register IDX files or one npz as an uploaded dataset (as the Data page's upload does)"
    )
    upload.add_argument("files", nargs="+", metavar="FILE", help="the four IDX files (raw or .gz) or one .npz")
    upload.add_argument(
        "--scaling",
        choices=PIXEL_SCALINGS,
        default=DEFAULT_SCALING,
        help="what raw pixels are divided by: auto (the largest value when it is at most 63, e.g. 0..16 digits; "
        "else 255), type (255, uint8's range) or observed (the largest value in the files)",
    )
    upload.add_argument("--json", action="store_true")
    upload.set_defaults(handler=_upload)


COMMANDS = {"datasets": _add_datasets, "upload": _add_upload, "presets": _add_presets}


def _upload(args: argparse.Namespace) -> None:
    cap = input_limits().max_upload_bytes
    files, total = [], 0
    for given in args.files:
        path = Path(given)
        try:
            if not path.is_file():  # a folder, a FIFO or a device is never read (a FIFO would block)
                raise InvalidDataFile(f"{given}: not a regular file; give the data files themselves.")
            total += path.stat().st_size
            if total > cap:  # before reading: the files are held in memory, as an upload's are
                raise InvalidDataFile(f"The files are over this server's {cap:,}-byte upload limit.")
            files.append((path.name, path.read_bytes()))
        except OSError as error:
            raise InvalidDataFile(f"{given}: cannot be read ({error.strerror or error}).") from None
    name = register_upload(files, args.scaling)
    summary = load_dataset(name).summary()
    if args.json:
        print(json.dumps(summary, indent=2))
        return
    h, w, _ = summary["image_shape"]
    print(f"{name}: {summary['n_train']:,} train / {summary['n_test']:,} test images of {h}x{w}")
    print(f"pixel scaling: {summary['pixel_scaling']}")


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

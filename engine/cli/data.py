"""`digit-lab datasets`, `digit-lab upload`, `digit-lab presets` and `digit-lab leakage`: what data and which model
presets this install offers, registering an upload from files on disk (as the Data page's upload does), and a
dataset's test images that copy training images (as the Data page's Leakage tab shows)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from engine.architectures import PRESETS
from engine.datasets import dataset_status, list_datasets, load_dataset
from engine.datasets.registry import DEFAULT_DATASET
from engine.datasets.scaling import DEFAULT_SCALING, PIXEL_SCALINGS
from engine.datasets.uploads import register_upload
from engine.errors import InvalidDataFile
from engine.leakage import LeakageSpec, find_leakage, validate_leakage_spec
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


def _add_leakage(commands: argparse._SubParsersAction) -> None:
    leakage = commands.add_parser("leakage", help="test images that are exact or near copies of training images")
    leakage.add_argument("--dataset", default=DEFAULT_DATASET)
    leakage.add_argument("--data-path", help="local folder or file with the dataset (IDX files or mnist.npz)")
    leakage.add_argument(
        "--threshold",
        type=float,
        default=LeakageSpec.threshold,
        help="near copy: RMS pixel distance on the 0..1 scale at most this (default %(default)g)",
    )
    leakage.add_argument(
        "--max-pairs", type=int, default=LeakageSpec.max_pairs, help="pairs listed, closest first (default %(default)s)"
    )
    leakage.add_argument("--json", action="store_true")
    leakage.set_defaults(handler=_leakage)


COMMANDS = {"datasets": _add_datasets, "upload": _add_upload, "presets": _add_presets, "leakage": _add_leakage}


def _leakage(args: argparse.Namespace) -> None:
    spec = validate_leakage_spec(LeakageSpec(threshold=args.threshold, max_pairs=args.max_pairs))  # before loading
    report = find_leakage(load_dataset(args.dataset, local_path=args.data_path), spec)
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
        return
    capped = report.test_compared < report.test_total or report.train_compared < report.train_total
    print(
        f"{report.test_compared:,} test images against {report.train_compared:,} training images"
        + (f" (this server compares at most these of {report.test_total:,} / {report.train_total:,})" if capped else "")
    )
    print(f"exact copies: {report.exact:,}   near copies (RMS <= {spec.threshold:g}): {report.near:,}")
    for pair in report.pairs:
        labels = "same label" if pair.labels_agree else f"labels differ: {pair.test_label} vs {pair.train_label}"
        kind = "exact" if pair.exact else f"{pair.distance:.4f}"
        print(f"test #{pair.test_index:<6} train #{pair.train_index:<6} {kind:>7}  {labels}")
    if report.found > len(report.pairs):
        print(f"... {report.found - len(report.pairs):,} more (raise --max-pairs to list them)")


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

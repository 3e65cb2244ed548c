"""`digit-lab runs` (list, delete, size) and `digit-lab compare`: the stored runs."""

from __future__ import annotations

import argparse
import json
import sys

from engine.errors import RunNotFound
from engine.runs import labels_of, spec_summary
from engine.store import RunStore, is_run_id


def _add_compare(commands: argparse._SubParsersAction) -> None:
    compare = commands.add_parser("compare", help="compare stored runs")
    compare.add_argument("run_ids", nargs="+")
    compare.add_argument("--json", action="store_true")
    compare.set_defaults(handler=_compare)


def _add_runs(commands: argparse._SubParsersAction) -> None:
    runs = commands.add_parser("runs", help="list stored runs; `runs delete RUN_ID` removes one")
    runs.add_argument("action", nargs="?", choices=["list", "delete", "size"], default="list")
    runs.add_argument("run_id", nargs="?")
    runs.add_argument("--json", action="store_true")
    runs.set_defaults(handler=_runs)


COMMANDS = {"compare": _add_compare, "runs": _add_runs}


def _compare(args: argparse.Namespace) -> None:
    # Deferred: engine.compare loads pandas, which only the verbs that tabulate runs need.
    from engine.compare import comparison_table

    store = RunStore()
    runs = []
    for run_id in args.run_ids:
        run = store.get(run_id) if is_run_id(run_id) else None
        if run is None:
            raise RunNotFound(f"No stored run {run_id!r}. List them with `digit-lab runs`.")
        runs.append(run)
    table = comparison_table(runs)
    if args.json:
        print(table.to_json(orient="records"))
    else:
        print(table.drop(columns=["created"]).to_string(index=False))  # the label names each run as lists do


def _runs(args: argparse.Namespace) -> None:
    store = RunStore()
    if args.action == "delete":
        if not args.run_id or not is_run_id(args.run_id):
            raise RunNotFound(f"`runs delete` needs a run id (20 hex characters), got {args.run_id!r}.")
        store.delete(args.run_id)
        print(json.dumps({"deleted": args.run_id}) if args.json else f"deleted {args.run_id}")
        return
    if args.action == "size":
        size = store.size_bytes()
        print(json.dumps({"bytes": size}) if args.json else f"{size / 1e6:.1f} MB in {store.root}")
        return

    scan = store.scan()
    for problem in scan.problems:  # flagged on stderr, so one bad run never hides (or breaks) the listing
        print(f"warning: run {problem.run_id} is not listed: {problem.reason}", file=sys.stderr)
    labels = labels_of(scan.runs)  # what tells each run apart: fold, changed settings, layers of a custom model
    rows = []
    for run in scan.runs:
        meta = run.meta
        rows.append(
            {
                "run_id": run.run_id,
                "label": labels[run.run_id],
                "dataset": meta["dataset"]["name"],
                "preset": meta.get("preset", ""),
                "architecture": spec_summary(meta["spec"]),
                "test_accuracy": meta["metrics"]["test_accuracy"],
                "epochs": meta.get("epochs_run"),
                "created": meta["created"],
            }
        )
    if args.json:
        print(json.dumps(rows))
        return
    for row in rows:
        print(f"{row['run_id']}  acc {row['test_accuracy']:.4f}  {row['created']}  {row['label']}")

"""The verb that looks for wrong labels in a training set: `label-issues` (optionally after planting some)."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

from engine.architectures import DEFAULT_PRESET
from engine.cli.progress_bar import _ProgressBar
from engine.datasets.registry import DEFAULT_DATASET

if TYPE_CHECKING:
    from engine.diagnostics.label_issues import LabelIssues


def _add_label_issues(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "label-issues", help="training images whose label the out-of-fold predictions doubt (confident learning)"
    )
    parser.add_argument("--dataset", default=DEFAULT_DATASET)
    parser.add_argument("--preset", default=DEFAULT_PRESET, help="the model every fold trains (digit-lab presets)")
    parser.add_argument("--folds", type=int, default=5, help="k: each image is predicted by the fold that left it out")
    parser.add_argument("--epochs", type=int, help="epochs per fold (default: the preset's)")
    parser.add_argument(
        "--plant-noise", type=float, metavar="F", help="first flip this share of training labels (0..0.5) and score"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the planted flips")
    parser.add_argument("--limit", type=int, default=20, help="issues listed without --json (all with --json)")
    parser.add_argument(
        "--stored-only",
        action="store_true",
        help="print the stored result of this plan, or say there is none; never trains (null with --json)",
    )
    parser.add_argument("--json", action="store_true")
    parser.set_defaults(handler=_label_issues)


COMMANDS = {"label-issues": _add_label_issues}


def _label_issues(args: argparse.Namespace) -> None:
    # Deferred: the search imports the training stack; `digit-lab --help` should not wait for it.
    from engine.datasets.noise import NoiseSpec
    from engine.diagnostics.label_issues import LabelIssuePlan, label_issues, stored_label_issues

    noise = NoiseSpec(args.plant_noise, args.seed) if args.plant_noise is not None else None
    plan = LabelIssuePlan(args.dataset, args.preset, args.folds, noise, args.epochs)
    if args.stored_only:
        stored = stored_label_issues(plan)
        if stored is None:
            print("null" if args.json else "No stored result for this plan: its folds or its result are not stored.")
            return
        _print_issues(stored, args)
        return
    bar = _ProgressBar(enabled=not args.json)
    result = label_issues(plan, progress=bar.batch("fold"))
    bar.close()
    _print_issues(result, args)


def _print_issues(result: LabelIssues, args: argparse.Namespace) -> None:
    if args.json:
        print(json.dumps(result.to_dict()))
        return
    print(
        f"{len(result.issues)} of {result.n_train} training labels look wrong "
        f"(out-of-fold accuracy {result.oof_accuracy:.4f})"
    )
    if result.noise_planted:
        print(
            f"{result.n_flipped} planted flips: precision {result.precision:.3f}, recall {result.recall:.3f}; "
            f"lowest self-confidence baseline: precision {result.baseline_precision:.3f}, "
            f"recall {result.baseline_recall:.3f}"
        )
    for issue in result.issues[: max(args.limit, 0)]:
        print(f"  #{issue.index}: given {issue.given}, suggested {issue.suggested}, self-confidence {issue.score:.3f}")

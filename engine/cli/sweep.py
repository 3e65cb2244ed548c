"""`digit-lab sweep`: search a preset's settings (grid, random or Optuna TPE), each trial's runs cached."""

from __future__ import annotations

import argparse
import json

from engine.architectures import DEFAULT_PRESET
from engine.cli.progress_bar import _ProgressBar
from engine.cli.requests import _executor, _executor_argument
from engine.datasets import load_dataset
from engine.datasets.registry import DEFAULT_DATASET
from engine.runs import preset_request
from engine.sweeps import SearchSpace, SweepRequest, compare_trials, default_space, run_sweep
from engine.sweeps.checks import space_text
from engine.sweeps.space import InvalidSweep
from engine.textfiles import load_json


def _add_sweep(commands: argparse._SubParsersAction) -> None:
    sweep = commands.add_parser("sweep", help="search a preset's settings (grid, random, Optuna TPE), trials cached")
    sweep.add_argument("--dataset", default=DEFAULT_DATASET)
    sweep.add_argument("--data-path", help="local folder or file with the dataset")
    sweep.add_argument("--preset", default=None, help="the base preset (digit-lab presets)")
    sweep.add_argument("--space", help="search space JSON file (default: learning rate, filters, dropout, batch size)")
    sweep.add_argument("--sampler", choices=["grid", "random", "tpe"], default="tpe")
    sweep.add_argument("--seed", type=int, default=0, help="the sampler's seed")
    sweep.add_argument("--trials", type=int, required=True)
    sweep.add_argument("--epochs", type=int, default=0, help="epochs per run (default: the preset's)")
    sweep.add_argument("--limit-train", type=int, default=0, help="train on a stratified subset of this many images")
    per_trial = sweep.add_mutually_exclusive_group()
    per_trial.add_argument("--folds", type=int, default=0, help="k-fold per trial: mean ± sd over folds")
    per_trial.add_argument("--seeds", type=int, default=0, help="K training seeds per trial: mean ± sd over seeds")
    sweep.add_argument("--metric", default="val_accuracy", help="val_accuracy (default) or val_loss; never test")
    sweep.add_argument("--prune", action="store_true", help="stop hopeless trials early (median pruner, local only)")
    sweep.add_argument(
        "--compare-trials", type=int, nargs=2, metavar=("A", "B"), help="paired comparison of two trials"
    )
    _executor_argument(sweep)
    sweep.add_argument("--json", action="store_true")
    sweep.set_defaults(handler=_sweep)


COMMANDS = {"sweep": _add_sweep}


def _sweep(args: argparse.Namespace) -> None:
    executor = _executor(args)
    dataset = load_dataset(args.dataset, local_path=args.data_path)
    preset = args.preset or DEFAULT_PRESET
    if args.space:
        try:
            space = SearchSpace.from_dict(load_json(space_text(args.space)))
        except json.JSONDecodeError as error:
            raise InvalidSweep(
                f"--space {args.space} is not valid JSON: {error.msg} at position {error.pos}."
            ) from None
    else:
        space = default_space(*preset_request(preset, dataset))
    request = SweepRequest(
        dataset=dataset.name,
        preset=preset,
        space=space,
        sampler=args.sampler,
        seed=args.seed,
        trials=args.trials,
        epochs=args.epochs,
        folds=args.folds,
        seeds=args.seeds,
        metric=args.metric,
        prune=args.prune,
        limit_train=args.limit_train,
    )
    bar = _ProgressBar(enabled=not args.json)
    result = run_sweep(request, dataset, progress=bar.batch("run"), executor=executor)
    bar.close()
    out = result.to_dict()
    if args.compare_trials:
        out["paired"] = compare_trials(result, *args.compare_trials).to_dict()
    if args.json:
        print(json.dumps(out))
        return
    print(result.title)
    for trial in out["trials"]:
        value = trial[result.metric]
        shown = (
            "—"
            if value is None
            else f"{value:.4f}" + (f" ± {trial[result.metric + '_sd']:.4f}" if len(trial["values"]) > 1 else "")
        )
        print(
            f"trial {trial['number']}: {trial['state']:<8} {result.metric} {shown}  {trial['params']}"
            + ("  (cached)" if trial["cached"] and trial["state"] == "complete" else "")
        )
    if out["best"]:
        print(f"best: trial {out['best']['number']}, run {out['best']['best_run_id']}")
    if args.compare_trials:
        print(compare_trials(result, *args.compare_trials).describe(result.metric))

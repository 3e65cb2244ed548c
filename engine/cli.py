"""The `digit-lab` command line (also `python -m engine`): datasets, presets, train, cv, study, sweep, compare, runs,
job, calibration, robustness, explain, embedding-map (alias feature-map), report, app.

`digit-lab app` starts the dashboard (streamlit on the installed `dashboard/Home.py`). With `--json` every
other command prints one JSON value on stdout; without it, readable text, and a progress bar on stderr when
that is a terminal. Errors print one line on stderr and exit non-zero (2 for bad input, 1 for an
unexpected failure; set DIGIT_LAB_DEBUG=1 to see the traceback).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from engine import jobs
from engine.architectures import DEFAULT_PRESET, PRESETS, ModelSpec
from engine.crossval import cross_validate
from engine.datasets import dataset_status, list_datasets, load_dataset
from engine.datasets.registry import DEFAULT_DATASET
from engine.errors import DigitLabError, InvalidConfig, RunNotFound
from engine.executors import get_executor
from engine.jobs.driver import run_job
from engine.memory_estimate import estimate_training
from engine.probes.calibration import run_calibration
from engine.probes.explain import ExplainSettings, explain_run
from engine.reports import preset_study_subject, run_subject, sweep_subject
from engine.reports.writer import write_report
from engine.runs import get_or_train, preset_request, spec_summary
from engine.store import RunStore, is_run_id
from engine.sweeps import SearchSpace, SweepRequest, compare_trials, default_space, run_sweep
from engine.sweeps.checks import space_text
from engine.sweeps.space import InvalidSweep
from engine.textfiles import spec_text
from engine.training.config import TrainConfig, settings
from engine.training.data import transformed_dataset
from engine.training.tf_session import one_training_process
from engine.training_queue import training_queue
from engine.validation import validate_request


def main(argv: list[str] | None = None, prog: str = "digit-lab") -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["app"]:
        # Everything after `app` belongs to streamlit (`--server.port 8502`), which argparse would try to parse.
        return _app(argv[1:])
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

    datasets = commands.add_parser("datasets", help="list datasets and whether each can be loaded here")
    datasets.add_argument("--json", action="store_true")
    datasets.set_defaults(handler=_datasets)

    presets = commands.add_parser("presets", help="list model presets with parameter counts")
    presets.add_argument("--json", action="store_true")
    presets.set_defaults(handler=_presets)

    train = commands.add_parser("train", help="train a preset on a dataset (or answer from the store)")
    _training_arguments(train)
    train.set_defaults(handler=_train)

    memory = commands.add_parser("memory", help="a training's memory estimate against this machine's budget")
    _training_arguments(memory)
    memory.set_defaults(handler=_memory)

    cv = commands.add_parser("cv", help="stratified k-fold cross-validation, each fold a cached run")
    _training_arguments(cv)
    cv.add_argument("--folds", type=int, default=5)
    _executor_argument(cv)
    cv.set_defaults(handler=_cv)

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

    study = commands.add_parser("study", help="train and compare a named study (seed003: ten MNIST models)")
    study.add_argument("name")
    study.add_argument("--dataset", default="mnist")
    study.add_argument("--data-path", help="local folder or file with the dataset")
    study.add_argument("--epochs", type=int)
    study.add_argument("--limit-train", type=int)
    study.add_argument("--seed", type=int)
    _executor_argument(study)
    study.add_argument("--json", action="store_true")
    study.set_defaults(handler=_preset_study)

    compare = commands.add_parser("compare", help="compare stored runs")
    compare.add_argument("run_ids", nargs="+")
    compare.add_argument("--json", action="store_true")
    compare.set_defaults(handler=_compare)

    runs = commands.add_parser("runs", help="list stored runs; `runs delete RUN_ID` removes one")
    runs.add_argument("action", nargs="?", choices=["list", "delete", "size"], default="list")
    runs.add_argument("run_id", nargs="?")
    runs.add_argument("--json", action="store_true")
    runs.set_defaults(handler=_runs)

    job = commands.add_parser("job", help="a batch of runs in its own driver process: run, status, resume, cancel")
    job.add_argument("action", choices=["run", "status", "resume", "cancel"])
    job.add_argument("job_id")
    job.add_argument("--json", action="store_true")
    job.set_defaults(handler=_job)

    calibration = commands.add_parser("calibration", help="reliability bins, ECE and temperature scaling of a run")
    calibration.add_argument("run_id")
    calibration.add_argument("--bins", type=int, default=10, help="equal-width bins of top-label confidence")
    calibration.add_argument("--json", action="store_true")
    calibration.set_defaults(handler=_calibration)

    robustness = commands.add_parser("robustness", help="test accuracy of a run under a growing perturbation")
    robustness.add_argument("run_id")
    robustness.add_argument(
        "--perturbation", required=True, choices=["rotation", "shift", "noise", "blur", "thickness", "contrast"]
    )
    robustness.add_argument("--levels", type=float, nargs="+", help="severities (default: six from 0)")
    robustness.add_argument("--json", action="store_true")
    robustness.set_defaults(handler=_robustness)

    explain = commands.add_parser("explain", help="heatmaps of why a run's model answers as it does on an image")
    explain.add_argument("run_id")
    methods = ["gradcam", "saliency", "integrated-gradients", "occlusion"]
    explain.add_argument("--method", required=True, choices=methods)
    source = explain.add_mutually_exclusive_group(required=True)
    source.add_argument("--image", help=".npy file: one raw H x W image or N x H x W, in the dataset's value range")
    source.add_argument("--index", type=int, help="position in the run's test set")
    explain.add_argument("--target", type=int, help="class to explain (default: each image's predicted class)")
    explain.add_argument("--layer", help="Grad-CAM's convolution layer (default: the last)")
    explain.add_argument("--smooth-samples", type=int, default=0, help="saliency: SmoothGrad over N noisy copies")
    explain.add_argument("--patch", type=int, default=2, help="occlusion: patch side in pixels")
    explain.add_argument("--json", action="store_true")
    explain.set_defaults(handler=_explain)

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
    # "feature-map" was the verb before the embedding map was named apart from a layer's activations; scripts keep it.
    embedding_map = commands.add_parser(
        "embedding-map", aliases=["feature-map"], help="a run's test images in 2-D: learned features or pixels"
    )
    embedding_map.add_argument("run_id")
    embedding_map.add_argument("--method", choices=["pca", "tsne"], default="pca")
    embedding_map.add_argument("--limit", type=int, help="images (stratified); default: all for PCA, 1000 for t-SNE")
    embedding_map.add_argument("--space", choices=["features", "pixels"], default="features")
    embedding_map.add_argument("--json", action="store_true")
    embedding_map.set_defaults(handler=_embedding_map)

    # Only for the help text: `main` hands `app` and its arguments to streamlit before argparse sees them.
    commands.add_parser("app", help="start the dashboard: streamlit run dashboard/Home.py [streamlit options]")
    return parser


def dashboard_entry_point() -> Path:
    """The installed `dashboard/Home.py` (found without importing the dashboard, which imports streamlit)."""
    found = importlib.util.find_spec("dashboard")
    if found is None or not found.submodule_search_locations:
        raise DigitLabError("The dashboard package is not installed beside the engine; reinstall digit-lab.")
    return Path(next(iter(found.submodule_search_locations))) / "Home.py"


def _app(streamlit_args: list[str]) -> int:
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


def _executor_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--executor",
        choices=["local", "ray"],
        default=None,
        help="where the runs train: local (default, one after another here) or ray (a Ray cluster "
        "from RAY_ADDRESS, else a local Ray instance); default $DIGIT_LAB_EXECUTOR or local",
    )


def _executor(args):
    return get_executor(args.executor)


def _training_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", default=DEFAULT_DATASET)
    parser.add_argument("--data-path", help="local folder or file with the dataset (IDX files or mnist.npz)")
    parser.add_argument("--preset", default=None, help="preset name (digit-lab presets)")
    parser.add_argument("--spec", help="a model spec as a JSON file path or JSON text, instead of a preset")
    parser.add_argument("--lr", type=float, help="learning rate")
    config_arguments(parser)
    parser.add_argument("--json", action="store_true")


_FLAG_TYPES = {"int": int, "float": float, int: int, float: float}


def config_arguments(parser: argparse.ArgumentParser, config_type: type | None = None) -> None:
    """One flag per setting of `config_type` (default TrainConfig) that has one, from the field's `SettingInfo`.

    Every default is None, so a flag not given leaves the preset's (or TrainConfig's) value in place."""
    from dataclasses import fields

    kinds = {f.name: f.type for f in fields(config_type or TrainConfig)}
    for name, info in settings(config_type).items():
        if info.flag is None:
            continue
        options: dict = {"dest": name, "help": info.help}
        if kinds[name] in ("bool", bool):
            options.update(action="store_true", default=None)
        elif kinds[name] in _FLAG_TYPES:
            options["type"] = _FLAG_TYPES[kinds[name]]
        if info.choices:
            options["choices"] = list(info.choices)
        parser.add_argument(info.flag, **options)


def config_flag_names(config_type: type | None = None) -> tuple[str, ...]:
    """The settings `config_arguments` gives a flag (their argparse dest is the setting's name)."""
    return tuple(name for name, info in settings(config_type).items() if info.flag is not None)


def _request(args):
    """(dataset, spec, config, preset name) from the training arguments, validated before anything runs."""
    dataset, spec, config, preset = _unchecked_request(args)
    # k-fold replaces the validation split by folds: a bad split must be refused here, before it is dropped.
    validate_request(spec, config, n_train=len(dataset.x_train), num_classes=spec.num_classes)
    return dataset, spec, config, preset


def _unchecked_request(args):
    dataset = load_dataset(args.dataset, local_path=args.data_path)
    changes = {name: getattr(args, name) for name in config_flag_names()}
    if args.spec:
        spec = ModelSpec.from_json(spec_text(args.spec))
        config = TrainConfig().replace(**{k: v for k, v in changes.items() if v is not None})
        classes = transformed_dataset(dataset, config.replace(limit_train=0)).num_classes
        spec = spec.for_data(dataset.image_shape, classes)
        if args.lr is not None:
            spec = spec.with_learning_rate(args.lr)
        return dataset, spec, config, ""
    preset = args.preset or DEFAULT_PRESET
    spec, config = preset_request(preset, dataset, learning_rate=args.lr, **changes)
    return dataset, spec, config, preset


def _datasets(args) -> None:
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


def _presets(args) -> None:
    rows = [preset.summary() for preset in PRESETS.values()]
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    for row in rows:
        shape = "x".join(str(d) for d in row["input_shape"][:2])
        print(f"{row['name']:<20} {shape:>5}  {row['total_parameters']:>9,} params  {row['title']}")


def _train(args) -> None:
    one_training_process()  # the process ends after this run: nothing to release for a next one

    dataset, spec, config, preset = _request(args)
    bar = _ProgressBar(enabled=not args.json)
    result = get_or_train(dataset, spec, config, progress=bar.epoch, preset=preset)
    bar.close()
    out = _run_json(result.run, result.cached, result.seconds)
    if not result.stored:
        out["stored"], out["store_problem"] = False, result.store_problem
    if args.json:
        print(json.dumps(out))
    else:
        for warning in out["warnings"]:
            print(f"warning: {warning}", file=sys.stderr)
        if not result.stored:
            print(f"warning: not stored: {result.store_problem}", file=sys.stderr)
        source = "from the store" if result.cached else f"trained in {out['train_seconds']:.1f} s"
        print(
            f"run {out['run_id']} ({source}): test accuracy {out['test_accuracy']:.4f}, macro F1 {out['macro_f1']:.4f}"
        )


def _memory(args) -> None:
    dataset, spec, config, _preset = _request(args)
    queue = training_queue()
    admission = queue.admission(estimate_training(spec, config, len(dataset.x_train), len(dataset.x_test)))
    out = {
        "estimate_mb": admission.need.total_mb,
        "runtime_mb": admission.need.runtime_mb,
        "training_mb": admission.need.training_mb,
        "adds_mb": admission.adds_mb,
        "budget_mb": admission.budget_mb,
        "in_use_mb": admission.in_use_mb,
        "trainings_running": admission.running,
        "max_trainings": admission.max_trainings,
        "fits_alone": admission.fits_alone,
        "fits_now": admission.fits_now,
        "ledger": str(queue.folder) if queue.folder else None,
        "notice": queue.notice,
    }
    if args.json:
        print(json.dumps(out))
        return
    budget = f"{admission.budget_mb:,.0f} MB" if admission.budget_mb else "no memory budget (DIGIT_LAB_MEMORY_MB)"
    print(
        f"estimate {admission.need.total_mb:,.0f} MB (runtime {admission.need.runtime_mb:,.0f} + training "
        f"{admission.need.training_mb:,.0f}); would add {admission.adds_mb:,.0f} MB now; budget {budget}; in use "
        f"{admission.in_use_mb:,.0f} MB by {admission.running} training(s); "
        + ("fits now" if admission.fits_now else "would wait" if admission.fits_alone else "refused: over the budget")
    )


def _run_json(run, cached: bool, seconds: float) -> dict:
    meta = run.meta
    return {
        "run_id": run.run_id,
        "cached": cached,
        "dataset": meta["dataset"]["name"],
        "preset": meta.get("preset", ""),
        "test_accuracy": meta["metrics"]["test_accuracy"],
        "macro_f1": meta["metrics"]["macro_f1"],
        "test_loss": meta["metrics"]["test_loss"],
        "train_seconds": meta["train_seconds"],
        "engine_seconds": round(seconds, 4),
        "epochs": meta["epochs_run"],
        "parameters": meta["parameters"]["total"],
        "warnings": list(meta.get("warnings", [])),
    }


def _cv(args) -> None:
    executor = _executor(args)
    dataset, spec, config, preset = _request(args)
    bar = _ProgressBar(enabled=not args.json)
    started = time.perf_counter()
    result = cross_validate(
        dataset, spec, config, k=args.folds, progress=bar.batch("fold"), preset=preset, executor=executor
    )
    bar.close()
    summary = result.summary()
    summary["engine_seconds"] = round(time.perf_counter() - started, 4)
    if args.json:
        print(json.dumps(summary))
        return
    for fold in summary["folds"]:
        print(
            f"fold {fold['fold']}: val loss {fold['val_loss']:.4f}  val acc {fold['val_accuracy']:.4f}  "
            f"test acc {fold['test_accuracy']:.4f}" + ("  (cached)" if fold["cached"] else "")
        )
    print(
        f"mean val accuracy {summary['mean_val_accuracy']:.4f} ± {summary['std_val_accuracy']:.4f}; "
        f"mean test accuracy {summary['mean_test_accuracy']:.4f} ± {summary['std_test_accuracy']:.4f}"
    )


def _sweep(args) -> None:
    executor = _executor(args)
    dataset = load_dataset(args.dataset, local_path=args.data_path)
    preset = args.preset or DEFAULT_PRESET
    if args.space:
        try:
            space = SearchSpace.from_dict(json.loads(space_text(args.space)))
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


def _preset_study(args) -> None:
    # Deferred: engine.compare loads pandas, which only the verbs that tabulate runs need.
    from engine.compare import comparison_table, run_preset_study

    executor = _executor(args)
    dataset = load_dataset(args.dataset, local_path=args.data_path)
    bar = _ProgressBar(enabled=not args.json)
    started = time.perf_counter()
    results = run_preset_study(
        args.name,
        dataset,
        progress=bar.batch("model"),
        executor=executor,
        epochs=args.epochs,
        limit_train=args.limit_train,
        seed=args.seed,
    )
    bar.close()
    table = comparison_table([r.run for r in results])
    table["cached"] = [r.cached for r in results]
    if args.json:
        print(
            json.dumps(
                {
                    "study": args.name,
                    "engine_seconds": round(time.perf_counter() - started, 4),
                    "runs": json.loads(table.to_json(orient="records")),
                }
            )
        )
    else:
        print(
            table[
                ["preset", "parameters", "epochs", "batch_size", "learning_rate", "test_accuracy", "macro_f1", "cached"]
            ].to_string(index=False)
        )


def _job(args) -> int:
    """`job run` is the driver itself (started by `engine.jobs.start_job`); the others read or steer a job."""
    from dataclasses import asdict

    if args.action == "run":
        status = run_job(args.job_id)
    elif args.action == "resume":
        jobs.resume_job(args.job_id)
        status = jobs.job_status(args.job_id)
    elif args.action == "cancel":
        jobs.cancel_job(args.job_id)
        status = jobs.job_status(args.job_id)
    else:
        status = jobs.job_status(args.job_id)
    if args.json:
        print(json.dumps({**asdict(status), "total": status.total}))
    else:
        print(f"job {args.job_id}: {status.state}, {status.stored} of {status.total} stored. {status.message}".strip())
    return 0 if status.state in ("done", "starting", "running") else 1


def _compare(args) -> None:
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
        print(table.drop(columns=["label", "created"]).to_string(index=False))


def _report(args) -> None:
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
        print(f"wrote {written.path} ({written.bytes:,} bytes): {', '.join(written.holds)}")


def _stored_run(run_id: str):
    run = RunStore().get(run_id) if is_run_id(run_id) else None
    if run is None:
        raise RunNotFound(f"No stored run {run_id[:40]!r}. List them with `digit-lab runs`.")
    return run


def _calibration(args) -> None:
    result = run_calibration(_stored_run(args.run_id), args.bins)
    if args.json:
        print(json.dumps(result.to_dict()))
        return
    print(f"ECE ({args.bins} bins): {result.ece:.4f}")
    if result.temperature is None:
        print(result.note)
    else:
        print(f"temperature {result.temperature:.3f} (fitted on validation): ECE after {result.ece_after:.4f}")


def _robustness(args) -> None:
    # Deferred: the robustness curve scores with engine.evaluation, which loads pandas.
    from engine.probes.robustness import robustness_curve

    curve = robustness_curve(_stored_run(args.run_id), args.perturbation, args.levels)
    if args.json:
        print(json.dumps(curve.to_dict()))
        return
    print(f"{curve.perturbation} ({curve.unit})")
    for level, accuracy in zip(curve.levels, curve.accuracy, strict=True):
        print(f"  {level:>8g}  {accuracy:.2%}")


def _explain(args) -> None:
    settings = ExplainSettings(args.method, layer=args.layer, smooth_samples=args.smooth_samples, patch=args.patch)
    result = explain_run(
        _stored_run(args.run_id), settings, index=args.index, image_file=args.image, target=args.target
    )
    if args.json:
        print(json.dumps(result.to_dict()))
        return
    for number, (target, predicted, heatmap) in enumerate(
        zip(result.targets, result.predicted, result.heatmaps, strict=True)
    ):
        print(f"image {number}: predicted {predicted}, explaining class {target} ({result.method})")
        peak = heatmap.max() or 1.0
        for row in heatmap:
            print("  " + "".join(" .:-=+*#%@"[int(max(v, 0) / peak * 9)] for v in row))


def _embedding_map(args) -> None:
    # Deferred: the map projects with engine.exploration, which loads pandas.
    from engine.probes.embedding_map import embedding_map

    result = embedding_map(_stored_run(args.run_id), args.method, args.limit, args.space)
    if args.json:
        print(json.dumps(result.to_dict()))
        return
    print(result.note)
    if result.explained_variance:
        print(f"variance on the two axes: {result.explained_variance[0]:.1%}, {result.explained_variance[1]:.1%}")
    print(f"{int(result.mistakes.sum())} of {len(result.indices)} mapped images are mistakes")


def _runs(args) -> None:
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
    rows = []
    for run in scan.runs:
        meta = run.meta
        rows.append(
            {
                "run_id": run.run_id,
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
        print(
            f"{row['run_id']}  {row['dataset']:<14} {row['preset'] or 'custom':<18} "
            f"acc {row['test_accuracy']:.4f}  {row['created']}"
        )


class _ProgressBar:
    """A one-line text bar on stderr, drawn only when stderr is a terminal."""

    def __init__(self, enabled: bool):
        self.enabled = enabled and sys.stderr.isatty()
        self.label = "training"

    def epoch(self, event) -> None:
        if not self.enabled or event.stage == "start":
            return None
        width = 30
        filled = int(width * event.fraction_done)
        extra = ""
        if event.stage == "epoch":
            m = event.metrics
            extra = f" loss {m.get('loss', float('nan')):.4f} acc {m.get('accuracy', float('nan')):.4f}"
            if "val_accuracy" in m:
                extra += f" val_acc {m['val_accuracy']:.4f}"
        sys.stderr.write(
            f"\r{self.label} [{'#' * filled}{'.' * (width - filled)}] "
            f"epoch {event.epoch}/{event.epochs} {event.elapsed:.0f}s{extra}   "
        )
        sys.stderr.flush()
        return None

    def batch(self, noun: str):
        """A `BatchProgress` callback for k-folds, preset studies and sweeps: each run that starts names the bar
        ("fold 2/5", "seed003-m4 (4/10)"), and its epochs fill it."""

        def progress(update) -> None:
            if update.status == "start":
                where = f"{update.index}/{update.total}"
                self.label = f"{update.label} ({where})" if update.label else f"{noun} {where}"
            elif update.event is not None:
                self.epoch(update.event)

        return progress

    def close(self) -> None:
        if self.enabled:
            sys.stderr.write("\n")

"""The verbs that train: `train`, `memory` (a training's estimate against the memory budget), `cv` (k-fold),
`study` (a named set of presets) and `job` (a batch of runs in its own driver process)."""

from __future__ import annotations

import argparse
import json
import sys
import time

from engine import jobs
from engine.architectures.flops import describe_flops, run_training_flops
from engine.cli.progress_bar import _ProgressBar
from engine.cli.requests import _executor, _executor_argument, _request, _training_arguments
from engine.crossval import cross_validate
from engine.datasets import load_dataset
from engine.executors import RunTask, check_executor_allowed, configured_executor
from engine.jobs.driver import run_job
from engine.jobs.single import train_in_job
from engine.memory_estimate import estimate_training
from engine.runs import get_or_train, has_dynamics
from engine.store import StoredRun
from engine.training.tf_session import one_training_process
from engine.training_queue import training_queue


def _add_train(commands: argparse._SubParsersAction) -> None:
    train = commands.add_parser("train", help="train a preset on a dataset (or answer from the store)")
    _training_arguments(train)
    _executor_argument(train)
    train.add_argument(
        "--record-dynamics",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="keep each training image's probability of its label after every epoch (`dynamics`); default: on "
        "up to 10,000 training images. Not part of the run key: a stored run is answered as it is",
    )
    train.set_defaults(handler=_train)


def _add_memory(commands: argparse._SubParsersAction) -> None:
    memory = commands.add_parser("memory", help="a training's memory estimate against this machine's budget")
    _training_arguments(memory)
    memory.set_defaults(handler=_memory)


def _add_cv(commands: argparse._SubParsersAction) -> None:
    cv = commands.add_parser("cv", help="stratified k-fold cross-validation, each fold a cached run")
    _training_arguments(cv)
    cv.add_argument("--folds", type=int, default=5)
    _executor_argument(cv)
    cv.set_defaults(handler=_cv)


def _add_study(commands: argparse._SubParsersAction) -> None:
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


def _add_job(commands: argparse._SubParsersAction) -> None:
    job = commands.add_parser("job", help="a batch of runs in its own driver process: run, status, resume, cancel")
    job.add_argument("action", choices=["run", "status", "resume", "cancel"])
    job.add_argument("job_id")
    job.add_argument("--json", action="store_true")
    job.set_defaults(handler=_job)


COMMANDS = {"train": _add_train, "memory": _add_memory, "cv": _add_cv, "study": _add_study, "job": _add_job}


def _train(args: argparse.Namespace) -> None:
    one_training_process()  # the process ends after this run: nothing to release for a next one

    # Checked before the request: a bad DIGIT_LAB_EXECUTOR is said at once, whatever the request.
    executor = args.executor or configured_executor()
    check_executor_allowed(executor)
    dataset, spec, config, preset = _request(args)
    bar = _ProgressBar(enabled=not args.json)
    if executor == "ray":
        # A job driver process of its own connects to Ray (RAY_ADDRESS's cluster, else a local instance); this
        # process follows it and reads the run from the store.
        if args.record_dynamics is not None:
            print(
                "note: --record-dynamics/--no-record-dynamics is not carried to a Ray job; its default applies "
                "(recorded up to 10,000 training images)",
                file=sys.stderr,
            )
        task = RunTask.for_request(dataset, spec, config, preset=preset, label="training")
        result = train_in_job(task, progress=bar.epoch, executor="ray")
    else:
        result = get_or_train(
            dataset, spec, config, progress=bar.epoch, preset=preset, record_dynamics=args.record_dynamics
        )
    bar.close()
    out = _run_json(result.run, result.cached, result.seconds)
    if not result.stored:
        out["stored"], out["store_problem"] = False, result.store_problem
    out["training_dynamics"] = has_dynamics(result.run)
    out["notes"] = list(result.notes)
    if args.json:
        print(json.dumps(out))
    else:
        for warning in out["warnings"]:
            print(f"warning: {warning}", file=sys.stderr)
        if not result.stored:
            print(f"warning: not stored: {result.store_problem}", file=sys.stderr)
        for note in result.notes:
            print(f"note: {note}", file=sys.stderr)
        source = "from the store" if result.cached else f"trained in {out['train_seconds']:.1f} s"
        if out["train_flops"] is not None:
            source += f", {describe_flops(out['train_flops'])}"
        print(
            f"run {out['run_id']} ({source}): test accuracy {out['test_accuracy']:.4f}, macro F1 {out['macro_f1']:.4f}"
        )


def _memory(args: argparse.Namespace) -> None:
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


def _run_json(run: StoredRun, cached: bool, seconds: float) -> dict:
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
        # FLOPs of the training (engine/architectures/flops.py's conventions); null for a run stored without counts
        "train_flops": run_training_flops(meta),
        "warnings": list(meta.get("warnings", [])),
    }


def _cv(args: argparse.Namespace) -> None:
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


def _preset_study(args: argparse.Namespace) -> None:
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


def _job(args: argparse.Namespace) -> int:
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

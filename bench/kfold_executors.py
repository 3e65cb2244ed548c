"""k-fold wall time with the local executor, a 2-process pool, and the Ray executor, on this machine.

    python -m bench.kfold_executors                       # digits, digitlab-small8, k=5, 5 epochs
    python -m bench.kfold_executors --epochs 3 --folds 5 --no-pool

Every variant trains the same k folds into its own empty cache, so none is answered from the store. Ray's
start-up (a local instance) is timed separately from the k-fold itself; the workers' TensorFlow import is part of
the k-fold time, as it would be on a fresh cluster. The table ends with each variant's ratio to the local time.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _request(args):
    from engine.datasets import load_dataset
    from engine.runs import preset_request

    dataset = load_dataset(args.dataset)
    spec, config = preset_request(args.preset, dataset, epochs=args.epochs)
    return dataset, spec, config


def _fold_in_subprocess(dataset_name, spec_dict, config_dict, preset, cache):
    os.environ["DIGIT_LAB_CACHE"] = cache
    from engine.architectures.spec import ModelSpec
    from engine.datasets import load_dataset
    from engine.runs import get_or_train
    from engine.training.config import TrainConfig

    spec, config = ModelSpec.from_dict(spec_dict), TrainConfig.from_dict(config_dict)
    result = get_or_train(load_dataset(dataset_name), spec, config, preset=preset)
    return result.run.meta["metrics"]["test_accuracy"], result.run.meta["train_seconds"]


def run_local(args) -> dict:
    from engine.crossval import cross_validate
    from engine.store import RunStore

    dataset, spec, config = _request(args)
    store = RunStore(Path(tempfile.mkdtemp(prefix="bench-local-")) / "runs")
    started = time.perf_counter()
    cv = cross_validate(dataset, spec, config, k=args.folds, store=store, preset=args.preset)
    wall = time.perf_counter() - started
    return {
        "variant": "local (sequential, in-process)",
        "startup": 0.0,
        "wall": wall,
        "fold_train_s": sum(f.run.meta["train_seconds"] for f in cv.folds) / cv.k,
        "mean_test_accuracy": cv.summary()["mean_test_accuracy"],
    }


def run_pool(args, workers: int = 2) -> dict:
    from engine.crossval import fold_configs

    dataset, spec, config = _request(args)
    cache = tempfile.mkdtemp(prefix="bench-pool-")
    started = time.perf_counter()
    with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
        futures = [
            pool.submit(_fold_in_subprocess, dataset.name, spec.to_dict(), c.to_dict(), args.preset, cache)
            for c in fold_configs(config, args.folds)
        ]
        results = [f.result() for f in futures]
    wall = time.perf_counter() - started
    return {
        "variant": f"process pool ({workers} processes)",
        "startup": 0.0,
        "wall": wall,
        "fold_train_s": sum(r[1] for r in results) / len(results),
        "mean_test_accuracy": sum(r[0] for r in results) / len(results),
    }


def run_ray(args) -> dict:
    from engine.crossval import cross_validate
    from engine.executors.ray_executor import RayExecutor
    from engine.store import RunStore

    dataset, spec, config = _request(args)
    executor = RayExecutor(num_cpus=args.ray_cpus)
    started = time.perf_counter()
    executor.connect()
    startup = time.perf_counter() - started
    store = RunStore(Path(tempfile.mkdtemp(prefix="bench-ray-")) / "runs")
    started = time.perf_counter()
    cv = cross_validate(dataset, spec, config, k=args.folds, store=store, preset=args.preset, executor=executor)
    wall = time.perf_counter() - started
    executor.shutdown()
    variant = f"ray (local instance, {args.ray_cpus or os.cpu_count()} CPUs)"
    return {
        "variant": variant,
        "startup": startup,
        "wall": wall,
        "fold_train_s": sum(f.run.meta["train_seconds"] for f in cv.folds) / cv.k,
        "mean_test_accuracy": cv.summary()["mean_test_accuracy"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--preset", default="digitlab-small8")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--ray-cpus", type=int, default=None, help="CPUs of the local Ray instance (default: all)")
    parser.add_argument("--no-pool", action="store_true", help="skip the process-pool variant")
    parser.add_argument("--no-ray", action="store_true", help="skip the Ray variant")
    args = parser.parse_args()

    rows = [run_local(args)]
    if not args.no_pool:
        rows.append(run_pool(args))
    if not args.no_ray:
        rows.append(run_ray(args))
    base = rows[0]["wall"]
    print(f"\n{args.folds}-fold CV, {args.dataset}, {args.preset}, {args.epochs} epochs, {os.cpu_count()} CPUs\n")
    print("| executor | start-up s | k-fold wall s | per-fold train s | wall / local | mean test acc |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for row in rows:
        print(
            f"| {row['variant']} | {row['startup']:.1f} | {row['wall']:.1f} | {row['fold_train_s']:.2f} | "
            f"{row['wall'] / base:.2f} | {row['mean_test_accuracy']:.4f} |"
        )


if __name__ == "__main__":
    main()

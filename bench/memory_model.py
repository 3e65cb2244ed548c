"""Peak memory of one training against dataset size and model: the evidence behind engine/memory_estimate.py.

Each point trains once through `engine.runs.get_or_train` (the path the dashboard and the CLI take: data
preparation, Keras fit, scoring, saving into a temporary store) in a **fresh process**, one point at a time.
The process loads its dataset first, then resets its peak-RSS counter (`echo 5 > /proc/self/clear_refs`),
so the peak (`VmHWM`) read after training minus the RSS before it is what the training added, TensorFlow's
import included. A non-negative least-squares fit of

    added MB = runtime + a x data MB + b x parameter MB + c x activation MB + d x evaluation MB

(sizes from `engine.memory_estimate.training_size`) gives the coefficients; the table shows each point's
measured figure, the fit, and the engine's estimate (the coefficients as written in the engine, with its safety
margin), which must not fall below any measured point.

    python -m bench.memory_model            # 15 trainings of 1 epoch, about 10 minutes on 2 cores
    python -m bench.memory_model --quick    # two digits points, no fit (a smoke run)
    python -m bench.memory_model --from bench/results/memory_model-DATE.txt   # refit earlier measurements

The fashion points import scikit-learn's model_selection during the training (about 165 MB; the digits loader has
imported it before the baseline is read), which a dashboard server has already loaded: the fit, and so the
engine's estimate, carries it for 28x28 data, on the safe side.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import bench._common  # noqa: F401  (quiets TensorFlow before it is imported)
from bench._common import ROOT, header, table, temp_cache, verdict

# (label, dataset, preset or custom spec name, limit_train, batch size or None for the preset's, epochs)
POINTS = [
    ("digits small8", "digits", "digitlab-small8", 0, None, 1),
    ("digits seed002", "digits", "seed002-uci8x8", 0, None, 1),
    ("fashion cnn3 2k", "fashion-mnist", "seed001-cnn3", 2_000, None, 1),
    ("fashion cnn3 10k", "fashion-mnist", "seed001-cnn3", 10_000, None, 1),
    ("fashion cnn3 20k", "fashion-mnist", "seed001-cnn3", 20_000, None, 1),
    ("fashion cnn3 60k", "fashion-mnist", "seed001-cnn3", 0, None, 1),
    ("fashion cnn3 20k b512", "fashion-mnist", "seed001-cnn3", 20_000, 512, 1),
    ("fashion fast28 2k", "fashion-mnist", "digitlab-fast28", 2_000, None, 1),
    ("fashion fast28 20k", "fashion-mnist", "digitlab-fast28", 20_000, None, 1),
    ("fashion fast28 20k 3 epochs", "fashion-mnist", "digitlab-fast28", 20_000, None, 3),
    ("fashion fast28 60k", "fashion-mnist", "digitlab-fast28", 0, None, 1),
    ("fashion seed003-m4 20k", "fashion-mnist", "seed003-m4", 20_000, None, 1),
    ("fashion wide 10k b64", "fashion-mnist", "wide", 10_000, 64, 1),
    ("fashion wide 10k b256", "fashion-mnist", "wide", 10_000, 256, 1),
    ("fashion wide 10k b512", "fashion-mnist", "wide", 10_000, 512, 1),
]
QUICK_POINTS = POINTS[:2]


def request(dataset, model: str, limit: int, batch: int | None, epochs: int):
    """(spec, config) for one point; "wide" is two 'same' conv blocks of 96 filters: large activations."""
    from engine.architectures import ConvBlock, DenseLayer, ModelSpec
    from engine.runs import preset_request
    from engine.training.config import TrainConfig

    if model == "wide":
        spec = ModelSpec(
            conv_blocks=(ConvBlock(96, padding="same"), ConvBlock(96, padding="same")),
            dense_layers=(DenseLayer(64),),
        ).for_data(dataset.image_shape, dataset.num_classes)
        config = TrainConfig(epochs=epochs, limit_train=limit, batch_size=batch or 64)
        return spec, config
    return preset_request(model, dataset, epochs=epochs, limit_train=limit or None, batch_size=batch)


def status_kib(field: str) -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def worker(point: list) -> None:
    """Train one point in this (fresh) process and print one JSON line with the sizes and the memory."""
    label, dataset_name, model, limit, batch, epochs = point
    from engine.datasets import load_dataset
    from engine.memory_estimate import training_size
    from engine.runs import get_or_train

    dataset = load_dataset(dataset_name)
    spec, config = request(dataset, model, limit, batch, epochs)
    size = training_size(spec, config, len(dataset.x_train), len(dataset.x_test))
    before = status_kib("VmRSS")
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")  # resets VmHWM to the current RSS: the dataset's own load peak is not the training's
    started = time.perf_counter()
    result = get_or_train(dataset, spec, config)
    print(
        json.dumps(
            {
                "label": label,
                "size": size.__dict__,
                "before_mb": before * 1024 / 1e6,
                "peak_mb": status_kib("VmHWM") * 1024 / 1e6,
                "seconds": time.perf_counter() - started,
                "cached": result.cached,
            }
        )
    )


def measure(point) -> dict:
    env = {**os.environ, "DIGIT_LAB_CACHE": temp_cache("digitlab-bench-memmodel-"), "PYTHONUNBUFFERED": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "bench.memory_model", "--worker", json.dumps(point)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"point {point[0]} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return json.loads(lines[-1])


def features(size) -> list[float]:
    return [1.0, size.data_mb, size.parameter_mb, size.activation_mb, size.eval_activation_mb]


def fit(measured: list[dict]) -> list[float]:
    """Non-negative least squares: [runtime MB, data, parameter, activation, evaluation factors]."""
    import numpy as np
    from scipy.optimize import nnls

    from engine.memory_estimate import TrainingSize

    rows = [features(TrainingSize(**point["size"])) for point in measured]
    added = [point["peak_mb"] - point["before_mb"] for point in measured]
    coefficients, _ = nnls(np.array(rows), np.array(added))
    return [float(c) for c in coefficients]


def from_output(path: str) -> list[dict]:
    """Measurements read back from an earlier run's table; the sizes are recomputed from the point definitions."""
    from engine.datasets import load_dataset
    from engine.memory_estimate import training_size

    by_label = {point[0]: point for point in POINTS}
    measured = []
    for line in Path(path).read_text().splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) < 11 or cells[0] not in by_label:
            continue
        _label, dataset_name, model, limit, batch, epochs = by_label[cells[0]]
        dataset = load_dataset(dataset_name)
        spec, config = request(dataset, model, limit, batch, epochs)
        size = training_size(spec, config, len(dataset.x_train), len(dataset.x_test))
        before, peak = (float(cells[i]) for i in (-6, -5)) if len(cells) == 12 else (float(cells[5]), float(cells[6]))
        measured.append(
            {
                "label": cells[0],
                "size": size.__dict__,
                "before_mb": before,
                "peak_mb": peak,
                "seconds": float(cells[-1]),
            }
        )
    return measured


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="two digits points, no fit")
    parser.add_argument("--from", dest="source", help="refit the measurements in an earlier run's output")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(json.loads(args.worker))
        return 0
    header("Memory of one training: peak RSS of a fresh process against data and model size", args.quick)
    from engine import memory_estimate as engine_formula
    from engine.memory_estimate import TrainingSize

    measured = from_output(args.source) if args.source else []
    if args.source:
        print(f"Measurements from {args.source} (sizes recomputed; nothing trained now)")
    for point in [] if args.source else QUICK_POINTS if args.quick else POINTS:
        measured.append(measure(point))
        print(
            f"measured {measured[-1]['label']}: {measured[-1]['peak_mb'] - measured[-1]['before_mb']:.0f} MB",
            flush=True,
        )
    coefficients = fit(measured) if len(measured) >= 6 else None
    rows, worst_fit, worst_engine = [], 0.0, float("inf")
    for point in measured:
        size = TrainingSize(**point["size"])
        added = point["peak_mb"] - point["before_mb"]
        engine = engine_formula.estimate(size).total_mb
        worst_engine = min(worst_engine, (engine - added) / added)
        fitted = "—"
        if coefficients:
            value = sum(c * x for c, x in zip(coefficients, features(size), strict=True))
            worst_fit = max(worst_fit, (added - value) / added)  # worst under-estimate of the plain fit
            fitted = f"{value:.0f} ({(value - added) / added:+.0%})"
        rows.append(
            [
                point["label"],
                f"{size.train_images:,}",
                f"{size.data_mb:.1f}",
                f"{size.parameters:,}",
                f"{size.activation_mb:.1f}",
                f"{size.eval_activation_mb:.1f}",
                f"{point['before_mb']:.0f}",
                f"{point['peak_mb']:.0f}",
                f"{added:.0f}",
                fitted,
                f"{engine:.0f} ({(engine - added) / added:+.0%})",
                f"{point['seconds']:.0f}",
            ]
        )
    print()
    print(
        table(
            [
                "point",
                "train images",
                "data MB",
                "parameters",
                "activation MB (batch)",
                "evaluation MB",
                "RSS before MB",
                "peak MB",
                "added MB",
                "fit MB (error)",
                "engine estimate MB (margin)",
                "train s",
            ],
            rows,
        )
    )
    print()
    if coefficients:
        runtime, data, parameters, activations, evaluation = coefficients
        print(
            f"fit: added MB = {runtime:.0f} + {data:.2f} x data MB + {parameters:.2f} x parameter MB + "
            f"{activations:.2f} x activation MB + {evaluation:.2f} x evaluation MB; worst under-estimate of the "
            f"fit {worst_fit:.0%}"
        )
    print(
        f"engine: {engine_formula.RUNTIME_MB:.0f} + {engine_formula.DATA_FACTOR} x data + "
        f"{engine_formula.PARAMETER_FACTOR} x parameters + {engine_formula.ACTIVATION_FACTOR} x activations + "
        f"{engine_formula.EVAL_FACTOR} x evaluation, "
        f"x (1 + {engine_formula.SAFETY_MARGIN})"
    )
    print(
        f"- the engine's estimate is at or above every measured point: closest {worst_engine:+.0%}: "
        f"{verdict(worst_engine >= 0)}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

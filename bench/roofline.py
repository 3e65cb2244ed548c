"""A roofline of every preset: how close each one's training runs to what this CPU can do, and what it costs in
FLOPs to reach 0.90 on Fashion-MNIST.

The machine's peak is measured in the same run, by TensorFlow itself, with the threads the engine trains with:

* matmul — a large matrix product (2 n³ FLOPs), the best of several timed calls: the ceiling for the Conv2D and
  Dense layers, which TensorFlow lowers to the same kind of kernel;
* conv — a 3x3 Conv2D forward over a batch of 28x28x32 feature maps to 64 channels (the shape of the 28x28
  presets' middle layers): what a convolution gets on this CPU, usually below the matmul.

Both in float32 and, on a CPU where presets train in bfloat16 (`engine.training.precision`), in bfloat16 too: a
preset's utilisation is against the peak of the precision it trained in.

Then, per preset, its training FLOPs per image from the layer shapes (`engine.architectures.flops`, checked by hand
for seed 001's CNN and against TensorFlow's profiler in tests/architectures/test_flops.py), and a real training by
the engine on Fashion-MNIST (28x28 presets) or the bundled digits (8x8 presets): an epoch's FLOPs (training images
forward and backward, optimizer steps, validation pass) over its wall time gives the achieved FLOP/s (median of
epochs 2 on, because epoch 1 also traces the graphs), and that over the measured peak the utilisation. For the
28x28 presets the test set is scored after every epoch (off the clock, as in bench/time_to_accuracy.py) and the
FLOPs to the first epoch at 0.90 are reported. Where utilisation is low, the time goes to work a FLOP count leaves out
(normalisation, pooling, casts, the optimizer's element-wise pass); where it is high, only fewer FLOPs help.

    python -m bench.roofline            # 3 seeds, full Fashion-MNIST, up to 4 epochs a preset: ~30 min on 2 cores
    python -m bench.roofline --quick    # a smoke run on a few thousand images, about a minute
    python -m bench.roofline --presets digitlab-sprint28-v2 seed001-cnn3 --seeds 1
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import bench._common  # noqa: F401  (quiets TensorFlow before it is imported)
from bench._common import fmt, header, table
from bench.time_to_accuracy import _test_scorer

THRESHOLD = 0.90
DEFAULT_PRESETS = (
    "seed001-cnn3",
    "seed000-bn3",
    "digitlab-fast28",
    "digitlab-fast28-v2",
    "digitlab-sprint28-v2",
    "digitlab-small8-v2",
)


def _best_rate(step, flops: float, repeats: int) -> float:
    """FLOP/s of the fastest of `repeats` timed calls of `step` (after one untimed call that builds the graph)."""
    step()
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        step()
        best = min(best, time.perf_counter() - started)
    return flops / best


def measure_peaks(quick: bool, precision: str = "float32") -> dict[str, float]:
    """The machine's FLOP/s in `precision` (float32, or mixed_bfloat16: bfloat16 operands, as the engine's hidden
    layers compute on CPUs with native bfloat16): a large matmul and a 3x3 convolution, by TensorFlow, here."""
    import tensorflow as tf

    dtype = tf.bfloat16 if precision == "mixed_bfloat16" else tf.float32
    n = 512 if quick else 2048
    a = tf.random.uniform((n, n), dtype=tf.float32)
    b = tf.random.uniform((n, n), dtype=tf.float32)
    a, b = tf.cast(a, dtype), tf.cast(b, dtype)
    matmul = tf.function(lambda: tf.reduce_sum(tf.linalg.matmul(a, b)))  # the sum forces the product, costs n²
    batch, size, c_in, c_out = (32 if quick else 256), 28, 32, 64
    images = tf.cast(tf.random.uniform((batch, size, size, c_in), dtype=tf.float32), dtype)
    kernel = tf.cast(tf.random.uniform((3, 3, c_in, c_out), dtype=tf.float32), dtype)
    conv = tf.function(lambda: tf.reduce_sum(tf.nn.conv2d(images, kernel, strides=1, padding="SAME")))
    repeats = 3 if quick else 10
    return {
        "matmul": _best_rate(lambda: matmul().numpy(), 2 * n**3, repeats),
        "conv": _best_rate(lambda: conv().numpy(), 2 * 9 * c_in * c_out * size * size * batch, repeats),
    }


def precisions_in_use(preset_names: list[str]) -> list[str]:
    """The precisions the presets train in here (`choose_precision`: bfloat16 only on CPUs with native kernels and
    for models big enough), float32 first: each preset's utilisation is against the peak of its own precision."""
    from engine.architectures import PRESETS
    from engine.training.precision import choose_precision

    used = {choose_precision(PRESETS[name].spec) for name in preset_names}
    return sorted(used | {"float32"}, key=lambda name: name != "float32")


def train_preset(dataset, preset_name: str, epochs: int, seed: int, limit: int, scorer) -> dict:
    """One engine training of `preset_name`; per-epoch wall times and, when `scorer` is given, test accuracies."""
    from engine.architectures.flops import flop_count, training_flops
    from engine.runs import preset_request
    from engine.training.fit import train

    spec, config = preset_request(preset_name, dataset, epochs=epochs, seed=seed, limit_train=limit or None)
    count = flop_count(spec)
    clock, cpu = time.perf_counter(), time.process_time()
    callbacks = [scorer(clock, cpu)] if scorer else []
    epoch_walls: list[float] = []
    result = train(
        dataset,
        spec,
        config,
        progress=None,
        callbacks=callbacks + [_EpochClock(epoch_walls)],
    )
    n_train, n_validation = result.data["n_train"], result.data["n_validation"]
    per_epoch = training_flops(count, n_train, n_validation, 1, config.batch_size)
    rows = callbacks[0].rows if callbacks else []
    reached = next((row["epoch"] for row in rows if row["test_accuracy"] >= THRESHOLD), None)
    timed = epoch_walls[1:] or epoch_walls  # epoch 1 also traces the graphs
    return {
        "training_per_image": count.training_per_image,
        "matrix_share": count.matrix_training_per_image / count.training_per_image,
        "epoch_flops": per_epoch,
        "epoch_s": statistics.median(timed),
        "achieved": per_epoch / statistics.median(timed),
        "epochs_to": reached,
        "flops_to": per_epoch * reached if reached else None,
        "best": max((row["test_accuracy"] for row in rows), default=None),
        "epochs_run": len(epoch_walls),
        "traced": len(epoch_walls) == 1,  # a one-epoch recipe: its only epoch also traced the graphs
        "precision": result.history.get("precision", "float32"),
    }


def _epoch_clock_class():
    import keras

    class EpochClock(keras.callbacks.Callback):
        """Each epoch's wall time (training and validation, not the test scoring that runs after it)."""

        def __init__(self, walls: list[float]):
            super().__init__()
            self.walls = walls

        def on_epoch_begin(self, epoch, logs=None):
            self._started = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.walls.append(time.perf_counter() - self._started)

    return EpochClock


def _EpochClock(walls: list[float]):  # noqa: N802  (reads as the class it builds; Keras is imported late)
    return _epoch_clock_class()(walls)


def _flops_to(reached: list[float], seeds: int, epochs: int) -> str:
    if not reached:
        return f"not reached in {epochs} epoch{'s' if epochs > 1 else ''}"
    return f"{fmt([flops / 1e12 for flops in reached], 2)} ({len(reached)}/{seeds} seeds)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run in about a minute")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--max-epochs", type=int, default=4, help="a 28x28 preset stops at 0.90 or after this many")
    parser.add_argument("--presets", nargs="+", default=list(DEFAULT_PRESETS))
    args = parser.parse_args()

    from engine.architectures import PRESETS
    from engine.datasets import load_dataset

    unknown = [name for name in args.presets if name not in PRESETS]
    if unknown:
        parser.error(f"not presets here: {', '.join(unknown)}")
    header("Roofline: every preset's training against this CPU's measured peak", args.quick)
    seeds, limit, max_epochs = args.seeds, 0, args.max_epochs
    if args.quick:
        seeds, limit, max_epochs = 1, 2000, 2
    peaks = {precision: measure_peaks(args.quick, precision) for precision in precisions_in_use(args.presets)}
    print(
        table(
            ["peak (TensorFlow, this process)", *(f"{precision} GFLOP/s" for precision in peaks)],
            [
                ["matmul", *(f"{peak['matmul'] / 1e9:.1f}" for peak in peaks.values())],
                ["3x3 conv 28x28x32→64", *(f"{peak['conv'] / 1e9:.1f}" for peak in peaks.values())],
            ],
        )
    )
    print()

    fashion = digits = None
    rows = []
    for name in args.presets:
        preset = PRESETS[name]
        small = preset.spec.input_shape[0] == 8 if preset.spec.input_shape else False
        if small:
            digits = digits or load_dataset("digits")
            dataset, scorer, epochs = digits, None, (2 if args.quick else 5)
        else:
            fashion = fashion or load_dataset("fashion-mnist")
            x_test, y_test = fashion.x_test / np.float32(fashion.value_max), fashion.y_test
            if args.quick:
                x_test, y_test = x_test[:500], y_test[:500]
            dataset, scorer, epochs = fashion, _test_scorer(x_test, y_test), min(preset.config.epochs, max_epochs)
        runs = []
        for seed in range(seeds):
            # The test scorer stops nothing: each preset runs its epochs so that its per-epoch cost is measured alike.
            runs.append(train_preset(dataset, name, epochs, seed, 0 if small else limit, scorer))
            last = runs[-1]
            print(
                f"{name} seed {seed}: epoch walls from epoch 2 {last['epoch_s']:.2f} s (median), "
                f"{last['achieved'] / 1e9:.1f} GFLOP/s, best test accuracy {last['best']}, "
                f"0.90 at epoch {last['epochs_to']}",
                flush=True,
            )
        first = runs[0]
        reached = [run["flops_to"] for run in runs if run["flops_to"] is not None]
        rows.append(
            [
                name,
                "digits" if small else "Fashion-MNIST",
                f"{first['training_per_image'] / 1e6:.2f}",
                f"{first['matrix_share']:.0%}",
                first["precision"],
                fmt([run["achieved"] / 1e9 for run in runs], 1) + (" ¹" if first["traced"] else ""),
                fmt([run["achieved"] / peaks[run["precision"]]["matmul"] * 100 for run in runs], 0),
                fmt([run["achieved"] / peaks[run["precision"]]["conv"] * 100 for run in runs], 0),
                "—"
                if small
                else (
                    f"{fmt([f / 1e12 for f in reached], 2)} ({len(reached)}/{len(runs)} seeds)"
                    if reached
                    else "not reached"
                ),
            ]
        )
    print()
    print(
        table(
            [
                "preset",
                "trained on",
                "training MFLOP/image",
                "in Conv2D/Dense",
                "precision",
                "achieved GFLOP/s",
                "% of matmul peak (its precision)",
                "% of conv peak (its precision)",
                f"TFLOP to {THRESHOLD} test acc.",
            ],
            rows,
        )
    )
    print()
    print(
        "FLOPs by engine/architectures/flops.py (a multiply-add is 2 FLOPs; element-wise layers with small constants); "
        "achieved = one epoch's FLOPs (training forward+backward, optimizer steps, validation pass) over its wall "
        "time, median of epochs 2 on; the test scoring after each epoch is off the clock. Mean ± std over seeds.\n"
        "¹ A one-epoch recipe (the sprint): its only epoch, graph tracing included, so below what its kernels reach."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

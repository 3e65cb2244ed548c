"""Explanations and probes: the deletion test's faithfulness ratio per method, and their speed.

* Faithfulness: on the first 40 test images (10 with --quick) of a trained digits run (`digitlab-small8`) and a
  Fashion-MNIST run (`digitlab-fast28` on a stratified subset), each method's top-k pixels are blanked
  (k = 10 on 8x8, 100 on 28x28) and compared with blanking k random ink pixels
  (`engine.probes.explain.deletion_test`); the ratio of the mean true-class probability drops, mean and
  standard deviation over 3 seeds of the random pixels. Target: 1.5 or more.
* Speed: one explanation of one image per method once the model is loaded (median of 5), and a 6-level
  robustness curve on the digits test set (`engine.probes.robustness.robustness_curve`, model loading included).
  Targets: 0.5 s and 5 s.
* Embedding map (`engine.probes.embedding_map`) of the digits run's test set: PCA and t-SNE of the learned features
  and of the pixels, first call (model load and projection) against the second (the record kept in the store);
  and t-SNE on one OpenMP thread against two, the same points in the same run (the engine uses one).

    python -m bench.explain_probes            # a few minutes on 2 shared cores (trains two small runs)
    python -m bench.explain_probes --quick    # a smoke run
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import bench._common  # noqa: F401  (quiets TensorFlow before it is imported)
from bench._common import header, mean_std, table, temp_cache, verdict

TARGET_RATIO = 1.5
TARGET_EXPLAIN_S = 0.5
TARGET_CURVE_S = 5.0


def trained(name: str, preset: str, epochs: int, limit: int):
    from engine.architectures.presets import PRESETS
    from engine.datasets import load_dataset
    from engine.runs import get_or_train
    from engine.training.config import TrainConfig

    dataset = load_dataset(name)
    spec = PRESETS[preset].spec.for_data(dataset.image_shape, dataset.num_classes)
    return get_or_train(dataset, spec, TrainConfig(epochs=epochs, limit_train=limit, seed=0)).run


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run")
    args = parser.parse_args()
    os.environ["DIGIT_LAB_CACHE"] = temp_cache("bench-explain-")
    header("Explanations: deletion-test faithfulness and speed; robustness curve speed", args.quick)

    from engine.probes.explain import METHODS, ExplainSettings, deletion_test, explain_images
    from engine.probes.robustness import robustness_curve
    from engine.probes.run_data import run_data

    n_images = 10 if args.quick else 40
    runs = {
        "digits (8x8)": (trained("digits", "digitlab-small8", 2 if args.quick else 30, 0), 10),
        "fashion-mnist (28x28)": (
            trained("fashion-mnist", "digitlab-fast28", 1 if args.quick else 3, 1000 if args.quick else 10_000),
            100,
        ),
    }
    rows, speed_rows = [], []
    for label, (run, k) in runs.items():
        data = run_data(run).data
        model = run.load_model()
        images, labels = data.x_test[:n_images], data.y_test[:n_images]
        accuracy = run.meta["metrics"]["test_accuracy"]
        for method in METHODS:
            heatmaps = explain_images(model, images, ExplainSettings(method), None).heatmaps
            results = [deletion_test(model, images, labels, heatmaps, k, method, seed) for seed in range(3)]
            ratio_mean, ratio_std = mean_std([r.ratio for r in results])
            explained = results[0].explained_drop
            random_mean, _ = mean_std([r.random_drop for r in results])
            rows.append(
                [label, f"{accuracy:.3f}", method, k, f"{explained:.4f}", f"{random_mean:.4f}",
                 f"{ratio_mean:.2f} ± {ratio_std:.2f}", verdict(ratio_mean >= TARGET_RATIO)]
            )  # fmt: skip
            explain_images(model, images[:1], ExplainSettings(method), None)  # warm the traced ops once
            times = []
            for i in range(5):
                started = time.perf_counter()
                explain_images(model, images[i % len(images)][None], ExplainSettings(method), None)
                times.append(time.perf_counter() - started)
            seconds = statistics.median(times)
            speed_rows.append([label, method, f"{seconds:.3f}", verdict(seconds <= TARGET_EXPLAIN_S)])

    print(
        table(["run", "test acc", "method", "k", "explained drop", "random-ink drop", "ratio (3 seeds)", "≥ 1.5"], rows)
    )
    print()
    print(table(["run", "method", "one image s (median of 5)", f"≤ {TARGET_EXPLAIN_S} s"], speed_rows))
    print()
    digits_run = runs["digits (8x8)"][0]
    started = time.perf_counter()
    curve = robustness_curve(digits_run, "rotation")
    seconds = time.perf_counter() - started
    print(
        table(
            ["robustness curve (digits, rotation)", "levels", "accuracy", "seconds", f"≤ {TARGET_CURVE_S} s"],
            [["6 levels, model load included", curve.levels, [round(a, 3) for a in curve.accuracy],
              f"{seconds:.2f}", verdict(seconds <= TARGET_CURVE_S)]],
        )
    )  # fmt: skip
    print()
    print(table(["embedding map (digits test set)", "points", "first call s", "second call s", "first / second"],
                embedding_map_rows(digits_run, args.quick)))  # fmt: skip
    print()
    print(table(["t-SNE of the learned features", "points", "1 OpenMP thread s", "2 threads s", "2 / 1"],
                [tsne_threads_row(digits_run, args.quick)]))  # fmt: skip
    return 0


def embedding_map_rows(run, quick: bool) -> list[list]:
    """--quick maps 100 images with t-SNE (the smoke run shares its cores with the other benchmarks)."""
    from engine.probes.embedding_map import embedding_map

    rows = []
    for method in ("pca", "tsne"):
        for space in ("features", "pixels"):
            times = []
            for _ in range(2):  # the first computes and stores, the second reads the stored record
                started = time.perf_counter()
                result = embedding_map(run, method, 100 if quick and method == "tsne" else None, space)
                times.append(time.perf_counter() - started)
            rows.append([f"{method} of {space}", len(result.indices), f"{times[0]:.2f}", f"{times[1]:.3f}",
                         f"{times[0] / times[1]:.0f}x"])  # fmt: skip
    return rows


def tsne_threads_row(run, quick: bool) -> list:
    from threadpoolctl import threadpool_limits

    from engine.exploration import embedding
    from engine.probes.embedding_map import MAP_SEED, penultimate_activations
    from engine.probes.run_data import test_images

    images01, _ = test_images(run)
    values = penultimate_activations(run.load_model(), images01)
    labels = run.test_labels()
    n = 100 if quick else len(labels)
    seconds = []
    for threads in (1, 2):
        with threadpool_limits(limits=threads, user_api="openmp"):
            started = time.perf_counter()
            embedding(values, labels, 1.0, n=n, method="tsne", seed=MAP_SEED)
            seconds.append(time.perf_counter() - started)
    return [f"digits run, {os.cpu_count()} cores", n, f"{seconds[0]:.2f}", f"{seconds[1]:.2f}",
            f"{seconds[1] / seconds[0]:.2f}"]  # fmt: skip


if __name__ == "__main__":
    raise SystemExit(main())

"""The explanation views' costs: the mistakes gallery's heatmaps in one batched call against one call per image,
and a drawn digit's explanation on each rerun of Inspect.

* Gallery: the 20 and 100 most confident mistakes of a trained run (or as many as there are), explained for
  their predicted class by Grad-CAM, saliency and integrated gradients in one `explain_images` call, as Evaluate
  does, against the same images explained one call each (the same-run baseline). Median of 3.
* Drawing: one prepared image explained by each method the Inspect picker offers (what each canvas stroke costs
  on top of the prediction), median of 5. The cost of a rerun with a stroke is this plus the prediction.

Runs: digits (`digitlab-small8`, 8x8) and Fashion-MNIST (`digitlab-fast28` on a stratified subset, 28x28).

    python -m bench.explain_views            # about a minute on 2 shared cores (trains two small runs)
    python -m bench.explain_views --quick    # a smoke run
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import bench._common  # noqa: F401  (quiets TensorFlow before it is imported)
from bench._common import header, table, temp_cache, verdict

TARGET_DRAW_S = 0.5  # one explanation per stroke: the bound for one explanation
GALLERY_METHODS = ("Grad-CAM", "Saliency", "Integrated gradients")


def trained(name: str, preset: str, epochs: int, limit: int):
    from engine.architectures.presets import PRESETS
    from engine.datasets import load_dataset
    from engine.runs import get_or_train
    from engine.training.config import TrainConfig

    dataset = load_dataset(name)
    spec = PRESETS[preset].spec.for_data(dataset.image_shape, dataset.num_classes)
    return dataset, get_or_train(dataset, spec, TrainConfig(epochs=epochs, limit_train=limit, seed=0)).run


def seconds(repeats: int, call, *args) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call(*args)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def one_by_one(model, images01, settings) -> list:
    from engine.probes.explain import explain_images

    return [explain_images(model, images01[i : i + 1], settings) for i in range(len(images01))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run")
    args = parser.parse_args()
    os.environ["DIGIT_LAB_CACHE"] = temp_cache("bench-explain-views-")
    header("Explanation views: batched gallery heatmaps vs one call per image; a drawing's explanation", args.quick)

    from dashboard.explain_methods import settings_for
    from engine.datasets import normalised
    from engine.evaluation.confusion import misclassified
    from engine.probes.explain import explain_images

    runs = {
        "digits (8x8)": trained("digits", "digitlab-small8", 2 if args.quick else 10, 0),
        "fashion-mnist (28x28)": trained("fashion-mnist", "digitlab-fast28", 1, 1000 if args.quick else 5000),
    }
    sizes = (5,) if args.quick else (20, 100)
    gallery_rows, draw_rows, draw_ok = [], [], True
    for label, (dataset, run) in runs.items():
        model = run.load_model()
        wrong = misclassified(run.test_labels(), run.test_probabilities(), run.meta["class_names"])["index"]
        value_max = float(dataset.value_max)
        for method in GALLERY_METHODS:
            settings = settings_for(method)
            for size in sizes:
                shown = wrong.to_numpy()[:size]
                images01 = normalised(dataset.x_test[shown], value_max)
                explain_images(model, images01, settings)  # warm-up: the first call traces the graph
                batched = seconds(3, explain_images, model, images01, settings)
                singly = seconds(3, one_by_one, model, images01, settings)
                gallery_rows.append(
                    [label, method, len(shown), f"{batched:.3f}", f"{singly:.3f}", f"{singly / batched:.1f}x"]
                )
        drawn01 = normalised(dataset.x_test[:1], value_max)  # a prepared image, as the canvas gives one
        for method in ("Grad-CAM", "Saliency", "SmoothGrad", "Integrated gradients", "Occlusion"):
            settings = settings_for(method)
            explain_images(model, drawn01, settings)
            took = seconds(5, explain_images, model, drawn01, settings)
            draw_ok &= took <= TARGET_DRAW_S
            draw_rows.append([label, method, f"{took:.3f}"])
        predict = seconds(5, model, drawn01)  # the forward pass the page runs for the probabilities
        draw_rows.append([label, "(the prediction alone)", f"{predict:.3f}"])

    print("## Mistakes gallery: heatmaps of the shown mistakes, one batched call vs one call per image")
    print(table(["run", "method", "images", "batched s", "one per image s", "speed-up"], gallery_rows))
    print()
    print(f"## A drawn digit: one explanation per stroke (target ≤ {TARGET_DRAW_S} s each)")
    print(table(["run", "method", "seconds (median of 5)"], draw_rows))
    print(f"\nDrawing target: {verdict(draw_ok)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Label issues: how many planted label flips confident learning finds, beside the plain lowest-self-confidence
baseline.

A stratified 20,000-image subset of Fashion-MNIST's training part (the Debian package's files in
/usr/share/datasets/fashion-mnist/, or wherever `load_dataset` finds them) gets 5 % of its labels flipped to another
class (`engine.datasets.noise`); `digitlab-fast28` is trained on a stratified 5-fold split of it, each image is
predicted by the fold model that left it out, and `cleanlab.filter.find_label_issues` flags the doubtful labels
(`engine.diagnostics.label_issues`). Precision and recall against the flips, and those of flagging the same number of
lowest-self-confidence images, mean and standard deviation over 3 noise seeds. Target: precision and recall 0.8 or
more for confident learning.

    python -m bench.label_issues            # 3 seeds x 5 folds on 20,000 28x28 images: long on 2 shared cores
    python -m bench.label_issues --quick    # digits, 3 folds of 3 epochs, one seed: a smoke run
"""

from __future__ import annotations

import argparse
import os
import time

import bench._common  # noqa: F401  (quiets TensorFlow before it is imported)
from bench._common import fmt, header, table, temp_cache, verdict

TARGET = 0.8
NOISE = 0.05


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run")
    parser.add_argument("--seeds", type=int, default=3, help="noise seeds 0..N-1 (--quick: 1)")
    args = parser.parse_args()
    os.environ["DIGIT_LAB_CACHE"] = temp_cache("bench-label-issues-")
    header("Label issues: confident learning vs the lowest-self-confidence baseline on planted flips", args.quick)

    from engine.datasets import load_dataset, subset_train
    from engine.datasets.noise import NoiseSpec
    from engine.diagnostics.label_issues import LabelIssuePlan, label_issues

    if args.quick:
        name, preset, folds, epochs, seeds = "digits", "digitlab-small8-v2", 3, 3, 1
        dataset = load_dataset(name)
    else:
        name, preset, folds, epochs, seeds = "fashion-mnist", "digitlab-fast28", 5, None, args.seeds
        dataset = subset_train(load_dataset(name), 20_000, seed=0)
    rows, found = [], []
    for seed in range(seeds):
        plan = LabelIssuePlan(name, preset, folds, NoiseSpec(NOISE, seed), epochs)
        started = time.perf_counter()
        result = label_issues(plan, dataset=dataset)
        seconds = time.perf_counter() - started
        found.append(result)
        rows.append(
            [
                f"{name} ({len(dataset.y_train):,} train)",
                seed,
                result.n_flipped,
                len(result.issues),
                f"{result.precision:.3f}",
                f"{result.recall:.3f}",
                f"{result.baseline_precision:.3f}",
                f"{result.baseline_recall:.3f}",
                f"{result.oof_accuracy:.4f}",
                f"{seconds:.0f}",
            ]
        )
    rows.append(
        [
            "mean ± std",
            "",
            "",
            fmt([len(r.issues) for r in found], 0),
            fmt([r.precision for r in found], 3),
            fmt([r.recall for r in found], 3),
            fmt([r.baseline_precision for r in found], 3),
            fmt([r.baseline_recall for r in found], 3),
            fmt([r.oof_accuracy for r in found], 4),
            "",
        ]
    )
    headers = ["data", "seed", "flipped", "flagged", "cleanlab P", "cleanlab R", "baseline P", "baseline R"]
    print(table([*headers, "OOF acc", "wall s"], rows))
    print()
    print(f"{preset}, {folds} folds, {NOISE:.0%} of the training labels flipped (symmetric), seeds 0..{seeds - 1}.")
    precision = min(r.precision or 0.0 for r in found)
    recall = min(r.recall or 0.0 for r in found)
    print(
        f"- confident learning precision and recall >= {TARGET} on every seed: lowest {precision:.3f} / "
        f"{recall:.3f}: {verdict(precision >= TARGET and recall >= TARGET)}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

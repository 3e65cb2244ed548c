"""The verbs that probe one stored run's model: `calibration`, `robustness`, `explain`, `embedding-map` and
`adversarial`; and those that read what it recorded after each epoch: `confusion` and `dynamics`."""

from __future__ import annotations

import argparse
import json

from engine.errors import RunNotFound
from engine.probes.calibration import run_calibration
from engine.probes.explain import ExplainSettings, explain_run
from engine.store import RunStore, StoredRun, is_run_id


def _add_calibration(commands: argparse._SubParsersAction) -> None:
    calibration = commands.add_parser("calibration", help="reliability bins, ECE and temperature scaling of a run")
    calibration.add_argument("run_id")
    calibration.add_argument("--bins", type=int, default=10, help="equal-width bins of top-label confidence")
    calibration.add_argument("--json", action="store_true")
    calibration.set_defaults(handler=_calibration)


def _add_robustness(commands: argparse._SubParsersAction) -> None:
    robustness = commands.add_parser("robustness", help="test accuracy of a run under a growing perturbation")
    robustness.add_argument("run_id")
    robustness.add_argument(
        "--perturbation", required=True, choices=["rotation", "shift", "noise", "blur", "thickness", "contrast"]
    )
    robustness.add_argument("--levels", type=float, nargs="+", help="severities (default: six from 0)")
    robustness.add_argument("--json", action="store_true")
    robustness.set_defaults(handler=_robustness)


def _add_explain(commands: argparse._SubParsersAction) -> None:
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


def _add_embedding_map(commands: argparse._SubParsersAction) -> None:
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


def _add_adversarial(commands: argparse._SubParsersAction) -> None:
    adversarial = commands.add_parser("adversarial", help="test accuracy of a run under FGSM or PGD attacks")
    adversarial.add_argument("run_id")
    adversarial.add_argument("--method", choices=["fgsm", "pgd"], default="fgsm")
    adversarial.add_argument("--eps", type=float, nargs="+", help="L-inf radii on the 0..1 input scale (default: 7)")
    adversarial.add_argument("--steps", type=int, default=10, help="PGD steps after its FGSM start")
    adversarial.add_argument("--step-size", type=float, help="PGD step on the 0..1 scale (default: 2.5 * eps / steps)")
    adversarial.add_argument("--images", type=int, help="test images attacked, a seeded subset (default: all)")
    adversarial.add_argument("--json", action="store_true")
    adversarial.set_defaults(handler=_adversarial)


def _add_confusion(commands: argparse._SubParsersAction) -> None:
    confusion = commands.add_parser("confusion", help="a run's test-set confusion matrix after one epoch")
    confusion.add_argument("run_id")
    confusion.add_argument("--epoch", type=int, help="1-based (default: the stored model's epoch, normally the last)")
    confusion.add_argument("--json", action="store_true")
    confusion.set_defaults(handler=_confusion)


def _add_dynamics(commands: argparse._SubParsersAction) -> None:
    dynamics = commands.add_parser(
        "dynamics", help="a run's training dynamics: each training image's confidence, variability and region"
    )
    dynamics.add_argument("run_id")
    dynamics.add_argument("--json", action="store_true")
    dynamics.set_defaults(handler=_dynamics)


COMMANDS = {
    "calibration": _add_calibration,
    "robustness": _add_robustness,
    "explain": _add_explain,
    "embedding-map": _add_embedding_map,
    "adversarial": _add_adversarial,
    "confusion": _add_confusion,
    "dynamics": _add_dynamics,
}


def _stored_run(run_id: str) -> StoredRun:
    run = RunStore().get(run_id) if is_run_id(run_id) else None
    if run is None:
        raise RunNotFound(f"No stored run {run_id[:40]!r}. List them with `digit-lab runs`.")
    return run


def _calibration(args: argparse.Namespace) -> None:
    result = run_calibration(_stored_run(args.run_id), args.bins)
    if args.json:
        print(json.dumps(result.to_dict()))
        return
    print(f"ECE ({args.bins} bins): {result.ece:.4f}")
    if result.temperature is None:
        print(result.note)
    else:
        print(f"temperature {result.temperature:.3f} (fitted on validation): ECE after {result.ece_after:.4f}")


def _robustness(args: argparse.Namespace) -> None:
    # Deferred: the robustness curve scores with engine.evaluation, which loads pandas.
    from engine.probes.robustness import robustness_curve

    curve = robustness_curve(_stored_run(args.run_id), args.perturbation, args.levels)
    if args.json:
        print(json.dumps(curve.to_dict()))
        return
    print(f"{curve.perturbation} ({curve.unit})")
    for level, accuracy in zip(curve.levels, curve.accuracy, strict=True):
        print(f"  {level:>8g}  {accuracy:.2%}")


def _explain(args: argparse.Namespace) -> None:
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


def _embedding_map(args: argparse.Namespace) -> None:
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


def _adversarial(args: argparse.Namespace) -> None:
    # Deferred: the attack scores with engine.evaluation, which loads pandas.
    from engine.probes.adversarial import DEFAULT_EPSILONS, AdversarialSpec, adversarial_examples

    epsilons = tuple(args.eps) if args.eps else DEFAULT_EPSILONS
    spec = AdversarialSpec(args.method, epsilons, args.steps, args.step_size, args.images)
    result = adversarial_examples(_stored_run(args.run_id), spec)
    if args.json:
        print(json.dumps(result.summary()))
        return
    how = f"PGD, {result.steps} steps" if result.method == "pgd" else "FGSM"
    print(f"{how} on {result.n_images:,} of {result.test_size:,} test images (eps on the 0..1 input scale)")
    print(f"  {'eps':>8}  {'accuracy':>9}  {'raw':>7}")
    for eps, score, raw in zip(result.epsilons, result.accuracy, result.raw_accuracy, strict=True):
        print(f"  {eps:>8g}  {score:>9.2%}  {raw:>7.2%}")


def _confusion(args: argparse.Namespace) -> None:
    from engine.probes.epochs import epoch_confusion  # deferred: engine.evaluation loads pandas

    result = epoch_confusion(_stored_run(args.run_id), args.epoch)
    if args.json:
        print(json.dumps(result.to_dict()))
        return
    final = " (the stored model's)" if result.is_final else ""
    print(f"epoch {result.epoch} of {result.epochs}{final}: test accuracy {result.accuracy:.2%}")
    if result.note:
        print(result.note)
    width = max(5, len(str(int(result.matrix.max(initial=0)))) + 1)
    print("true\\pred " + "".join(f"{column:>{width}}" for column in range(len(result.class_names))))
    for number, row in enumerate(result.matrix):
        print(f"{number:>9} " + "".join(f"{int(count):>{width}}" for count in row))


def _dynamics(args: argparse.Namespace) -> None:
    from engine.probes.dynamics import HARDEST_SHOWN, training_dynamics  # deferred: it loads the dataset

    result = training_dynamics(_stored_run(args.run_id))
    if args.json:
        print(json.dumps(result.to_dict()))
        return
    print(f"{result.n_train:,} training images over {result.epochs} epochs")
    for region, count in result.map.counts().items():
        print(f"  {region:<14} {count:>7,}")
    print(f"hardest to learn (lowest confidence), first {HARDEST_SHOWN}:")
    for index in result.map.hardest(HARDEST_SHOWN):
        print(
            f"  #{index:<6} label {result.labels[index]}  confidence {result.map.confidence[index]:.3f}  "
            f"variability {result.map.variability[index]:.3f}  correctness {result.map.correctness[index]:.2f}"
        )

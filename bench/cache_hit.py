"""Cache hits: opening a stored run, k-fold and a study from the store, and rendering Evaluate, vs training.

* A 28x28 run (`digitlab-fast28`, 1 epoch, on a 10,000-image stratified subset of Fashion-MNIST) is trained
  through `engine.runs.get_or_train`; then opened again: the store lookup, meta, history, probabilities,
  labels, `load_model` and `engine.evaluation.evaluate`. Median of 5 opens (plus the first one alone, which
  also imports Keras' saving code), in this process where TensorFlow is already imported (as in the server).
* k-fold (`engine.crossval.cross_validate`, 3 folds) and a two-model study (`engine.compare.run_preset_study`, a
  study registered for the benchmark as tests/engine_core/test_runs.py does) on the bundled digits: first
  call (trains) vs the second (store).
* Evaluate: an AppTest run of dashboard/Home.py switched to views/evaluate.py with `?run=<id>` on the
  cached run (the first render pays for the page's imports; the second is a fresh AppTest in the same process).

Everything goes to a temporary cache folder (`DIGIT_LAB_CACHE`), never the repository's cache/.

    python -m bench.cache_hit            # about 2 minutes on 2 shared cores
    python -m bench.cache_hit --quick    # a smoke run on a 1,000-image subset
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import bench._common  # noqa: F401  (quiets TensorFlow before it is imported)
from bench._common import ROOT, header, table, temp_cache, verdict

TARGET_RATIO = 50.0
TARGET_LOAD_S = 0.3


def open_run(dataset, spec, config):
    """Everything a page needs of a stored run, from the store: returns (seconds, run)."""
    from engine.evaluation import evaluate
    from engine.runs import find_run

    started = time.perf_counter()
    run = find_run(dataset, spec, config)
    meta = run.meta
    run.history()
    probabilities, labels = run.test_probabilities(), run.test_labels()
    run.load_model()
    evaluate(labels, probabilities, meta["class_names"])
    return time.perf_counter() - started, run


def render_evaluate(run_id: str) -> float:
    from streamlit.testing.v1 import AppTest

    started = time.perf_counter()
    app = AppTest.from_file(str(ROOT / "dashboard" / "Home.py"), default_timeout=300)
    app.query_params["run"] = run_id
    app.run()
    app.switch_page("views/evaluate.py")
    app.run()
    seconds = time.perf_counter() - started
    if app.exception:
        raise RuntimeError(f"Evaluate raised: {app.exception[0].message}")
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run")
    parser.add_argument("--preset", default="digitlab-fast28")
    args = parser.parse_args()
    os.environ["DIGIT_LAB_CACHE"] = temp_cache("digitlab-bench-cache-")
    header("Cache hits: stored run, k-fold, study and the Evaluate page vs training", args.quick)

    from engine import telemetry
    from engine.compare import PRESET_STUDIES, run_preset_study
    from engine.crossval import cross_validate
    from engine.datasets import load_dataset
    from engine.runs import get_or_train, preset_request

    fashion = load_dataset("fashion-mnist")
    limit = 500 if args.quick else 10_000
    folds = 2 if args.quick else 3
    spec, config = preset_request(args.preset, fashion, epochs=1, limit_train=limit)
    trained = get_or_train(fashion, spec, config, preset=args.preset)
    train_s = trained.seconds
    first_open, run = open_run(fashion, spec, config)
    opens = [open_run(fashion, spec, config)[0] for _ in range(2 if args.quick else 5)]
    open_s = statistics.median(opens)

    digits = load_dataset("digits")
    small, small_config = preset_request("digitlab-small8", digits, epochs=1, limit_train=300)
    cv_times = []
    for _ in range(2):
        started = time.perf_counter()
        cross_validate(digits, small, small_config, k=folds)
        cv_times.append(time.perf_counter() - started)
    PRESET_STUDIES["bench-tiny"] = ("digitlab-small8", "seed002-uci8x8")
    study_times = []
    try:
        for _ in range(2):
            started = time.perf_counter()
            run_preset_study("bench-tiny", digits, epochs=1, limit_train=100 if args.quick else 200)
            study_times.append(time.perf_counter() - started)
    finally:
        del PRESET_STUDIES["bench-tiny"]

    before = telemetry.counters()
    render_first = render_evaluate(run.run_id)
    render_second = render_first if args.quick else render_evaluate(run.run_id)
    after = telemetry.counters()
    trainings_during_render = after.get("trainings", 0) - before.get("trainings", 0)

    rows = [
        [
            (
                f"stored run ({args.preset}, 28x28, 1 epoch on {limit:,} images): open = meta + history + "
                "probabilities + load_model + evaluate"
            ),
            f"{train_s:.2f}",
            f"{open_s:.3f} (first {first_open:.3f})",
            f"{train_s / open_s:.0f}x",
        ],
        [
            f"k-fold, {folds} folds (digitlab-small8 on digits)",
            f"{cv_times[0]:.2f}",
            f"{cv_times[1]:.3f}",
            f"{cv_times[0] / cv_times[1]:.0f}x",
        ],
        [
            "study, 2 models (digitlab-small8, seed002-uci8x8 on digits)",
            f"{study_times[0]:.2f}",
            f"{study_times[1]:.3f}",
            f"{study_times[0] / study_times[1]:.0f}x",
        ],
        [
            "Evaluate page (AppTest, ?run=<id>), vs training the run",
            f"{train_s:.2f}",
            f"{render_first:.2f} (second {render_second:.2f})",
            f"{train_s / render_first:.1f}x (second {train_s / render_second:.1f}x)",
        ],
    ]
    print(table(["what", "compute s (first call, trains)", "from the store s", "speed-up"], rows))
    print()
    print(
        f"- opening a stored run >= {TARGET_RATIO:.0f}x faster than training it: {train_s / open_s:.0f}x: "
        f"{verdict(train_s / open_s >= TARGET_RATIO)}"
    )
    print(
        f"- engine-side load of a 28x28 run < {TARGET_LOAD_S} s: {open_s:.3f} s (median), first {first_open:.3f} s: "
        f"{verdict(open_s < TARGET_LOAD_S)}"
    )
    per_fold, per_model = cv_times[1] / folds, study_times[1] / 2
    print(
        f"- k-fold and study from the store at the same speed (< {TARGET_LOAD_S} s per run): "
        f"{per_fold:.3f} s per fold, "
        f"{per_model:.3f} s per model: {verdict(per_fold < TARGET_LOAD_S and per_model < TARGET_LOAD_S)}"
    )
    print(
        f"- trainings while rendering Evaluate on the cached run: {trainings_during_render}: "
        f"{verdict(trainings_during_render == 0)}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

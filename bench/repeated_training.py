"""Twenty trainings one after another in one process: memory growth and slow-down.

Each training is `engine.runs.get_or_train` of `digitlab-small8` on the bundled digits with a new seed (so
each one really trains and is stored, as a dashboard session training model after model does). The process's
RSS is read after each. The same loop runs twice, each in a fresh process: with the engine as it is, and with
the engine's cure switched off (`engine.training.tf_session.release_traced_graphs` made a no-op), which is what
plain Keras does — the baseline measured in the same invocation.

Growth is RSS after the last training minus RSS after the first (the first pays TensorFlow's one-time
allocations). Slow-down compares the median of the first three trainings with the median of the last three.

    python -m bench.repeated_training            # 20 trainings x 2 processes, about 3 minutes
    python -m bench.repeated_training --quick    # 3 trainings x 2, one epoch each
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import bench._common  # noqa: F401  (quiets TensorFlow before it is imported)
from bench._common import ROOT, header, rss_mib, table, temp_cache, verdict

TARGET_GROWTH_MIB = 300
TARGET_SLOWDOWN = 1.20


def worker(count: int, epochs: int, cure: bool) -> None:
    os.environ["DIGIT_LAB_CACHE"] = temp_cache("digitlab-bench-repeat-")
    import engine.training.tf_session as tf_session
    from engine.datasets import load_dataset
    from engine.runs import get_or_train, preset_request

    if not cure:
        tf_session.release_traced_graphs = lambda: None
    dataset = load_dataset("digits")
    spec, config = preset_request("digitlab-small8", dataset, epochs=epochs)
    print(json.dumps({"start_rss": rss_mib()}), flush=True)
    for seed in range(count):
        wall, cpu = time.perf_counter(), time.process_time()
        result = get_or_train(dataset, spec, config.replace(seed=seed))
        assert not result.cached
        print(
            json.dumps(
                {
                    "seed": seed,
                    "wall": time.perf_counter() - wall,
                    "cpu": time.process_time() - cpu,
                    "rss": rss_mib(),
                    "accuracy": result.run.meta["metrics"]["test_accuracy"],
                }
            ),
            flush=True,
        )


def run_worker(count: int, epochs: int, cure: bool) -> tuple[float, list[dict]]:
    command = [
        sys.executable,
        "-m",
        "bench.repeated_training",
        "--worker",
        "--count",
        str(count),
        "--epochs",
        str(epochs),
    ]
    if not cure:
        command.append("--no-cure")
    done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=ROOT)
    if done.returncode != 0:
        raise RuntimeError(f"worker failed:\n{done.stderr[-3000:]}")
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    return lines[0]["start_rss"], lines[1:]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run")
    parser.add_argument("--count", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--no-cure", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.count, args.epochs, cure=not args.no_cure)
        return 0
    count, epochs = (3, 1) if args.quick else (args.count, args.epochs)
    header(
        f"Repeated training: {count} x digitlab-small8 on digits ({epochs} epoch(s) each) in one process", args.quick
    )
    rows, checks = [], []
    for label, cure in (("plain Keras (cure off)", False), ("engine (graphs released after each training)", True)):
        start, runs = run_worker(count, epochs, cure)
        first, last = runs[:3], runs[-3:]
        growth = runs[-1]["rss"] - runs[0]["rss"]
        slow_wall = statistics.median(r["wall"] for r in last) / statistics.median(r["wall"] for r in first)
        slow_cpu = statistics.median(r["cpu"] for r in last) / statistics.median(r["cpu"] for r in first)
        rows.append(
            [
                label,
                f"{start:.0f}",
                f"{runs[0]['rss']:.0f}",
                f"{runs[-1]['rss']:.0f}",
                f"{growth:+.0f}",
                f"{growth / max(1, count - 1):+.1f}",
                f"{statistics.median(r['wall'] for r in first):.2f} → "
                f"{statistics.median(r['wall'] for r in last):.2f} ({slow_wall:.2f}x)",
                f"{statistics.median(r['cpu'] for r in first):.2f} → "
                f"{statistics.median(r['cpu'] for r in last):.2f} ({slow_cpu:.2f}x)",
                f"{statistics.fmean(r['accuracy'] for r in runs):.4f}",
            ]
        )
        checks.append((label, growth, slow_wall, slow_cpu))
    print(
        table(
            [
                "process",
                "RSS before MiB",
                "after 1st MiB",
                f"after {count}th MiB",
                "growth MiB",
                "per training MiB",
                "wall s, median first 3 → last 3",
                "CPU s, median first 3 → last 3",
                "mean test acc",
            ],
            rows,
        )
    )
    print()
    _, growth, slow_wall, slow_cpu = checks[-1]
    print(
        f"- RSS growth over {count} trainings <= {TARGET_GROWTH_MIB} MiB: {growth:+.0f} MiB "
        f"(plain Keras {checks[0][1]:+.0f} MiB): {verdict(growth <= TARGET_GROWTH_MIB)}"
    )
    print(
        f"- last trainings no more than {TARGET_SLOWDOWN - 1:.0%} slower than the first: wall {slow_wall:.2f}x, "
        f"CPU {slow_cpu:.2f}x: {verdict(slow_wall <= TARGET_SLOWDOWN or slow_cpu <= TARGET_SLOWDOWN)}"
    )
    print("  (wall time on a shared machine swings with other workers' load; CPU time is the steadier measure)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

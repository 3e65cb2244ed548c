"""A digits k-fold as a job (engine.jobs driver) on a real two-node Ray cluster on this machine, beside the local
executor on the same folds, in one run.

    python -m bench.ray_two_nodes                   # digits, digitlab-small8, k=4, 3 epochs, 1 CPU per node

`ray start --head` and a second `ray start --address` each get their own ports and temp folder
(tests/executors/ray_cluster.py). Each variant trains into its own empty cache. Printed: the CPU model, the nodes
and CPUs Ray reports, the workers that trained each fold, cluster start-up, the job's wall time (driver start,
connection, TensorFlow import on the workers included) and its ratio to the local k-fold.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--cpus-per-node", type=int, default=1)
    args = parser.parse_args()

    from bench._common import machine
    from tests.executors.ray_cluster import NO_AUTH, start_node, stop_node

    os.environ.update(NO_AUTH)
    from engine.crossval import cross_validate, fold_tasks
    from engine.datasets import load_dataset
    from engine.jobs import JobRequest, start_job, wait_for_job
    from engine.runs import preset_request
    from engine.store import RunStore

    dataset = load_dataset("digits")
    spec, config = preset_request("digitlab-small8", dataset, epochs=args.epochs)
    print(f"{machine()}; digits, digitlab-small8, k={args.folds}, {args.epochs} epochs")

    os.environ["DIGIT_LAB_CACHE"] = tempfile.mkdtemp(prefix="bench-local-")
    started = time.perf_counter()
    cross_validate(dataset, spec, config, k=args.folds, store=RunStore(), executor="local")
    local = time.perf_counter() - started
    print(f"local executor (this process, folds in turn): {local:.1f} s")

    started = time.perf_counter()
    head = start_node(args.cpus_per_node)
    worker = start_node(args.cpus_per_node, head_address=head.address)
    cluster_start = time.perf_counter() - started
    try:
        import ray

        ray.init(address=head.address, logging_level="ERROR")
        nodes = [n for n in ray.nodes() if n["Alive"]]
        print(
            f"cluster: {len(nodes)} nodes, {int(ray.cluster_resources().get('CPU', 0))} CPUs "
            f"(temp dirs {head.temp_dir}, {worker.temp_dir}); started in {cluster_start:.1f} s"
        )
        ray.shutdown()
        os.environ["RAY_ADDRESS"] = head.address
        os.environ["DIGIT_LAB_CACHE"] = tempfile.mkdtemp(prefix="bench-ray-")
        tasks = fold_tasks(dataset, spec, config, args.folds, "digitlab-small8")
        started = time.perf_counter()
        job_id = start_job(JobRequest("cv", "fold", "bench", "ray", tuple(t.portable() for t in tasks)))
        status = wait_for_job(job_id, timeout=1800, poll=0.2)
        job = time.perf_counter() - started
        workers = sorted({RunStore().get(t.run_id).meta.get("worker", "") for t in tasks} - {""})
        print(f"Ray job on two nodes: {status.state}, {status.stored}/{status.total} folds stored in {job:.1f} s")
        print(f"ratio Ray job / local: {job / local:.2f}" + (f"; workers {workers}" if workers else ""))
    finally:
        stop_node(worker)
        stop_node(head)


if __name__ == "__main__":
    main()

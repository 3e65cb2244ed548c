"""A complete stored-run meta for store tests: every field `engine.store.meta_checks.validate_run_meta` requires.

The store hands out only runs whose meta holds these (listings and pages read them unchecked), so tests that
build runs by hand start from this and add or break what they test. `run_id` and `created` are filled in by
the store when absent.
"""

from __future__ import annotations


def run_meta(**extra) -> dict:
    meta = {
        "preset": "",
        "dataset": {"name": "digits"},
        "class_names": [str(d) for d in range(10)],
        "spec": {
            "conv_blocks": [{"filters": 8, "kernel_size": 3}],
            "dense_layers": [{"units": 16}],
            "num_classes": 10,
            "learning_rate": 0.001,
        },
        "config": {"epochs": 1, "batch_size": 32, "seed": 0},
        "parameters": {"total": 1234},
        "train_seconds": 0.5,
        "epochs_run": 1,
        "metrics": {"test_accuracy": 0.5, "macro_f1": 0.5, "test_loss": 1.0},
    }
    meta.update(extra)
    return meta

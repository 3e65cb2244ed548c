"""Which precision a model's hidden layers train in, and switching a built model between precisions.

The choice depends on the machine (native bfloat16 kernels, no GPU) and on the model's size, and it is part of
a run's key, so it is decided without importing TensorFlow: `run_id_for` asks for it on pages that only look
runs up.
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Any

from engine.architectures.shapes import layer_table
from engine.architectures.spec import ModelSpec
from engine.errors import InvalidConfig

PRECISIONS = ("auto", "float32", "mixed_bfloat16")
BFLOAT16_MIN_MACS = 1_000_000  # per image, forward; below it (8x8 models) bfloat16 saved no time (bench/README.md)


def choose_precision(spec: ModelSpec | None = None) -> str:
    """The precision hidden layers train in: `DIGIT_LAB_PRECISION` (auto | float32 | mixed_bfloat16).

    auto picks mixed_bfloat16 only where oneDNN has native bfloat16 kernels (CPU flags avx512_bf16 or
    amx_bf16, oneDNN not switched off, no GPU) and the model is big enough for its convolutions to dominate:
    there it cut the seed001 CNN's step time by about a third at equal accuracy (bench/time_to_accuracy.py).
    Elsewhere bfloat16 is emulated and slower, or only adds casts to a tiny model, so float32 stays.
    """
    choice = os.environ.get("DIGIT_LAB_PRECISION", "auto").strip().lower() or "auto"
    if choice not in PRECISIONS:
        raise InvalidConfig(f"DIGIT_LAB_PRECISION must be one of {', '.join(PRECISIONS)}, got {choice!r}.")
    if choice != "auto":
        return choice
    if spec is not None and forward_macs(spec) < BFLOAT16_MIN_MACS:
        return "float32"
    return "mixed_bfloat16" if _native_bfloat16() else "float32"


def forward_macs(spec: ModelSpec) -> int:
    """Multiply-accumulates of one image's forward pass through the conv and dense layers."""
    total = 0
    for row in layer_table(spec):
        if row.kind == "Conv2D":
            height, width, filters = row.output_shape
            total += height * width * (row.trainable - filters)  # weights without biases, once per output pixel
        elif row.kind == "Dense":
            total += row.trainable - row.output_shape[-1]
    return total


@lru_cache(maxsize=1)
def _native_bfloat16() -> bool:
    if os.environ.get("TF_ENABLE_ONEDNN_OPTS", "").strip() == "0":
        return False
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as cpuinfo:
            flags = next((line for line in cpuinfo if line.startswith("flags")), "").split()
    except OSError:
        return False
    if not {"avx512_bf16", "amx_bf16"} & set(flags):
        return False
    return not _gpu_possible()


def _gpu_possible() -> bool:
    """Whether TensorFlow could train on a GPU here, decided without importing it.

    `run_id_for` asks for the precision, and pages that only look runs up must not wait for TensorFlow; the
    answer must also not change once TensorFlow is loaded, because it is part of the run key.
    """
    from importlib import metadata
    from pathlib import Path

    try:
        metadata.version("tensorflow-cpu")
        return False  # the CPU-only wheel has no GPU support
    except metadata.PackageNotFoundError:
        pass
    return any(Path(device).exists() for device in ("/dev/nvidia0", "/dev/kfd", "/dev/dxg"))


def set_hidden_policy(model: Any, policy: str) -> None:
    """Every layer but the softmax output computes in `policy`; variables stay float32 either way.

    Per-layer policies touch no global Keras state, so trainings in other threads are unaffected. Traced
    functions are dropped, so the next evaluate or predict runs in the new precision.
    """
    if all(layer.dtype_policy.name == policy for layer in model.layers[:-1]):
        return
    for layer in model.layers[:-1]:
        layer.dtype_policy = policy
    model.train_function = model.test_function = model.predict_function = None

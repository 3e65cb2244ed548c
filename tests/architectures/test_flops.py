"""FLOPs per image from the layer shapes: seed 001's CNN counted by hand, and every preset's matrix layers against
TensorFlow's own profiler on the built model (an independent count: it reads the graph, not our spec walk)."""

from __future__ import annotations

import pytest

from engine.architectures.flops import flop_count, training_flops
from engine.architectures.presets import PRESETS, get_preset


def test_seed001_by_hand() -> None:
    # 28x28x1 -> conv 3x3x32 valid (26x26x32) -> pool (13x13x32) -> conv 3x3x64 (11x11x64) -> pool (5x5x64)
    # -> conv 3x3x64 (3x3x64) -> flatten 576 -> dense 64 -> dense 10. Multiply-adds per layer:
    macs = {
        "block1_conv": 26 * 26 * 32 * (3 * 3 * 1),
        "block2_conv": 11 * 11 * 64 * (3 * 3 * 32),
        "block3_conv": 3 * 3 * 64 * (3 * 3 * 64),
        "dense1": 576 * 64,
        "output": 64 * 10,
    }
    assert sum(macs.values()) == 2_794_240
    count = flop_count(get_preset("seed001-cnn3").spec)
    forward = {layer.name: layer.matrix_forward for layer in count.layers if layer.matrix_forward}
    assert forward == {name: 2 * n for name, n in macs.items()}
    # Training: forward + weight gradient + input gradient, except the first layer's input gradient.
    assert count.matrix_training_per_image == 3 * 2 * 2_794_240 - 2 * macs["block1_conv"] == 16_376_064
    # Element-wise work is a few percent of the total, not more.
    assert 0 < count.training_per_image - count.matrix_training_per_image < 0.03 * count.training_per_image
    assert count.optimizer_per_step == 12 * 93_322  # Adam, the report's 93,322 parameters


def test_a_training_run_counts_epochs_images_steps_and_validation() -> None:
    count = flop_count(get_preset("seed001-cnn3").spec)
    per_image, forward, step = count.training_per_image, count.forward_per_image, count.optimizer_per_step
    # 1,000 training images in batches of 64 = 16 steps (the last one short), 250 validation images, 3 epochs.
    expected = 3 * (1_000 * per_image + 16 * step + 250 * forward)
    assert training_flops(count, 1_000, 250, epochs=3, batch_size=64) == expected
    assert training_flops(count, 0, 0, epochs=3, batch_size=64) == 0


def _profiled_matrix_flops(spec) -> dict[str, int]:
    """TensorFlow's profiler on the frozen inference graph: FLOPs of each Conv2D and MatMul, by Keras layer."""
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    from engine.architectures.build import build_model

    model = build_model(spec, compile=False)
    function = tf.function(lambda x: model(x, training=False))
    frozen = convert_variables_to_constants_v2(function.get_concrete_function(tf.TensorSpec([1, *spec.input_shape])))
    options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
    options["output"] = "none"
    root = tf.compat.v1.profiler.profile(
        graph=frozen.graph, run_meta=tf.compat.v1.RunMetadata(), cmd="graph", options=options
    )
    matrix_ops = {op.name: op.type for op in frozen.graph.get_operations() if op.type in ("Conv2D", "MatMul")}
    found: dict[str, int] = {}
    stack = list(root.children)
    while stack:
        node = stack.pop()
        stack.extend(node.children)
        if node.name in matrix_ops:
            layer = node.name.split("/")[1].rsplit("_", 1)[0]  # "digitlab_cnn_1/block2_conv_1/convolution"
            found[layer] = found.get(layer, 0) + node.float_ops
    return found


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_matches_tensorflows_profiler(name: str) -> None:
    spec = get_preset(name).spec
    ours = {layer.name: layer.matrix_forward for layer in flop_count(spec).layers if layer.matrix_forward}
    assert _profiled_matrix_flops(spec) == ours


@pytest.mark.slow  # a subprocess
def test_presets_json_carries_each_presets_flops(tmp_path, monkeypatch) -> None:
    import json
    import subprocess
    import sys

    monkeypatch.setenv("DIGIT_LAB_CACHE", str(tmp_path))
    out = subprocess.run(
        [sys.executable, "-m", "engine", "presets", "--json"], capture_output=True, text=True, check=True
    ).stdout
    rows = {row["name"]: row for row in json.loads(out)}
    assert set(rows) == set(PRESETS)
    seed001 = rows["seed001-cnn3"]
    # The hand count above: 2 x 2,794,240 matrix FLOPs forward; 16,376,064 of training in the matrix layers alone.
    assert 2 * 2_794_240 < seed001["forward_flops_per_image"] < 1.03 * 2 * 2_794_240
    assert 16_376_064 < seed001["training_flops_per_image"] < 1.03 * 16_376_064

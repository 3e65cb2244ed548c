"""The exported Keras recipe: self-contained Python for plain Keras that reproduces a run (`to_keras_code`).

With only a spec, the code that builds and compiles the model; with a `TrainConfig` and a dataset, the whole
recipe a run follows: loading the data with public libraries (`PUBLIC_LOADERS`, or an upload's files), merging
classes, the training subset, the split, the model, the learning-rate schedule, augmentation and `fit`. The
notebook report (`engine.reports.notebook`) cuts this recipe into cells; the dashboard's Train page shows it. It
uses only public names of the datasets and training packages; layer names match `architectures.shapes.layer_table`.
"""

from __future__ import annotations

import inspect

from engine.architectures.shapes import layer_table
from engine.architectures.spec import ModelSpec
from engine.datasets import parse_label_mapping
from engine.datasets.transforms import class_quotas, stratified_indices
from engine.datasets.uploads import UPLOAD_PREFIX, is_upload_name, upload_info, uploads_dir
from engine.errors import InvalidConfig
from engine.test_time_views import MEAN_LAYER, MIRROR_LAYER
from engine.training.config import TrainConfig
from engine.training.pipeline import PREFETCH_BATCHES, VALIDATION_BATCH
from engine.training.precision import choose_precision


def to_keras_code(
    spec: ModelSpec, config: TrainConfig | None = None, dataset: str | None = None, precision: str | None = None
) -> str:
    """Self-contained Python for plain Keras (for copy and paste).

    With only `spec`: the code that builds and compiles the same model. With a `TrainConfig` and a dataset name:
    the whole recipe a run follows — loading that dataset, class merging, the training subset, scaling to 0..1,
    the stratified validation split (or k-fold fold), the model, the learning-rate schedule, augmentation, early
    stopping, `fit` with the run's batch size and epochs, and the test score — as `engine.training` does it.
    Label smoothing goes into the loss; `precision` is the one the run trained its hidden layers in (a stored
    run's history says which); None means the one `choose_precision` picks on this machine.
    """
    layer_table(spec)
    if config is None or dataset is None:
        return (
            "\n".join(["import keras", "from keras import layers", "", *_model_lines(spec), "model.summary()"]) + "\n"
        )
    if precision is None:
        precision = choose_precision(spec)
    return _recipe(spec, config, dataset, precision)


# Plain Keras for `engine.test_time_views`' two layers, written out so the recipe needs no Digit Lab code.
_VIEW_LAYER_LINES = [
    "# Test-time mirror views: when predicting, each image and its left-right mirror go through the network",
    "# together and the output layer gets the mean of their features, so the logits are the mean of theirs.",
    "# While training, both layers pass their input through.",
    "class MirrorViews(layers.Layer):",
    "    def call(self, images, training=None):",
    "        if training:",
    "            return images",
    "        return keras.ops.concatenate([images, keras.ops.flip(images, axis=2)], axis=0)",
    "",
    "",
    "class MeanOfViews(layers.Layer):",
    "    def call(self, features, training=None):",
    "        if training:",
    "            return features",
    "        return keras.ops.mean(keras.ops.reshape(features, (2, -1, *features.shape[1:])), axis=0)",
    "",
    "",
]


def _model_lines(
    spec: ModelSpec,
    learning_rate: str | None = None,
    label_smoothing: float = 0.0,
    precision: str = "float32",
    test_time_mirror: bool = False,
) -> list[str]:
    lines = [
        *(_VIEW_LAYER_LINES if test_time_mirror else []),
        'model = keras.Sequential(name="digitlab_cnn")',
        f"model.add(keras.Input(shape={tuple(spec.input_shape)!r}))",
    ]
    if test_time_mirror:
        lines.append(f'model.add(MirrorViews(name="{MIRROR_LAYER}"))')
    # Keras' default momentum is left out of the code, as a user would write it.
    momentum = (
        "" if spec.batch_norm_momentum == ModelSpec.batch_norm_momentum else f"momentum={spec.batch_norm_momentum!r}, "
    )
    for index, block in enumerate(spec.conv_blocks, 1):
        lines.append(
            f"model.add(layers.Conv2D({block.filters}, {block.kernel_size}, strides={block.stride}, "
            f'padding="{block.padding}", activation="{block.activation}", name="block{index}_conv"))'
        )
        if block.batch_norm == "after_conv":
            lines.append(f'model.add(layers.BatchNormalization({momentum}name="block{index}_bn"))')
        if block.pool != "none":
            pool = "MaxPooling2D" if block.pool == "max" else "AveragePooling2D"
            lines.append(
                f"model.add(layers.{pool}({block.pool_size}, strides={block.effective_pool_stride}, "
                f'name="block{index}_pool"))'
            )
        if block.batch_norm == "after_pool":
            lines.append(f'model.add(layers.BatchNormalization({momentum}name="block{index}_bn"))')
        if block.dropout > 0:
            lines.append(f'model.add(layers.Dropout({block.dropout}, name="block{index}_dropout"))')
    lines.append('model.add(layers.Flatten(name="flatten"))')
    for index, dense in enumerate(spec.dense_layers, 1):
        lines.append(f'model.add(layers.Dense({dense.units}, activation="{dense.activation}", name="dense{index}"))')
        if dense.dropout > 0:
            lines.append(f'model.add(layers.Dropout({dense.dropout}, name="dense{index}_dropout"))')
    optimizer = {"adam": "Adam", "sgd": "SGD", "rmsprop": "RMSprop"}[spec.optimizer]
    if test_time_mirror:
        lines.append(f'model.add(MeanOfViews(name="{MEAN_LAYER}"))')
    lines.append(f'model.add(layers.Dense({spec.num_classes}, activation="{spec.output_activation}", name="output"))')
    if precision != "float32":
        lines += [
            f"# Hidden layers compute in {precision} (weights stay float32); the softmax output stays float32.",
            "for layer in model.layers[:-1]:",
            f'    layer.dtype_policy = "{precision}"',
        ]
    loss = (
        f"keras.losses.CategoricalCrossentropy(label_smoothing={label_smoothing!r})"
        if label_smoothing
        else f'"{spec.loss}"'
    )
    lines += [
        "model.compile(",
        f"    optimizer=keras.optimizers.{optimizer}(learning_rate={learning_rate or repr(spec.learning_rate)}),",
        f"    loss={loss},",
        '    metrics=["accuracy"],',
        ")",
    ]
    return lines


# How each public dataset is loaded with public libraries alone, as raw uint8 images (n, h, w) and int64 labels,
# split exactly as `engine.datasets` splits it.
PUBLIC_LOADERS = {
    "digits": [
        "digits = load_digits()",
        'images, labels = digits.images.astype("uint8"), digits.target.astype("int64")  # pixel counts 0..16',
        "# Digit Lab's split of the bundled digits: 80/20, stratified by class, random_state=42.",
        "x_train, x_test, y_train, y_test = train_test_split(",
        "    images, labels, test_size=0.2, stratify=labels, random_state=42",
        ")",
        "VALUE_MAX = 16",
    ],
    "uci-optdigits": [
        "optdigits = fetch_ucirepo(id=80)",
        'images = optdigits.data.features.to_numpy().reshape(-1, 8, 8).astype("uint8")  # pixel counts 0..16',
        'labels = optdigits.data.targets.to_numpy().ravel().astype("int64")',
        "# 80/20 at random (not stratified), random_state=42, as seed document 002 split it.",
        "x_train, x_test, y_train, y_test = train_test_split(images, labels, test_size=0.2, random_state=42)",
        "VALUE_MAX = 16",
    ],
    "mnist": [
        "(x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()  # the official 60k/10k split",
        "VALUE_MAX = 255",
    ],
    "fashion-mnist": [
        "(x_train, y_train), (x_test, y_test) = keras.datasets.fashion_mnist.load_data()  # official 60k/10k split",
        "VALUE_MAX = 255",
    ],
}

_LOADER_IMPORTS = {
    "digits": ["from sklearn.datasets import load_digits"],
    "uci-optdigits": ["from ucimlrepo import fetch_ucirepo  # pip install ucimlrepo"],
}


# Uploaded data (`upload-<16 hex>`): no public source holds it, so the recipe reads the files from DATA_PATH as the
# engine reads an upload (`datasets.mnist_like.read_local`): the four IDX files (raw or .gz) first, else one npz.
_FILE_LOADER = [
    "# This dataset was uploaded to Digit Lab: no public source holds it. DATA_PATH is the folder Digit Lab keeps",
    "# the files in; elsewhere, copy them (the four IDX files, raw or .gz, or one .npz with x_train, y_train,",
    "# x_test, y_test) and point DATA_PATH at their folder.",
    "DATA_PATH = pathlib.Path({path!r})",
    "",
    "",
    "def read_idx(*names):",
    "    for path in [DATA_PATH / name for name in names] + [DATA_PATH / (name + '.gz') for name in names]:",
    "        if path.is_file():",
    "            raw = path.read_bytes()",
    "            raw = gzip.decompress(raw) if raw[:2] == b'\\x1f\\x8b' else raw",
    "            shape = struct.unpack('>' + 'I' * raw[3], raw[4 : 4 + 4 * raw[3]])",
    "            return np.frombuffer(raw, np.uint8, offset=4 + 4 * raw[3]).reshape(shape)",
    "    return None",
    "",
    "",
    "parts = [",
    "    read_idx('train-images-idx3-ubyte', 'train-images.idx3-ubyte'),",
    "    read_idx('train-labels-idx1-ubyte', 'train-labels.idx1-ubyte'),",
    "    read_idx('t10k-images-idx3-ubyte', 't10k-images.idx3-ubyte'),",
    "    read_idx('t10k-labels-idx1-ubyte', 't10k-labels.idx1-ubyte'),",
    "]",
    "if any(part is None for part in parts):",
    "    with np.load(sorted(DATA_PATH.glob('*.npz'))[0], allow_pickle=False) as arrays:",
    "        parts = [arrays[key] for key in ('x_train', 'y_train', 'x_test', 'y_test')]",
    "x_train, y_train, x_test, y_test = parts  # the files' own train/test split",
    "VALUE_MAX = {value_max!r}  # the pixel scaling chosen when the files were uploaded",
]


def dataset_loader(dataset: str) -> tuple[list[str], list[str]] | None:
    """(loading lines, imports) for `dataset`, or None when the recipe cannot load it."""
    if dataset in PUBLIC_LOADERS:
        return PUBLIC_LOADERS[dataset], _LOADER_IMPORTS.get(dataset, [])
    if is_upload_name(dataset):
        folder = str(uploads_dir() / dataset.removeprefix(UPLOAD_PREFIX))  # checked: 16 hex characters
        fill = {"path": folder, "value_max": upload_info(dataset).value_max}
        lines = [line.format(**fill) if "!r}" in line else line for line in _FILE_LOADER]
        return lines, ["import gzip", "import pathlib", "import struct"]
    return None


def _subset_helpers() -> list[str]:
    """The engine's own subset draw, copied into the recipe as source so the subset is the engine's row for row."""
    quotas, draw = (inspect.getsource(function).rstrip() for function in (class_quotas, stratified_indices))
    return [quotas, "", "", draw]


# Keras' cosine decay with a linear warm-up from LEARNING_RATE / 25 over `warmup_steps`: one-cycle and the cosine
# schedule's warm-up differ only in how many steps warm up.
_WARMUP_THEN_COSINE = [
    "learning_rate = keras.optimizers.schedules.CosineDecay(",
    "    LEARNING_RATE / 25,",
    "    decay_steps=max(1, total_steps - warmup_steps),",
    "    alpha=0.0,",
    "    warmup_target=LEARNING_RATE,",
    "    warmup_steps=warmup_steps,",
    ")",
]


def _recipe(spec: ModelSpec, config: TrainConfig, dataset: str, precision: str = "float32") -> str:
    loader = dataset_loader(dataset)
    if loader is None:
        raise InvalidConfig(f"No Keras recipe for dataset {dataset!r}; choose one of: {', '.join(PUBLIC_LOADERS)}.")
    lines = [
        f'"""Train the Digit Lab model on {dataset} with plain Keras: the same data, split, model and schedule."""',
        "",
        "import math",
        "",
        "import keras",
        "import numpy as np",
        "import tensorflow as tf",
        "from keras import layers",
        *(["from sklearn.model_selection import StratifiedKFold"] if config.cv_folds else []),
        "from sklearn.model_selection import train_test_split",
        *loader[1],
        "",
        f"SEED = {config.seed}",
        f"EPOCHS = {config.epochs}",
        f"BATCH_SIZE = {config.batch_size}",
        f"LEARNING_RATE = {spec.learning_rate!r}",
        "",
        "# --- data ------------------------------------------------------------------",
        *loader[0],
        "y_train, y_test = y_train.astype(np.int64), y_test.astype(np.int64)",
    ]
    if config.label_mapping:
        mapping = parse_label_mapping(config.label_mapping, 10)
        table = [int(v) for v in mapping.lookup(10)]
        lines += [
            f"# Merge classes ({mapping.name}: {mapping.describe()}): MERGE[original class] = new class.",
            f"MERGE = np.array({table})",
            "y_train, y_test = MERGE[y_train], MERGE[y_test]",
        ]
    if config.limit_train:
        lines += [
            "",
            "",
            *_subset_helpers(),
            "",
            "",
            f"# A stratified training subset of {config.limit_train} images, drawn with the seed.",
            f"subset = stratified_indices(y_train, {config.limit_train}, SEED)",
            "x_train, y_train = x_train[subset], y_train[subset]",
        ]
    lines += ["", "rows = np.arange(len(y_train))"]
    if config.cv_folds:
        lines += [
            f"# Fold {config.cv_fold + 1} of a stratified {config.cv_folds}-fold split validates; the rest trains.",
            f"folds = StratifiedKFold(n_splits={config.cv_folds}, shuffle=True, random_state=SEED)",
            f"fit_rows, val_rows = list(folds.split(np.zeros(len(rows)), y_train))[{config.cv_fold}]",
        ]
    elif config.validation_split:
        lines += [
            f"# A stratified, seeded hold-out of {config.validation_split:g} validates (Keras' own validation_split=",
            "# would take the last rows unshuffled instead).",
            "try:",
            f"    fit_rows, val_rows = train_test_split(rows, test_size={config.validation_split!r}, stratify=y_train, "
            "random_state=SEED)",
            "except ValueError:  # too few images per class to stratify",
            f"    fit_rows, val_rows = train_test_split(rows, test_size={config.validation_split!r}, "
            "random_state=SEED)",
            "fit_rows, val_rows = np.sort(fit_rows), np.sort(val_rows)",
        ]
    else:
        lines += ["fit_rows, val_rows = rows, rows[:0]  # no validation split"]
    sparse = spec.loss == "sparse_categorical_crossentropy"
    lines += [
        "",
        "",
        "def scaled(images):",
        '    """Raw pixels to float32 in 0..1 with a channel axis."""',
        "    return np.divide(images, np.float32(VALUE_MAX), dtype=np.float32).reshape(images.shape[:3] + (1,))",
        "",
        "",
        "def targets(labels):",
        "    return labels"
        if sparse
        else f"    return np.eye({spec.num_classes}, dtype=np.float32)[labels]  # one-hot",
        "",
        "",
        "x_fit, t_fit = scaled(x_train[fit_rows]), targets(y_train[fit_rows])",
        "x_val, t_val = scaled(x_train[val_rows]), targets(y_train[val_rows])",
        "x_test, t_test = scaled(x_test), targets(y_test)",
        "",
        "# --- model and learning rate ----------------------------------------------",
        "keras.utils.set_random_seed(SEED)",
        "steps_per_epoch = math.ceil(len(x_fit) / BATCH_SIZE)",
        "total_steps = max(1, steps_per_epoch * EPOCHS)",
    ]
    if config.lr_schedule == "one_cycle":
        lines += [
            "# One-cycle: warm up from LEARNING_RATE / 25 over the first 30 % of steps, then cosine-anneal to 0.",
            "warmup_steps = max(1, int(0.3 * total_steps))",
            *_WARMUP_THEN_COSINE,
        ]
    elif config.lr_schedule == "cosine" and config.warmup_fraction:
        lines += [
            f"# Linear warm-up from LEARNING_RATE / 25 over the first {config.warmup_fraction:g} of steps, then cosine "
            "decay to 0.",
            f"warmup_steps = int({config.warmup_fraction!r} * total_steps)",
            *_WARMUP_THEN_COSINE,
        ]
    elif config.lr_schedule == "cosine":
        lines += [
            "# Cosine decay from LEARNING_RATE to 0 over all steps.",
            "learning_rate = keras.optimizers.schedules.CosineDecay(LEARNING_RATE, decay_steps=total_steps, alpha=0.0)",
        ]
    else:
        lines += ["learning_rate = LEARNING_RATE  # constant"]
    lines += [
        *_model_lines(
            spec,
            learning_rate="learning_rate",
            label_smoothing=config.label_smoothing,
            precision=precision or "float32",
            test_time_mirror=config.test_time_mirror,
        ),
        "model.summary()",
        "",
    ]
    lines += [
        "# --- training --------------------------------------------------------------",
        "# Shuffled every epoch with the seed. (Digit Lab shuffles row numbers and gathers each batch, which saves",
        "# a copy of the images; the batches are the same kind.)",
    ]
    if config.augment_flip:
        lines += [
            "# Random left-right flips: a fair coin per image and epoch, from a seeded stream that re-draws each epoch",
            "# (a stateful random op in a parallel map would draw in thread order, and the run would not repeat).",
            "flip_coins = tf.data.Dataset.random(seed=SEED, rerandomize_each_iteration=True)",
            "flip_coins = flip_coins.map(lambda draw: draw % 2 == 1)",
            "",
            "",
            "def mirror_where(images, coins):",
            "    return tf.where(coins[:, None, None, None], tf.reverse(images, axis=[2]), images)",
            "",
            "",
            "train_data = (",
            "    tf.data.Dataset.zip(",
            "        tf.data.Dataset.from_tensor_slices((x_fit, t_fit)).shuffle(",
            "            len(x_fit), seed=SEED, reshuffle_each_iteration=True",
            "        ),",
            "        flip_coins,",
            "    )",
            "    .batch(BATCH_SIZE)",
            "    .map(lambda pair, coins: (mirror_where(pair[0], coins), pair[1]))",
            ")",
        ]
    else:
        lines += [
            "train_data = (",
            "    tf.data.Dataset.from_tensor_slices((x_fit, t_fit))",
            "    .shuffle(len(x_fit), seed=SEED, reshuffle_each_iteration=True)",
            "    .batch(BATCH_SIZE)",
            ")",
        ]
    if config.augmentation:
        parts = []
        if config.augment_shift:
            shift = config.augment_shift
            parts.append(f'    layers.RandomTranslation({shift!r}, {shift!r}, fill_mode="constant", seed=SEED),')
        if config.augment_rotation:
            turn = config.augment_rotation / 360.0
            parts.append(
                f'    layers.RandomRotation({turn!r}, fill_mode="constant", seed=SEED),  '
                f"# {config.augment_rotation:g} degrees"
            )
        if config.augment_zoom:
            parts.append(f'    layers.RandomZoom({config.augment_zoom!r}, fill_mode="constant", seed=SEED),')
        lines += [
            "# Augmentation: random shifts, rotations and zoom on every training batch (never on validation or test).",
            "augment = keras.Sequential([",
            *parts,
            '], name="augmentation")',
            "train_data = train_data.map(",
            "    lambda x, t: (augment(x, training=True), t), num_parallel_calls=tf.data.AUTOTUNE",
            ")",
        ]
    lines += [f"train_data = train_data.prefetch({PREFETCH_BATCHES})", "", "callbacks = []"]
    if config.early_stopping_patience:
        lines += [
            "callbacks.append(",
            "    keras.callbacks.EarlyStopping(",
            f'        monitor="val_loss", patience={config.early_stopping_patience}, restore_best_weights=True',
            "    )",
            ")",
        ]
    lines += [
        "history = model.fit(",
        "    train_data,",
        "    epochs=EPOCHS,",
        "    validation_data=(x_val, t_val) if len(x_val) else None,",
        f"    validation_batch_size={VALIDATION_BATCH},",
        "    callbacks=callbacks,",
        "    shuffle=False,  # train_data shuffles itself, with the seed",
        "    verbose=2,",
        ")",
        "",
        f"test_loss, test_accuracy = model.evaluate(x_test, t_test, batch_size={VALIDATION_BATCH}, verbose=0)",
        'print(f"test accuracy {test_accuracy:.4f} · test loss {test_loss:.4f}")',
    ]
    return "\n".join(lines) + "\n"

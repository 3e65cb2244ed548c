"""One validation step for every request: a model spec and a training config, checked before any run key exists.

Every path that can start a run calls `validate_request` first: `engine.runs.run_id_for` itself (so no store key
is ever made from an invalid request), the command line, the dashboard's sidebar and shared links, and Ray tasks
(whose driver and worker both compute the key). Each check raises `InvalidSpec` or `InvalidConfig` with a message
naming the setting, its value and the allowed range; the bounds come from `engine.limits`, as do the dashboard's
widget ranges.

The spec's checks are `shapes.check_values` (types, choices, ranges) and `shapes.validate` (those, then the layer
walk that finds collapsing shapes and counts parameters), reused here rather than copied: laying out the layers
needs sane values first. The config's checks live here.
"""

from __future__ import annotations

import math

import numpy as np

from engine.architectures.shapes import check_values as check_spec_values
from engine.architectures.shapes import validate as validate_spec_shapes
from engine.architectures.spec import ModelSpec
from engine.errors import InvalidConfig
from engine.limits import SpecLimits, TrainLimits, train_limits
from engine.training.config import LR_SCHEDULES, TrainConfig, check_types


def validate_request(
    spec: ModelSpec,
    config: TrainConfig,
    *,
    n_train: int,
    num_classes: int,
    spec_limits: SpecLimits | None = None,
    train_limits: TrainLimits | None = None,
) -> None:
    """Raise `InvalidSpec` or `InvalidConfig` unless (spec, config) can train on `n_train` images of `num_classes`.

    `n_train` is the dataset's training-set size and `num_classes` its class count after any class merging (the
    spec's `num_classes` once it is sized for the data). Limits default to those in force now.
    """
    validate_spec(spec, spec_limits)
    validate_config(config, n_train=n_train, num_classes=num_classes, limits=train_limits)
    if config.label_smoothing and spec.loss != "categorical_crossentropy":
        raise InvalidConfig(
            f"Label smoothing ({config.label_smoothing:g}) smooths one-hot targets: it needs the loss "
            f"categorical_crossentropy, and this model uses {spec.loss}. Change the loss or set smoothing to 0."
        )


def validate_spec(spec: ModelSpec, limits: SpecLimits | None = None) -> None:
    """Raise `InvalidSpec` when `spec` cannot be built within the limits; return quietly when it can."""
    validate_spec_shapes(spec, limits)


def validate_spec_values(spec: ModelSpec, limits: SpecLimits | None = None) -> None:
    """The spec checks short of laying out the layers: types, choices and ranges (shared links use these alone,
    so a model whose shapes collapse still opens, with the engine's message under the widgets)."""
    check_spec_values(spec, limits)


def validate_config_values(config: TrainConfig, limits: TrainLimits | None = None) -> None:
    """The checks that need no dataset: types, finite numbers, ranges and choices (shared links use these alone)."""
    limits = limits or train_limits()
    check_types(config)
    _whole("Epochs", config.epochs, 1, limits.max_epochs)
    _whole("Batch size", config.batch_size, 1, limits.max_batch_size)
    if not 0 <= config.validation_split < 1:  # also refuses NaN, whose comparisons are all False
        raise InvalidConfig(
            f"Validation split must be in [0, 1), got {config.validation_split}. 0.1 or 0.2 is typical."
        )
    _whole("The seed", config.seed, 0, limits.max_seed)
    # Patience beyond the epoch cap could never trigger; the cap also bounds the dashboard's widget.
    _whole("Early-stopping patience (0 = off)", config.early_stopping_patience, 0, limits.max_epochs)
    if config.early_stopping_patience and not (config.validation_split or config.cv_folds):
        raise InvalidConfig("Early stopping watches the validation loss: set a validation split above 0.")
    if config.lr_schedule not in LR_SCHEDULES:
        raise InvalidConfig(f"Unknown learning-rate schedule {config.lr_schedule!r}; choose {', '.join(LR_SCHEDULES)}.")
    if not 0 <= config.label_smoothing <= limits.max_label_smoothing:
        raise InvalidConfig(
            f"Label smoothing must be in [0, {limits.max_label_smoothing:g}], got {config.label_smoothing}. "
            "0.1 is typical; 0 = off."
        )
    if not 0 <= config.warmup_fraction <= limits.max_warmup_fraction:
        raise InvalidConfig(
            f"The warm-up fraction must be in [0, {limits.max_warmup_fraction:g}] of all steps, "
            f"got {config.warmup_fraction}."
        )
    if config.warmup_fraction and config.lr_schedule != "cosine":
        own = "warms up over its own first 30 %" if config.lr_schedule == "one_cycle" else "has none"
        raise InvalidConfig(
            f"A warm-up fraction ({config.warmup_fraction:g}) applies to the cosine schedule only; the "
            f"{config.lr_schedule} schedule {own}. Set it to 0 or choose cosine."
        )
    if config.limit_train < 0:
        raise InvalidConfig(f"The training-subset size must be 0 (all) or positive, got {config.limit_train}.")
    # Checked with augmentation off too: these values are part of the run key, whose JSON refuses NaN.
    if not (
        0 <= config.augment_shift < 1
        and 0 <= config.augment_zoom < 1
        and 0 <= config.augment_rotation <= limits.max_augment_rotation
    ):
        raise InvalidConfig(
            f"Augmentation: shift and zoom must be fractions in [0, 1), rotation 0 to {limits.max_augment_rotation:g} "
            f"degrees; got shift {config.augment_shift}, zoom {config.augment_zoom}, "
            f"rotation {config.augment_rotation}."
        )
    if config.cv_folds:
        if not 2 <= config.cv_folds <= limits.max_cv_folds:
            raise InvalidConfig(f"Cross-validation needs 2 to {limits.max_cv_folds} folds, got {config.cv_folds}.")
        if not 0 <= config.cv_fold < config.cv_folds:
            raise InvalidConfig(f"Fold {config.cv_fold} does not exist in a {config.cv_folds}-fold split.")
    elif config.cv_fold:
        raise InvalidConfig(f"Fold {config.cv_fold} is set without a fold count (cv_folds); set both or neither.")


def validate_config(config: TrainConfig, *, n_train: int, num_classes: int, limits: TrainLimits | None = None) -> None:
    """Raise `InvalidConfig` unless `config` can train on `n_train` images of `num_classes` classes."""
    limits = limits or train_limits()
    validate_config_values(config, limits)
    if config.limit_train and config.limit_train < 2 * num_classes:
        raise InvalidConfig(
            f"A training subset of {config.limit_train} is too small for {num_classes} classes; "
            f"use at least {2 * num_classes}."
        )
    used = min(n_train, config.limit_train) if config.limit_train else n_train
    if limits.max_train_examples and used > limits.max_train_examples:
        raise InvalidConfig(
            f"This server trains on at most {limits.max_train_examples:,} images; set a training "
            "subset of that size or less."
        )
    if not config.cv_folds and config.validation_split:
        held_out = math.floor(used * config.validation_split)
        if held_out < 1:
            raise InvalidConfig(
                f"A validation split of {config.validation_split} of {used} images holds out none; raise it or use 0."
            )
        if used - held_out < num_classes:
            raise InvalidConfig(
                f"A validation split of {config.validation_split} leaves {used - held_out} training "
                f"images for {num_classes} classes; lower it."
            )


def _whole(what: str, value: int, low: int, high: int) -> None:
    if not low <= value <= high:
        raise InvalidConfig(f"{what} must be between {low} and {high}, got {value}.")


# What every stored run's meta.json must hold, because listings, comparisons and pages read these fields
# without further checks: (dotted path, accepted types). A run missing one is flagged, never served.
_NUMBER = (int, float)
RUN_META_FIELDS: tuple[tuple[str, tuple[type, ...]], ...] = (
    ("run_id", (str,)),
    ("created", (str,)),
    ("preset", (str,)),
    ("dataset", (dict,)),
    ("dataset.name", (str,)),
    ("class_names", (list,)),
    ("spec", (dict,)),
    ("spec.conv_blocks", (list,)),
    ("spec.dense_layers", (list,)),
    ("spec.num_classes", (int,)),
    ("spec.learning_rate", _NUMBER),
    ("config", (dict,)),
    ("config.epochs", (int,)),
    ("config.batch_size", (int,)),
    ("config.seed", (int,)),
    ("parameters", (dict,)),
    ("parameters.total", (int,)),
    ("train_seconds", _NUMBER),
    ("epochs_run", (int,)),
    ("metrics", (dict,)),
    ("metrics.test_accuracy", _NUMBER),
    ("metrics.macro_f1", _NUMBER),
    ("metrics.test_loss", _NUMBER),
)


def validate_run_meta(meta: object, run_id: str | None = None) -> None:
    """Raise `InvalidRunMeta` unless a stored run's meta holds every field readers rely on, with its type.

    Stored meta is untrusted (anyone with access to the cache folder can edit it, and older versions wrote less),
    so the store runs this on every run it hands out or lists; the message names the first bad field.
    """
    from engine.errors import InvalidRunMeta

    if not isinstance(meta, dict):
        raise InvalidRunMeta(f"meta.json is not a JSON object (found {type(meta).__name__})")
    for path, kinds in RUN_META_FIELDS:
        value: object = meta
        for part in path.split("."):
            value = value.get(part, _MISSING) if isinstance(value, dict) else _MISSING
        if value is _MISSING:
            raise InvalidRunMeta(f"meta.json lacks {path}")
        # bool is an int subclass; a true/false where a count or score belongs is damage, not a value.
        if isinstance(value, bool) or not isinstance(value, kinds):
            raise InvalidRunMeta(f"meta.json has {path} of type {type(value).__name__}")
        if isinstance(value, float) and not math.isfinite(value) and path != "metrics.test_loss":
            raise InvalidRunMeta(f"meta.json has {path} = {value}")
    if run_id is not None and meta["run_id"] != run_id:
        raise InvalidRunMeta(f"meta.json names run {str(meta['run_id'])[:40]!r}, not its folder {run_id}")
    for index, block in enumerate(meta["spec"]["conv_blocks"], start=1):
        if not isinstance(block, dict) or not all(_whole_number(block.get(k)) for k in ("filters", "kernel_size")):
            raise InvalidRunMeta(f"meta.json has a malformed conv block {index}")
    for index, layer in enumerate(meta["spec"]["dense_layers"], start=1):
        if not isinstance(layer, dict) or not _whole_number(layer.get("units")):
            raise InvalidRunMeta(f"meta.json has a malformed dense layer {index}")
    if not all(isinstance(name, str) for name in meta["class_names"]):
        raise InvalidRunMeta("meta.json has a class name that is not text")
    warnings = meta.get("warnings", [])
    if not isinstance(warnings, list) or not all(isinstance(text, str) for text in warnings):
        raise InvalidRunMeta("meta.json has warnings that are not a list of text")


_MISSING = object()


def _whole_number(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def small_json_file_text(
    argument: str, flag: str, cap: int, error: type[Exception], wanted: str = "a JSON file"
) -> str:
    """The UTF-8 text of the file a command-line `flag` names: a regular file within `cap` bytes, checked before it
    is read (a folder, a device or a huge file is a one-line `error`, not a hang or a traceback)."""
    import os
    import stat

    try:
        st = os.stat(argument)
    except OSError as problem:
        raise error(f"{flag} {argument}: cannot be read ({problem.strerror or problem}).") from None
    if stat.S_ISDIR(st.st_mode):
        raise error(f"{flag} {argument} is a folder; give {wanted}.")
    if not stat.S_ISREG(st.st_mode):
        raise error(f"{flag} {argument} is not a regular file; give {wanted}.")
    if st.st_size > cap:
        raise error(f"{flag} {argument} is {st.st_size:,} bytes, over the {cap:,}-byte limit.")
    try:
        with open(argument, "rb") as handle:
            raw = handle.read(cap + 1)  # the size can change after the stat: never read past the cap
    except OSError as problem:
        raise error(f"{flag} {argument}: cannot be read ({problem.strerror or problem}).") from None
    if len(raw) > cap:
        raise error(f"{flag} {argument} is over the {cap:,}-byte limit.")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise error(f"{flag} {argument} is not UTF-8 text; give a JSON file.") from None


def spec_text(argument: str) -> str:
    """The JSON text of a `--spec` argument: the file it names, or the argument itself when no such path exists.

    A named path must be a regular file within `InputLimits.max_spec_bytes` (checked before reading, so naming a
    folder, a device or a huge file is a one-line error, not a hang or a traceback) holding UTF-8 text.
    """
    import os

    from engine.errors import InvalidSpec
    from engine.limits import input_limits

    cap = input_limits().max_spec_bytes
    if not os.path.lexists(argument):
        if len(argument.encode("utf-8", "replace")) > cap:
            raise InvalidSpec(f"The model spec text is over {cap:,} bytes; a spec is a few kB of JSON.")
        return argument
    return small_json_file_text(argument, "--spec", cap, InvalidSpec, "a JSON file (or JSON text)")


MAX_DRAWING_SIDE = 4 * 280  # the canvas is 280 px; a high-density screen sends it at up to 4x
MAX_DRAWING_BYTES = 8 * 2**20  # a PNG of the largest canvas, uncompressed, fits


def drawing_pixels(png: object) -> np.ndarray:
    """A drawing canvas's PNG (sent by the visitor's browser) as an RGBA uint8 array, checked before it is decoded.

    The bytes are the browser's to choose: a PNG that says it is 50,000 px square is a few kB yet decodes to
    gigabytes, so its size in bytes and the width and height in its header are checked first."""
    import io

    from PIL import Image

    from engine.errors import InvalidDataFile

    if not isinstance(png, bytes | bytearray) or not 0 < len(png) <= MAX_DRAWING_BYTES:
        raise InvalidDataFile(f"the drawing must be a PNG of at most {MAX_DRAWING_BYTES // 2**20} MB")
    try:
        image = Image.open(io.BytesIO(png))  # reads the header only
        width, height = image.size
        if image.format != "PNG":
            raise InvalidDataFile(f"the drawing must be a PNG, got {image.format}")
        if not (0 < width <= MAX_DRAWING_SIDE and 0 < height <= MAX_DRAWING_SIDE):
            raise InvalidDataFile(
                f"the drawing is {width}x{height} px; the canvas sends at most {MAX_DRAWING_SIDE}x{MAX_DRAWING_SIDE}"
            )
        return np.asarray(image.convert("RGBA"))
    except InvalidDataFile:
        raise
    except Image.DecompressionBombError:  # PIL's own guard, for headers far beyond ours
        raise InvalidDataFile(f"the drawing claims to be far larger than {MAX_DRAWING_SIDE} px a side") from None
    except Exception as error:  # PIL raises many kinds for a damaged file
        raise InvalidDataFile(f"the drawing is not a readable PNG ({type(error).__name__})") from None


MAX_DRAWING_OBJECTS_BYTES = 2 * 2**20  # a page of hand strokes is tens of kB


def drawing_objects(objects: object) -> dict:
    """A canvas's fabric.js objects (sent by the visitor's browser), to be kept for the session and sent back to
    the canvas: a JSON object of bounded size, so one visitor cannot park hundreds of megabytes on the server."""
    import json

    from engine.errors import InvalidDataFile

    if not isinstance(objects, dict):
        raise InvalidDataFile("the drawing's strokes must be a JSON object")
    try:
        size = len(json.dumps(objects, allow_nan=False))
    except (TypeError, ValueError, RecursionError):
        raise InvalidDataFile("the drawing's strokes are not plain JSON") from None
    if size > MAX_DRAWING_OBJECTS_BYTES:
        raise InvalidDataFile(
            f"the drawing's strokes take {size / 2**20:.1f} MB; "
            f"at most {MAX_DRAWING_OBJECTS_BYTES // 2**20} MB are kept"
        )
    return objects


def validate_probe_images(images: object, image_hw: tuple[int, int], value_max: float) -> np.ndarray:
    """An image handed to a probe (an --image .npy, a drawn or uploaded array), as float64 (N, H, W).

    It must be one raw image (H, W) or a stack (N, H, W) of the run's image size, finite, numeric and within the
    dataset's own value range 0..value_max (as the dataset stores it, not rescaled to 0..1).
    """
    from engine.errors import InvalidDataFile
    from engine.limits import ProbeLimits

    array = np.asarray(images)
    if array.dtype.kind not in "biuf":
        raise InvalidDataFile(f"the image array holds {array.dtype} values; it needs plain numbers")
    if array.ndim == 2:
        array = array[None]
    h, w = image_hw
    if array.ndim != 3 or array.shape[1:] != (h, w):
        raise InvalidDataFile(f"the model takes images of {h}x{w} (an H x W or N x H x W array), got {array.shape}")
    most = ProbeLimits().max_explain_images
    if not 1 <= len(array) <= most:
        raise InvalidDataFile(f"give 1 to {most} images at once, got {len(array)}")
    array = array.astype(np.float64)
    if not np.isfinite(array).all():
        raise InvalidDataFile("the image array holds NaN or infinite values")
    if array.min() < 0 or array.max() > value_max:
        raise InvalidDataFile(
            f"pixel values must lie in this dataset's range 0..{value_max:g} (as it stores them), got "
            f"{array.min():g}..{array.max():g}"
        )
    return array


def validate_search_space(space, spec: ModelSpec, config: TrainConfig, limits=None) -> None:
    """Raise `InvalidSweep` unless every parameter of `space` (an `engine.sweeps.space.SearchSpace`) is a sweepable
    setting of this model with a sane range or choices whose every end is a value the spec and config validators
    accept (so a range can never reach past what a widget or a link may carry)."""
    from engine.errors import DigitLabError
    from engine.limits import sweep_limits
    from engine.sweeps.space import InvalidSweep, apply_params, describe_names, is_param_name

    limits = limits or sweep_limits()
    if not space.params:
        raise InvalidSweep("The search space is empty: vary at least one setting.")
    if len(space.params) > limits.max_params:
        raise InvalidSweep(f"A sweep varies at most {limits.max_params} settings, got {len(space.params)}.")
    if len(set(space.names)) != len(space.names):
        raise InvalidSweep("A setting appears twice in the search space.")
    for param in space.params:
        name = param.name[:40]
        if not is_param_name(param.name):
            raise InvalidSweep(f"{name!r} is not a setting a sweep can vary; {describe_names()}")
        if param.kind == "choice":
            if len(param.choices) > limits.max_choices:
                raise InvalidSweep(f"{name}: at most {limits.max_choices} choices, got {len(param.choices)}.")
            ends = list(param.choices)
        else:
            if not param.low < param.high:
                raise InvalidSweep(f"{name}: the range needs low < high, got {param.low} to {param.high}.")
            if param.log and param.low <= 0:
                raise InvalidSweep(f"{name}: a log range needs low > 0, got {param.low}.")
            if not 1 <= param.grid_points <= limits.max_grid_points:
                raise InvalidSweep(
                    f"{name}: grid_points must be 1 to {limits.max_grid_points}, got {param.grid_points}."
                )
            ends = [param.low, param.high]
        for value in ends:
            try:
                trial_spec, trial_config = apply_params(spec, config, {param.name: value})
                validate_spec_values(trial_spec)
                validate_config_values(trial_config)
            except InvalidSweep:
                raise
            except (DigitLabError, TypeError, ValueError) as error:
                raise InvalidSweep(f"{name} = {str(value)[:40]!r} is refused: {error}") from None


def validate_sweep_size(trials: int, runs_per_trial: int, limits=None) -> None:
    """Raise `InvalidSweep` unless `trials` (each of `runs_per_trial` runs) fits the caps in force."""
    from engine.limits import sweep_limits
    from engine.sweeps.space import InvalidSweep

    limits = limits or sweep_limits()
    if isinstance(trials, bool) or not isinstance(trials, int) or not 1 <= trials <= limits.max_trials:
        raise InvalidSweep(f"A sweep runs 1 to {limits.max_trials} trials here, got {trials}.")
    if trials * runs_per_trial > limits.max_runs:
        raise InvalidSweep(
            f"{trials} trials of {runs_per_trial} runs each is {trials * runs_per_trial} trainings, above this "
            f"server's limit of {limits.max_runs}; ask for fewer trials, folds or seeds."
        )


def space_text(argument: str) -> str:
    """The text of a `--space` JSON file: a regular UTF-8 file within `SweepLimits.max_space_bytes`, checked before
    it is read (a folder, a device or a huge file is a one-line error)."""
    from engine.limits import sweep_limits
    from engine.sweeps.space import InvalidSweep

    cap = sweep_limits().max_space_bytes
    return small_json_file_text(argument, "--space", cap, InvalidSweep)


def validate_probe_record(record: object, *, probe: str, params: dict, run_digest: str, version: int) -> dict:
    """The `result` of a stored probe record, after checking that the record is what was asked for.

    Probe results kept beside a run (`engine.probes.stored`) are read back from a folder anyone with access to the
    cache can edit, so the record must name the probe, its parameters, the exact run files it was computed from
    (the run manifest's digest: a run retrained under the same key has other weights) and the current format.
    Raises `InvalidProbeRecord`; each probe then checks its own fields with `probe_numbers`.
    """
    from engine.errors import InvalidProbeRecord

    if not isinstance(record, dict):
        raise InvalidProbeRecord(f"the record is not a JSON object (found {type(record).__name__})")
    expected = {"version": version, "probe": probe, "params": params, "run_digest": run_digest}
    for name, value in expected.items():
        if record.get(name, _MISSING) != value:
            raise InvalidProbeRecord(f"the record's {name} is not this probe's ({str(record.get(name))[:60]!r})")
    result = record.get("result")
    if not isinstance(result, dict):
        raise InvalidProbeRecord("the record holds no result object")
    return result


def probe_numbers(
    value: object,
    what: str,
    *,
    shape: tuple[int | None, ...],
    whole: bool = False,
    low: float | None = None,
    high: float | None = None,
) -> np.ndarray:
    """A stored probe's list of numbers as an array of `shape` (None = any length), finite, whole when asked,
    within low..high; raises `InvalidProbeRecord` naming `what`."""
    from engine.errors import InvalidProbeRecord

    def flat(item: object) -> bool:  # numbers only: no bools, strings, None or nested objects sneak in
        if isinstance(item, list):
            return all(flat(inner) for inner in item)
        return isinstance(item, int | float) and not isinstance(item, bool)

    if not isinstance(value, list) or not flat(value):
        raise InvalidProbeRecord(f"{what} is not a list of numbers")
    array = np.asarray(value, dtype=np.float64)
    fits = array.ndim == len(shape) and all(
        want is None or got == want for got, want in zip(array.shape, shape, strict=True)
    )
    if not fits:
        raise InvalidProbeRecord(f"{what} has shape {array.shape}, expected {shape}")
    if not np.isfinite(array).all():
        raise InvalidProbeRecord(f"{what} holds NaN or infinite values")
    if whole and not np.array_equal(array, np.round(array)):
        raise InvalidProbeRecord(f"{what} holds fractions where whole numbers belong")
    if array.size and ((low is not None and array.min() < low) or (high is not None and array.max() > high)):
        raise InvalidProbeRecord(f"{what} lies outside {low}..{high}")
    return array.astype(np.int64) if whole else array

"""The training-request arguments the training verbs share: dataset, preset or spec, one flag per `TrainConfig`
setting (`config_arguments`), the executor, and the validated request they make (`_request`)."""

from __future__ import annotations

import argparse

from engine.architectures import DEFAULT_PRESET, ModelSpec
from engine.datasets import Dataset, load_dataset
from engine.datasets.registry import DEFAULT_DATASET
from engine.executors import Executor, get_executor
from engine.runs import preset_request
from engine.textfiles import spec_text
from engine.training.config import TrainConfig, settings
from engine.training.data import transformed_dataset
from engine.validation import validate_request


def _executor_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--executor",
        choices=["local", "ray"],
        default=None,
        help="where the runs train: local (default, one after another here) or ray (a Ray cluster "
        "from RAY_ADDRESS, else a local Ray instance); default $DIGIT_LAB_EXECUTOR or local",
    )


def _executor(args: argparse.Namespace) -> Executor:
    return get_executor(args.executor)


def _training_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", default=DEFAULT_DATASET)
    parser.add_argument("--data-path", help="local folder or file with the dataset (IDX files or mnist.npz)")
    parser.add_argument("--preset", default=None, help="preset name (digit-lab presets)")
    parser.add_argument("--spec", help="a model spec as a JSON file path or JSON text, instead of a preset")
    parser.add_argument("--lr", type=float, help="learning rate")
    config_arguments(parser)
    parser.add_argument("--json", action="store_true")


_FLAG_TYPES = {"int": int, "float": float, int: int, float: float}


def config_arguments(parser: argparse.ArgumentParser, config_type: type | None = None) -> None:
    """One flag per setting of `config_type` (default TrainConfig) that has one, from the field's `SettingInfo`.

    Every default is None, so a flag not given leaves the preset's (or TrainConfig's) value in place."""
    from dataclasses import fields

    kinds = {f.name: f.type for f in fields(config_type or TrainConfig)}
    for name, info in settings(config_type).items():
        if info.flag is None:
            continue
        options: dict = {"dest": name, "help": info.help}
        if kinds[name] in ("bool", bool):
            options.update(action="store_true", default=None)
        elif kinds[name] in _FLAG_TYPES:
            options["type"] = _FLAG_TYPES[kinds[name]]
        if info.choices:
            options["choices"] = list(info.choices)
        parser.add_argument(info.flag, **options)


def config_flag_names(config_type: type | None = None) -> tuple[str, ...]:
    """The settings `config_arguments` gives a flag (their argparse dest is the setting's name)."""
    return tuple(name for name, info in settings(config_type).items() if info.flag is not None)


def _request(args: argparse.Namespace) -> tuple[Dataset, ModelSpec, TrainConfig, str]:
    """(dataset, spec, config, preset name) from the training arguments, validated before anything runs."""
    dataset, spec, config, preset = _unchecked_request(args)
    # k-fold replaces the validation split by folds: a bad split must be refused here, before it is dropped.
    validate_request(spec, config, n_train=len(dataset.x_train), num_classes=spec.num_classes)
    return dataset, spec, config, preset


def _unchecked_request(args: argparse.Namespace) -> tuple[Dataset, ModelSpec, TrainConfig, str]:
    dataset = load_dataset(args.dataset, local_path=args.data_path)
    changes = {name: getattr(args, name) for name in config_flag_names()}
    if args.spec:
        spec = ModelSpec.from_json(spec_text(args.spec))
        config = TrainConfig().replace(**{k: v for k, v in changes.items() if v is not None})
        classes = transformed_dataset(dataset, config.replace(limit_train=0)).num_classes
        spec = spec.for_data(dataset.image_shape, classes)
        if args.lr is not None:
            spec = spec.with_learning_rate(args.lr)
        return dataset, spec, config, ""
    preset = args.preset or DEFAULT_PRESET
    spec, config = preset_request(preset, dataset, learning_rate=args.lr, **changes)
    return dataset, spec, config, preset

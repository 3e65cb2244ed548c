"""A sweep's checks: its search space (`validate_search_space`: names, ranges, choices and the caps in force, each
end a value the spec and config checks accept), its size (`validate_sweep_size`), and the `--space` file
(`space_text`). Each raises `InvalidSweep`; `engine.sweeps.space` checks shapes and types only."""

from __future__ import annotations

from engine.architectures.checks import validate_spec_values
from engine.architectures.spec import ModelSpec
from engine.errors import DigitLabError
from engine.limits import SweepLimits, sweep_limits
from engine.sweeps.space import InvalidSweep, SearchSpace, apply_params, describe_names, is_param_name
from engine.textfiles import small_json_file_text
from engine.training.checks import validate_config_values
from engine.training.config import TrainConfig


def validate_search_space(
    space: SearchSpace, spec: ModelSpec, config: TrainConfig, limits: SweepLimits | None = None
) -> None:
    """Raise `InvalidSweep` unless every parameter of `space` (an `engine.sweeps.space.SearchSpace`) is a sweepable
    setting of this model with a sane range or choices whose every end is a value the spec and config validators
    accept (so a range can never reach past what a widget or a link may carry)."""
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


def validate_sweep_size(trials: int, runs_per_trial: int, limits: SweepLimits | None = None) -> None:
    """Raise `InvalidSweep` unless `trials` (each of `runs_per_trial` runs) fits the caps in force."""
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
    cap = sweep_limits().max_space_bytes
    return small_json_file_text(argument, "--space", cap, InvalidSweep)

"""The Sweep page's part of the link: the search space, sampler and trial settings, and the trial shown."""

from dashboard import state
from dashboard.links import PageView, Refused, ViewParam, choice, decode, single, whole_number
from engine.limits import sweep_limits
from engine.sweeps import InvalidSweep, SearchSpace
from engine.sweeps.space import is_param_name

PER_TRIAL = ("one run", "folds", "seeds")


def _space(token: str) -> tuple:
    """A sweep's search space token: decoded and parsed strictly (the page validates it against the model)."""
    try:
        space = SearchSpace.from_dict(decode(token))
    except (ValueError, InvalidSweep) as error:
        raise Refused(f"not a search space ({error})") from None
    unknown = [p.name for p in space.params if not is_param_name(p.name)]
    if unknown:
        raise Refused(f"{state.shorten(unknown[0], 30)} is not a setting a sweep can vary")
    return (token,)


def _trials(text: str) -> tuple:
    return single(whole_number, 1, sweep_limits().max_trials)(text)


VIEW = PageView(
    "sweep",
    (
        ViewParam("space", ("sweep_space",), lambda text: _space(text)),
        ViewParam("sampler", ("sweep_sampler",), single(choice(("grid", "random", "tpe"))), ("tpe",)),
        ViewParam("trials", ("sweep_trials",), lambda text: _trials(text)),
        ViewParam("sampler_seed", ("sweep_seed",), single(whole_number, 0, 2**31 - 1), (0,)),
        ViewParam("per_trial", ("sweep_per_trial",), single(choice(PER_TRIAL)), (PER_TRIAL[0],)),
        ViewParam("repeats", ("sweep_repeats",), single(whole_number, 2, 10), (3,)),
        ViewParam("metric", ("sweep_metric",), single(choice(("val_accuracy", "val_loss"))), ("val_accuracy",)),
        ViewParam("trial", ("sweep_trial",), single(whole_number, 0, 10_000)),
    ),
)

"""Sweep: search the sidebar preset's settings (grid, random or Optuna's TPE), every trial cached runs; parallel
coordinates, a sortable table, parameter importance and a paired comparison of two trials."""

import math

import pandas as pd
import streamlit as st

from charts.sweep import importance_bars, parallel_coordinates
from dashboard import components, job_panel, links, services, state
from dashboard.report_buttons import report_buttons
from engine.architectures.spec import OPTIMIZERS
from engine.errors import DigitLabError
from engine.jobs import JobRequest
from engine.limits import SpecLimits, sweep_limits
from engine.reports import sweep_subject
from engine.sweeps import (
    METRICS,
    SAMPLERS,
    InvalidSweep,
    Param,
    SearchSpace,
    SweepRequest,
    compare_trials,
    default_space,
    load_sweep,
    parameter_importance,
    plan_sweep,
    planned_tasks,
    run_sweep,
)
from engine.training.config import LR_SCHEDULES

st.title("Sweep")
st.caption(
    "Search the sidebar preset's settings: each trial trains (or reads from the store) one run, or one per fold or "
    "seed for a mean ± sd. The sweep is steered by a validation metric, never the test set; the same sweep again "
    "trains nothing."
)
components.link_problems()
ss = st.session_state
limits = sweep_limits()

# Settings the page offers: ranges (kind, log scale, widget bounds) and choices (the options shown).
RANGES = {
    "learning_rate": ("float", True, 1e-6, SpecLimits().max_learning_rate),
    "filters": ("int", True, 1, SpecLimits().max_filters),
    "dropout": ("float", False, 0.0, 0.95),
    "units": ("int", True, 1, SpecLimits().max_units),
}
CHOICES = {"batch_size": (8, 16, 32, 64, 128, 256), "optimizer": OPTIMIZERS, "lr_schedule": LR_SCHEDULES}


def preset_value(name: str) -> str:
    """The base model's own value of a range setting, shown beside its range."""
    spec = selection.spec
    value = {
        "learning_rate": spec.learning_rate,
        "filters": spec.conv_blocks[0].filters if spec.conv_blocks else None,
        "dropout": spec.dense_layers[0].dropout if spec.dense_layers else None,
        "units": spec.dense_layers[0].units if spec.dense_layers else None,
    }.get(name)
    return "none" if value is None else f"{value:g}"


selection = state.selection()
if not selection.ready:
    st.error(
        components.plain(selection.error or "Choose a dataset and a model in the sidebar."), icon=":material/warning:"
    )
    st.stop()
if not selection.preset:
    st.error("A sweep starts from a preset: pick one in the sidebar (the builder's custom model has no recipe).")
    st.stop()
base_spec, base_config = selection.spec, selection.config
used = {"epochs", "limit_train"}
ignored = [o.describe() for o in selection.overrides if o.setting not in used]
if ignored:
    st.info(
        f"The sweep starts from {components.plain(selection.preset)}'s recipe with the sidebar's epochs and training "
        f"subset; the sidebar's other changes ({components.plain(', '.join(ignored))}) are not used by the sweep.",
        icon=":material/info:",
    )

# A link's space fills the widgets once (later runs leave them to the user); settings the widgets cannot show are
# named, never dropped silently.
token = ss.get("sweep_space")
if token and ss.get("_sweep_seeded") != token:
    ss["_sweep_seeded"] = token
    try:
        linked = SearchSpace.from_dict(links.decode(token))
    except (ValueError, InvalidSweep):
        linked = SearchSpace(())
    shown, left = [], []
    for param in linked.params:
        lowest, highest = RANGES[param.name][2:] if param.name in RANGES else (0, 0)
        if (
            param.name in RANGES
            and param.kind == RANGES[param.name][0]
            and lowest <= param.low <= param.high <= highest
            and 1 <= param.grid_points <= limits.max_grid_points
        ):
            ss[f"sweep_low_{param.name}"], ss[f"sweep_high_{param.name}"] = param.low, param.high
            ss["sweep_grid_points"] = param.grid_points
            shown.append(param.name)
        elif param.name in CHOICES and param.kind == "choice" and set(param.choices) <= set(CHOICES[param.name]):
            ss[f"sweep_choices_{param.name}"] = list(param.choices)
            shown.append(param.name)
        else:
            left.append(param.name)
    ss["sweep_vary"] = shown
    if left:
        st.warning(
            f"The link's space varies {components.plain(', '.join(left))} in a way this page's widgets cannot show; "
            "those settings were left out. Use `digit-lab sweep --space FILE.json` for them.",
            icon=":material/link:",
        )

defaults = {p.name: p for p in default_space(base_spec, base_config).params}
if base_spec.dense_layers:
    units = base_spec.dense_layers[0].units
    defaults["units"] = Param("units", "int", low=max(1, units // 2), high=units * 2, log=True)
defaults["optimizer"] = Param("optimizer", "choice", choices=("adam", "rmsprop"))
defaults["lr_schedule"] = Param("lr_schedule", "choice", choices=("constant", "cosine"))
if "batch_size" in defaults:
    offered = CHOICES["batch_size"]
    defaults["batch_size"] = Param(
        "batch_size", "choice", choices=tuple(c for c in defaults["batch_size"].choices if c in offered) or (32, 64)
    )
ss.setdefault(
    "sweep_vary", [name for name in ("learning_rate", "filters", "dropout", "batch_size") if name in defaults]
)

st.subheader("Search space")
vary = st.multiselect(
    "Settings to vary",
    [name for name in (*RANGES, *CHOICES) if name in defaults],
    key="sweep_vary",
    help="filters: the first conv block's filters (later blocks keep their ratio); dropout: every dense layer's; "
    "units: the first dense layer's.",
)
params = []
for name in vary:
    default = defaults[name]
    if name in RANGES:
        kind, log, lowest, highest = RANGES[name]
        left, right, note = st.columns([1, 1, 2])
        number = float if kind == "float" else int
        step = None if kind == "float" else 1
        shown_format = "%.6g" if kind == "float" else "%d"
        ss.setdefault(f"sweep_low_{name}", number(default.low))
        ss.setdefault(f"sweep_high_{name}", number(default.high))
        low = left.number_input(
            f"{name} from",
            min_value=number(lowest),
            max_value=number(highest),
            step=step,
            format=shown_format,
            key=f"sweep_low_{name}",
        )
        high = right.number_input(
            f"{name} to",
            min_value=number(lowest),
            max_value=number(highest),
            step=step,
            format=shown_format,
            key=f"sweep_high_{name}",
        )
        note.caption(f"{'log scale' if log else 'linear scale'}; the preset has {preset_value(name)}")
        params.append(Param(name, kind, low=low, high=high, log=log, grid_points=int(ss.get("sweep_grid_points", 3))))
    else:
        ss.setdefault(f"sweep_choices_{name}", list(default.choices))
        picked = st.multiselect(f"{name} choices", list(CHOICES[name]), key=f"sweep_choices_{name}")
        params.append(Param(name, "choice", choices=tuple(picked)))

left, middle, right = st.columns(3)
ss.setdefault("sweep_sampler", "tpe")  # set here, not as the widget's default: a link may have set it already
sampler = left.selectbox(
    "Sampler",
    SAMPLERS,
    key="sweep_sampler",
    format_func={"grid": "grid (every combination)", "random": "random", "tpe": "Optuna TPE"}.get,
)
# Defaults go into session state, not the widgets: a link may have set these keys already.
for key, value in (("sweep_grid_points", 3), ("sweep_trials", 10), ("sweep_repeats", 3), ("sweep_seed", 0)):
    ss.setdefault(key, value)
grid_points = middle.number_input(
    "Grid points per range", 1, limits.max_grid_points, key="sweep_grid_points", disabled=sampler != "grid"
)
params = [Param(p.name, p.kind, p.low, p.high, p.log, p.choices, int(grid_points)) for p in params]
space = SearchSpace(tuple(params))
grid_size = math.prod(len(p.grid_values()) for p in params) if params else 0
if sampler == "grid":
    ss["sweep_trials"] = max(1, min(grid_size, limits.max_trials))
trials = int(
    right.number_input(
        "Trials",
        1,
        limits.max_trials,
        key="sweep_trials",
        disabled=sampler == "grid",
        help="The grid sampler runs every combination: its trial count is the grid's size.",
    )
)
left, middle, right = st.columns(3)
per_trial = left.radio("Per trial", links.SWEEP_PER_TRIAL, key="sweep_per_trial", horizontal=True)
repeats = int(middle.number_input("Folds or seeds", 2, 10, key="sweep_repeats", disabled=per_trial == "one run"))
metric = right.selectbox("Metric (validation)", list(METRICS), key="sweep_metric")
seed = int(left.number_input("Sampler seed", 0, 2**31 - 1, key="sweep_seed"))
prune = middle.checkbox(
    "Prune hopeless trials",
    key="sweep_prune",
    help="Median pruner: a trial whose validation curve falls below the earlier trials' median is stopped.",
)
ss["sweep_space"] = links.encode(space.to_dict()) if params else None
links.publish_view("sweep")

request = SweepRequest(
    dataset=selection.dataset_name,
    preset=selection.preset,
    space=space,
    sampler=sampler,
    seed=seed,
    trials=trials,
    epochs=base_config.epochs,
    folds=repeats if per_trial == "folds" else 0,
    seeds=repeats if per_trial == "seeds" else 0,
    metric=metric,
    prune=prune,
    limit_train=base_config.limit_train,
)
try:
    plan = plan_sweep(request, selection.dataset)
except DigitLabError as error:
    components.show_error(error)
    st.stop()
runs = trials * request.runs_per_trial
st.markdown(
    f"**{components.plain(request.title())}** · {runs} run(s) of {base_config.epochs} epochs"
    + (f" · grid of {grid_size} points" if sampler == "grid" else "")
)

try:
    result = load_sweep(plan.sweep_id, store=services.store())
except InvalidSweep:
    result = None
finished = result is not None and len(result.trials) == trials

# A Ray sweep runs in a job driver of its own (never in this server); the page follows it, then reads the study.
job_done = False
if sampler != "tpe" and not finished and ss.get(state.JOB_KEY):
    job_request, job = job_panel.current("sweep", [task.run_id for task in planned_tasks(plan)])
    if job is not None and job.state != "done":
        job_panel.follow(job_request, job)
        st.stop()
    job_done = job is not None  # every run is stored: the sweep below reads them and trains nothing

if not finished and not job_done:
    executor = components.executor_choice("sweep_executor")
    on_ray = executor == "ray"
    if on_ray and sampler == "tpe":
        st.warning(
            "TPE picks each trial from the earlier trials' results, so its trials cannot be sent to Ray ahead from "
            "this page. Use grid or random here, or `digit-lab sweep --sampler tpe --executor ray` (one trial's "
            "folds or seeds at a time on the cluster).",
            icon=":material/info:",
        )
    if on_ray and prune:
        st.warning("Pruning stops a training between epochs, which only this machine can do; untick it for Ray.")
    clicked = st.button(
        f"Run the sweep on Ray ({runs} runs)" if on_ray else f"Run the sweep ({runs} runs)",
        type="primary",
        key="sweep_run",
        disabled=on_ray and (sampler == "tpe" or prune),
    )
    if not clicked:
        done = len(result.trials) if result is not None else 0
        st.info(f"{done} of {trials} trials finished. Stored runs are read from the store, not trained again.")
        st.stop()
    if on_ray:
        tasks = planned_tasks(plan)
        if job_panel.start(JobRequest("sweep", "run", request.title(), "ray", tuple(t.portable() for t in tasks))):
            st.rerun()
        st.stop()
if not finished:
    with components.batch_progress(f"Running the sweep: {trials} trials…", "run", runs) as panel:
        try:
            result = run_sweep(request, selection.dataset, progress=panel, store=services.store())
        except DigitLabError as error:
            panel.stopped("The sweep stopped", error)
        panel.finished(f"{trials} trials finished in {panel.elapsed:.1f} s")

if result.best_run_id is not None:
    sweep_id = result.sweep_id
    report_buttons(
        lambda: sweep_subject(sweep_id, services.store()),
        f"digit-lab-sweep-{sweep_id}",
        "sweep_report",
        selection.dataset_name,
    )

st.subheader("Results")
summary = result.to_dict()
rows = summary["trials"]
best = result.best
for notice in result.notices:
    st.info(components.plain(notice))
if best is None:
    st.warning("No trial completed; see the table for why.")
else:
    spread = f" ± {best.sd:.4f}" if len(best.values) > 1 else ""
    st.markdown(
        f"**Best: trial {best.number}** · {metric} {best.value:.4f}{spread} · "
        + components.plain(
            ", ".join(f"{k} = {v:.4g}" if isinstance(v, float) else f"{k} = {v}" for k, v in best.params.items())
        )
    )
log_params = {p.name for p in space.params if p.log}
choice_params = {p.name for p in space.params if p.kind == "choice"}
st.plotly_chart(parallel_coordinates(rows, metric, log_params, choice_params), key="sweep_parallel")

table = pd.DataFrame(
    [
        {
            "trial": row["number"],
            "state": row["state"],
            **{f"{name}": str(value) if isinstance(value, str) else value for name, value in row["params"].items()},
            metric: row[metric],
            "sd": row[f"{metric}_sd"] if len(row["values"]) > 1 else None,
            "cached": row["cached"],
            "run id": row["run_id"] or "",
            "note": row["error"],
        }
        for row in rows
    ]
)
if request.runs_per_trial == 1:
    table = table.drop(columns=["sd"])  # one run per trial: there is no spread to show
st.caption("Click a column header to sort.")
st.dataframe(
    table,
    hide_index=True,
    key="sweep_table",
    column_config={
        metric: st.column_config.NumberColumn(format="%.4f"),
        "sd": st.column_config.NumberColumn(format="%.4f"),
    },
)

complete = [t.number for t in result.complete]
if complete:
    if ss.get("sweep_trial") not in complete:
        if "sweep_trial" in ss:
            st.caption(
                f"Trial {components.plain(ss['sweep_trial'])} is not a complete trial of this sweep; showing the best."
            )
        ss["sweep_trial"] = best.number
    left, right = st.columns([2, 1])
    chosen = left.selectbox("Trial", complete, key="sweep_trial", format_func=lambda n: f"trial {n}")
    links.publish_view("sweep")
    trial = next(t for t in result.trials if t.number == chosen)
    run_id = trial.run_ids[0]
    if right.button("Open in Evaluate", key="sweep_open", help=f"Run {run_id}"):
        state.open_run(run_id)
        st.switch_page("views/evaluate.py")

st.subheader("Parameter importance")
importance = parameter_importance(result)
if importance.values:
    st.plotly_chart(importance_bars(importance.values), key="sweep_importance")
else:
    st.info(components.plain(importance.note))

st.subheader("Paired comparison of two trials")
if request.runs_per_trial < 2:
    st.info("A paired comparison needs folds or seeds per trial (the same folds or seeds for both trials).")
elif len(complete) < 2:
    st.info("A paired comparison needs two complete trials.")
else:
    left, right = st.columns(2)
    first = left.selectbox(
        "A", complete, index=complete.index(best.number), key="sweep_pair_a", format_func=lambda n: f"trial {n}"
    )
    second = right.selectbox(
        "B", complete, index=0 if complete[0] != first else 1, key="sweep_pair_b", format_func=lambda n: f"trial {n}"
    )
    if first == second:
        st.info("Pick two different trials.")
    else:
        comparison = compare_trials(result, first, second)
        st.markdown(f"**{components.plain(comparison.describe(metric))}**")
        st.caption(
            f"Per {'fold' if request.folds else 'seed'}: "
            + ", ".join(f"{d:+.4f}" for d in comparison.differences)
            + ". Pairing removes what the folds or seeds share; the interval is Student's t on the differences."
        )

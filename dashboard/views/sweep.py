"""Sweep: search the sidebar preset's settings (grid, random or Optuna's TPE), every trial cached runs; parallel
coordinates, a sortable table, parameter importance and a paired comparison of two trials."""

import math

import streamlit as st

from dashboard import components, job_panel, links, services, state
from dashboard.report_buttons import report_buttons
from dashboard.views.sweep_form import default_params, seed_from_link, space_params, space_widget_keys
from dashboard.views.sweep_results import show_results
from dashboard.views.sweep_view import PER_TRIAL, VIEW
from engine.errors import DigitLabError
from engine.jobs import JobRequest
from engine.limits import sweep_limits
from engine.reports import sweep_subject
from engine.sweeps import (
    METRICS,
    SAMPLERS,
    InvalidSweep,
    Param,
    SearchSpace,
    SweepRequest,
    load_sweep,
    plan_sweep,
    planned_tasks,
    run_sweep,
)

# The form's widgets other than the search space's; kept over a visit to another page (links.keep_widget_state).
FORM_KEYS = (
    "sweep_sampler",
    "sweep_grid_points",
    "sweep_trials",
    "sweep_per_trial",
    "sweep_repeats",
    "sweep_metric",
    "sweep_seed",
    "sweep_prune",
)

selection = components.open_page(
    "Sweep",
    caption="Search the sidebar preset's settings: each trial trains (or reads from the store) one run, or one per "
    "fold or seed for a mean ± sd. The sweep is steered by a validation metric, never the test set; the same sweep "
    "again trains nothing.",
)
ss = st.session_state
limits = sweep_limits()
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

links.keep_widget_state(VIEW.page)  # the form as the user left it before a visit to another page
seed_from_link(ss.get("sweep_space"), limits)
defaults = default_params(base_spec, base_config)
params = space_params(defaults, base_spec)
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
per_trial = left.radio("Per trial", PER_TRIAL, key="sweep_per_trial", horizontal=True)
repeats = int(middle.number_input("Folds or seeds", 2, 10, key="sweep_repeats", disabled=per_trial == "one run"))
metric = right.selectbox("Metric (validation)", list(METRICS), key="sweep_metric")
seed = int(left.number_input("Sampler seed", 0, 2**31 - 1, key="sweep_seed"))
prune = middle.checkbox(
    "Prune hopeless trials",
    key="sweep_prune",
    help="Median pruner: a trial whose validation curve falls below the earlier trials' median is stopped.",
)
ss["sweep_space"] = links.encode(space.to_dict()) if params else None
# The page's own token is no link's: `seed_from_link` must not fill the widgets from it on the next run, which
# undid a user's first change to the space (the widgets went back to the space drawn before the change).
ss["_sweep_seeded"] = ss["sweep_space"]
links.publish_view(VIEW)
links.remember_widget_state(VIEW.page, [*FORM_KEYS, *space_widget_keys(params)])

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

show_results(result, request, space, metric)

"""Shareable links: the URL's query parameters carry the view's state, both ways.

On a session's first run the parameters seed the widgets (dataset, preset or a compact spec, training
settings, run id, fold count, selected runs). On every run the current state is written back, so the
address bar always holds a link that reopens this view. Anything unusable in a link becomes a notice and a
sane default, never a traceback.
"""

from __future__ import annotations

import base64
import json
import zlib

import streamlit as st

from dashboard import state
from engine.architectures import PRESETS, ModelSpec
from engine.errors import DigitLabError
from engine.limits import train_limits
from engine.store import is_run_id
from engine.training.config import TrainConfig
from engine.validation import validate_spec_values

KNOWN = ("dataset", "preset", "spec", "cfg", "run", "folds", "runs", "job")


def encode(data: dict) -> str:
    packed = zlib.compress(json.dumps(data, separators=(",", ":"), sort_keys=True).encode(), 9)
    return base64.urlsafe_b64encode(packed).decode().rstrip("=")


def decode(token: str) -> dict:
    """Inverse of `encode`, capped at 16 kB inflated because links are untrusted input."""
    try:
        inflater = zlib.decompressobj()
        text = inflater.decompress(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)), 16_000)
        if inflater.unconsumed_tail:
            raise ValueError("too large")
        data = json.loads(text)
    except (ValueError, zlib.error):
        raise ValueError("damaged") from None
    if not isinstance(data, dict):
        raise ValueError("not an object")
    return data


def restore_once() -> None:
    """Seed session state from the URL on the first run of a session; later runs leave the widgets alone."""
    if st.session_state.get("_link_restored"):
        return
    st.session_state["_link_restored"] = True
    params = {key: st.query_params.get(key) for key in st.query_params}
    problems: list[str] = []
    unknown = sorted(set(params) - set(KNOWN))
    if unknown:
        problems.append(f"Ignored unknown link parameter(s): {', '.join(unknown)}.")

    from engine.datasets import list_datasets

    names = [info.name for info in list_datasets()]
    dataset = params.get("dataset")
    if dataset:
        if dataset in names:
            st.session_state[state.DATASET_KEY] = dataset
        else:
            problems.append(f"The link names an unknown dataset {dataset!r}; showing {state.DEFAULT_DATASET} instead.")

    preset = params.get("preset")
    if preset and preset not in PRESETS:
        problems.append(f"The link names an unknown preset {preset!r}; showing the default model.")
        preset = None
    spec = None
    if params.get("spec"):
        try:
            spec = ModelSpec.from_token(params["spec"])
            validate_spec_values(spec)  # the widgets' ranges are the validator's: what it refuses, they cannot show
        except DigitLabError as error:
            spec = None
            problems.append(f"The model in the link could not be read: {error}")
    config_changes: dict = {}
    if params.get("cfg"):
        try:
            config_changes = decode(params["cfg"])
        except ValueError as error:
            problems.append(f"The training settings in the link could not be read ({error}); using the preset's.")
    try:
        state.load_model_choice(preset or (None if spec else state.DEFAULT_PRESET), spec, config_changes)
    except (TypeError, DigitLabError) as error:
        problems.append(f"The training settings in the link could not be used ({error}); using the preset's.")
        state.load_model_choice(preset or (None if spec else state.DEFAULT_PRESET), spec, {})

    run = params.get("run")
    if run:
        if is_run_id(run):
            st.session_state[state.RUN_KEY] = run
        else:
            problems.append(f"{run[:40]!r} is not a run id (20 hexadecimal characters); no run opened.")
    folds = params.get("folds")
    if folds:
        most = train_limits().max_cv_folds
        if folds.isdigit() and 2 <= int(folds) <= most:
            st.session_state[state.FOLDS_KEY] = int(folds)
        else:
            problems.append(f"Fold count {folds[:10]!r} must be a whole number from 2 to {most}; using 5.")
    runs = params.get("runs")
    if runs:
        ids = [r for r in runs.split(",") if r]
        good = [r for r in ids if is_run_id(r)]
        if len(good) != len(ids):
            problems.append("Some run ids in the link were not valid and were dropped.")
        st.session_state[state.COMPARE_KEY] = good[:20]
    job = params.get("job")
    if job:
        from engine.jobs import is_job_id

        if is_job_id(job):  # the page that owns the job reads it (dashboard.job_panel); kept in the link till then
            st.session_state[state.JOB_KEY] = job
            st.session_state.setdefault(state.PAGE_PARAMS_KEY, {})["job"] = job
        else:
            problems.append(f"{job[:40]!r} is not a job id (16 hexadecimal characters); no job followed.")
    st.session_state[state.LINK_PROBLEMS_KEY] = problems


def current_params() -> dict[str, str]:
    """The query parameters that reopen the current view."""
    selection = state.selection()
    params: dict[str, str] = {"dataset": selection.dataset_name}
    if selection.preset:
        params["preset"] = selection.preset
    elif selection.spec is not None:
        params["spec"] = selection.spec.to_token()
    if selection.config is not None:
        base = PRESETS[selection.preset].config if selection.preset else TrainConfig()
        changed = {k: v for k, v in selection.config.to_dict().items() if base.to_dict().get(k) != v}
        if selection.preset and PRESETS[selection.preset].label_mapping:
            changed.pop("label_mapping", None)
        if changed:
            params["cfg"] = encode(changed)
    page_extras = st.session_state.get(state.PAGE_PARAMS_KEY, {})
    params.update({k: v for k, v in page_extras.items() if v})
    return params


def publish() -> None:
    """Write the dataset/model/settings part of the link; the page adds its own keys after this."""
    params = current_params()
    if dict(st.query_params) != params:
        st.query_params.from_dict(params)


def share_url() -> str:
    from urllib.parse import urlencode

    base = st.context.url or ""
    return f"{base}?{urlencode(current_params())}"

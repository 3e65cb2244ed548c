"""Hosted mode in the dashboard: switched on from Streamlit secrets, and what each visitor of a shared server sees.

A platform's secrets box is the place to switch hosted mode on.

Streamlit Community Cloud (and `.streamlit/secrets.toml` anywhere) hands an app its secrets, not environment
variables of our choosing. The engine reads its settings from the environment (`engine.limits`, which never imports
Streamlit). Streamlit copies root-level string and number secrets into the environment when it parses them, but
not booleans, and only once something asks for secrets: this makes sure it has happened before any limit is read
and copies `DIGIT_LAB_HOSTED = true` too.
"""

from __future__ import annotations

import os

import streamlit as st

from engine.datasets.uploads import is_upload_name
from engine.limits import hosted_mode, input_limits

PREFIX = "DIGIT_LAB_"


def apply_hosting_secrets() -> list[str]:
    """Copy root-level DIGIT_LAB_* secrets into os.environ (booleans as 1/0); returns the names copied."""
    try:
        if not st.secrets.load_if_toml_exists():
            return []
        items = list(st.secrets.items())
    except Exception:  # a damaged secrets file is Streamlit's to report; the app runs with the environment as is
        return []
    copied = []
    for name, value in items:
        if not name.startswith(PREFIX) or isinstance(value, dict) or name in os.environ:
            continue
        os.environ[name] = ("1" if value else "0") if isinstance(value, bool) else str(value)
        copied.append(name)
    return copied


# --- what one visitor of a hosted server sees of another's -------------------------------------------------------
# A hosted server is shared by a class: an upload is its uploader's until they share a link to it. A session sees
# an upload it made, one a link it opened names (`dataset=upload-…`), and the runs trained on those; a run a link
# names (`run=`, `runs=`) is visible on its own. Names are 16 and 20 hex characters (64 and 80 bits), so a link is
# the only practical way to one. Outside hosted mode the cache is the user's own and everything is listed.

VISIBLE_UPLOADS_KEY = "_visible_uploads"  # upload dataset names this session may see
VISIBLE_RUNS_KEY = "_visible_runs"  # run ids a link granted this session, whatever their dataset


def upload_limits_mb() -> tuple[int, int]:
    """(per file, in all) in MB (2^20 bytes, Streamlit's unit) that a Data-page upload may have.

    Two limits hold: the engine's cap on the whole upload (lower in hosted mode) and Streamlit's
    `server.maxUploadSize` on each file, which the server enforces whatever the widget says (this repository's
    .streamlit/config.toml sets 64). A file above either is refused, so the uploader is given the smaller.
    """
    in_all = max(1, input_limits().max_upload_bytes >> 20)
    server = st.get_option("server.maxUploadSize")
    per_file = min(in_all, int(server)) if isinstance(server, int | float) and server >= 1 else in_all
    return per_file, in_all


def upload_limit_words() -> str:
    """The upload limits in force as the Data page states them: "up to 64 MB in all" (, "at most N MB a file")."""
    per_file, in_all = upload_limits_mb()
    return f"up to {in_all} MB in all" + (f", at most {per_file} MB a file" if per_file < in_all else "")


def grant_upload(name: str) -> None:
    """Let this session see upload `name` (it made it, or opened a link naming it)."""
    if is_upload_name(name):
        st.session_state.setdefault(VISIBLE_UPLOADS_KEY, set()).add(name)


def grant_run(run_id: str) -> None:
    """Let this session see run `run_id` (a link it opened names it)."""
    st.session_state.setdefault(VISIBLE_RUNS_KEY, set()).add(run_id)


def dataset_visible(name: str) -> bool:
    """Whether this session may see dataset `name`: every one but another session's upload in hosted mode."""
    return not hosted_mode() or not is_upload_name(name) or name in st.session_state.get(VISIBLE_UPLOADS_KEY, ())


def visible_runs(runs: list) -> list:
    """The stored runs this session may see, in their order: all outside hosted mode; in it, those on a dataset it
    may see and those a link granted it."""
    if not hosted_mode():
        return list(runs)
    granted = st.session_state.get(VISIBLE_RUNS_KEY, ())
    return [run for run in runs if run.run_id in granted or dataset_visible(_dataset_name(run))]


def _dataset_name(run) -> str:
    dataset = run.meta.get("dataset")
    return str(dataset.get("name", "")) if isinstance(dataset, dict) else ""

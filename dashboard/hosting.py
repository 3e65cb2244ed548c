"""Hosted mode from Streamlit secrets: a platform's secrets box is the place to switch it on.

Streamlit Community Cloud (and `.streamlit/secrets.toml` anywhere) hands an app its secrets, not environment
variables of our choosing. The engine reads its settings from the environment (`engine.limits`, which never imports
Streamlit). Streamlit copies root-level string and number secrets into the environment when it parses them, but
not booleans, and only once something asks for secrets: this makes sure it has happened before any limit is read
and copies `DIGIT_LAB_HOSTED = true` too.
"""

from __future__ import annotations

import os

import streamlit as st

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

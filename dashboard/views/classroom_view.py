"""The Classroom page's part of the link, and where its tokens go.

A classroom link is `/classroom?challenge=ID&student=TOKEN` (or `join=`, `instructor=`). The token is a secret:
Home.py calls `take_tokens` before anything reads or writes the link, which moves the token into this session's
state (kept on the server, never sent back to the browser) and removes it from the query parameters, so the
address bar, a copied page link and any share box carry `challenge=ID` alone.
"""

from __future__ import annotations

import streamlit as st

from dashboard.links import PageView, ViewParam

# The page's url path; the engine's links name it too (engine.classroom.service.CLASSROOM_PAGE, which a test holds
# equal). Not imported from there: that module loads scikit-learn, which Home's first render must not wait for.
CLASSROOM_PAGE = "classroom"
TOKEN_PARAMS = ("student", "join", "instructor")  # the roles, as the link names them
CHALLENGE_KEY = "classroom_challenge"
ROLE_KEY = "_classroom_role"  # one of TOKEN_PARAMS, or absent
TOKEN_KEY = "_classroom_token"  # the role's token: server-side session state only
LINK_NOTICE_KEY = "_classroom_link_notice"
MAX_CHALLENGE_CHARS = 64  # a challenge id is 16 hex characters; longer text is not one and is cut before use


def _challenge(text: str) -> tuple:
    # Any text: the engine refuses an unknown challenge with its one message (no second, link-level notice).
    return (text[:MAX_CHALLENGE_CHARS],)


VIEW = PageView(CLASSROOM_PAGE, (ViewParam("challenge", (CHALLENGE_KEY,), _challenge),))


def take_tokens() -> None:
    """Move a link's token out of the address bar into session state (with its challenge); call on every run of
    the Classroom page, before `links.restore_once`. A link carrying several tokens uses none of them."""
    params = st.query_params
    found = [name for name in TOKEN_PARAMS if name in params]
    if not found:
        return
    tokens = {name: params.get(name) or "" for name in found}
    for name in found:
        del params[name]
    ss = st.session_state
    ss[CHALLENGE_KEY] = (params.get("challenge") or "")[:MAX_CHALLENGE_CHARS]
    ss.pop(ROLE_KEY, None)
    ss.pop(TOKEN_KEY, None)
    if len(found) > 1:
        ss[LINK_NOTICE_KEY] = f"This link carries {len(found)} tokens ({', '.join(found)}); a classroom link has one."
        return
    ss[ROLE_KEY], ss[TOKEN_KEY] = found[0], tokens[found[0]]


def enter(challenge_id: str, role: str, token: str) -> None:
    """Use `token` as `role` for `challenge_id` from now on in this session (after creating or joining)."""
    st.session_state[CHALLENGE_KEY] = challenge_id
    st.session_state[ROLE_KEY] = role
    st.session_state[TOKEN_KEY] = token
    st.query_params["challenge"] = challenge_id


def leave() -> None:
    """Forget the challenge and its token in this session."""
    for key in (CHALLENGE_KEY, ROLE_KEY, TOKEN_KEY):
        st.session_state.pop(key, None)
    if "challenge" in st.query_params:
        del st.query_params["challenge"]

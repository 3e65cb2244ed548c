"""Digit Lab's entry point (`streamlit run dashboard/Home.py`): page router and the shared sidebar.

This file runs on every page: it restores state from a shared link once per session, draws the sidebar
(dataset and model), writes the state that matters back into the URL, then runs the chosen page.
"""

# `streamlit run` puts only dashboard/ on sys.path: the `dashboard` and `engine` packages are found because
# requirements.txt installs the project itself (`pip install -e .`; `digit-lab app` runs this file too).
import streamlit as st

from dashboard import links, sidebar
from dashboard.heap import freeze_long_lived
from dashboard.hosting import apply_hosting_secrets
from dashboard.page_views import view_of
from dashboard.views import classroom_view
from engine import settings

apply_hosting_secrets()  # before any engine limit is read
freeze_long_lived()  # once a page has imported TensorFlow: the collections after each run skip its objects
st.set_page_config(page_title="Digit Lab", page_icon=":material/pin:", layout="wide")

PAGES = [
    st.Page("views/home.py", title="Home", icon=":material/home:", default=True),
    st.Page("views/data.py", title="Data", icon=":material/grid_view:", url_path="data"),
    st.Page("views/train.py", title="Train", icon=":material/model_training:", url_path="train"),
    st.Page("views/evaluate.py", title="Evaluate", icon=":material/analytics:", url_path="evaluate"),
    st.Page("views/crossval.py", title="Cross-validation", icon=":material/repeat:", url_path="crossval"),
    st.Page("views/sweep.py", title="Sweep", icon=":material/tune:", url_path="sweep"),
    st.Page("views/compare.py", title="Compare", icon=":material/compare_arrows:", url_path="compare"),
    st.Page("views/inspect.py", title="Inspect", icon=":material/biotech:", url_path="inspect"),
    st.Page("views/explain.py", title="Explain", icon=":material/psychology:", url_path="explain"),
    st.Page("views/classroom.py", title="Classroom", icon=":material/school:", url_path=classroom_view.CLASSROOM_PAGE),
]


def _on_to_the_classroom() -> None:
    """The root of a Classroom-only server: on to the Classroom page, with whatever the link carried."""
    st.switch_page(PAGES[-1], query_params=st.query_params.to_dict())


# A challenge server (DIGIT_LAB_CLASSROOM_ONLY) shows the Classroom page alone: the other pages score models on the
# whole test set, private part included (engine.settings.classroom_only says why). The Classroom stays at /classroom,
# where every link the engine hands out points: Streamlit gives its default page the address "/" (url_path ""), so
# were the Classroom the only, hence default, page, /classroom would be "page not found" and its token never taken.
if settings.classroom_only():
    root = st.Page(_on_to_the_classroom, title="Classroom", url_path="start", default=True, visibility="hidden")
    page = st.navigation([root, PAGES[-1]])
    if page is root:
        page.run()  # switch_page ends this run; the Classroom page runs next
else:
    page = st.navigation(PAGES)
if page.url_path == classroom_view.CLASSROOM_PAGE:
    classroom_view.take_tokens()  # a classroom token leaves the address bar before anything reads or writes it
links.restore_once(view_of(page.url_path))  # view parameters belong to the page the link opens
if page.url_path == classroom_view.CLASSROOM_PAGE:
    # The classroom is its own place: a challenge's locks, not the sidebar's model, decide what a submission
    # trains, and its link carries only the challenge (no model parameters written into it).
    page.run()
    st.stop()
sidebar.render()
# Published before the page runs: a page that ends early with st.stop() drops later query-param changes.
# Pages add their own parameters (run id, folds, selected runs) as they go, via state.set_page_param.
links.publish()
page.run()

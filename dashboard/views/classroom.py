"""Classroom: an instructor's challenge on one shared link. Which view a visitor gets comes from their link's token
(kept in this session, out of the address bar: see classroom_view.take_tokens): join, student or instructor; with
none, the instructor's way to create a challenge."""

import streamlit as st

from dashboard import components
from dashboard.views import classroom_view
from dashboard.views.classroom_instructor import create_section, instructor_mode
from dashboard.views.classroom_student import join_mode, student_mode
from engine.errors import DigitLabError

MODES = {"join": join_mode, "student": student_mode, "instructor": instructor_mode}

st.title("Classroom")
notice = st.session_state.pop(classroom_view.LINK_NOTICE_KEY, None)
if notice:
    st.error(components.plain(notice))
challenge = str(st.session_state.get(classroom_view.CHALLENGE_KEY) or "")
role = st.session_state.get(classroom_view.ROLE_KEY)
try:
    if role in MODES:
        MODES[role](challenge, str(st.session_state.get(classroom_view.TOKEN_KEY) or ""))
    else:
        if challenge:
            st.info("To take part in this challenge, open the personal link you were given (or the class's join link).")
        create_section()
except DigitLabError as error:  # the engine's one refusal (a wrong token, a lock, the cap, a bad roster): no traceback
    st.error(components.plain(str(error)))

"""Placeholder until this page lands."""
import streamlit as st

st.title("crossval")
st.info("Coming soon.")

"""Placeholder until this page lands."""
import streamlit as st

st.title("data")
st.info("Coming soon.")

"""Placeholder until this page lands."""
import streamlit as st

st.title("inspect")
st.info("Coming soon.")

"""Placeholder until this page lands."""
import streamlit as st

st.title("train")
st.info("Coming soon.")

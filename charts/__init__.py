"""Plotly figure builders, framework-free: plain data (NumPy arrays, pandas frames) in, `go.Figure` out.

The engine computes, `charts` draws, and both the dashboard's pages and the engine's HTML report place the same
figures. The rule that keeps it reusable: `charts` imports only NumPy, pandas, Plotly and itself — never
Streamlit, never `engine`, never `dashboard` — so each builder is testable alone and the report needs no UI.
"""

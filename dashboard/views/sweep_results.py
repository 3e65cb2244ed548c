"""The Sweep page's results: the best trial, parallel coordinates, the sortable table, one trial opened in
Evaluate, parameter importance and a paired comparison of two trials."""

import pandas as pd
import streamlit as st

from charts.sweep import importance_bars, parallel_coordinates
from dashboard import components, links, state
from dashboard.views.sweep_view import VIEW
from engine.sweeps import compare_trials, parameter_importance


def show_results(result, request, space, metric: str) -> None:
    ss = st.session_state
    st.subheader("Results")
    summary = result.to_dict()
    rows = summary["trials"]
    best = result.best
    for notice in result.notices:
        st.info(components.plain(notice))
    if best is None:
        st.warning("No trial completed; see the table for why.")
    else:
        spread = f" ± {best.sd:.4f}" if len(best.values) > 1 else ""
        st.markdown(
            f"**Best: trial {best.number}** · {metric} {best.value:.4f}{spread} · "
            + components.plain(
                ", ".join(f"{k} = {v:.4g}" if isinstance(v, float) else f"{k} = {v}" for k, v in best.params.items())
            )
        )
    log_params = {p.name for p in space.params if p.log}
    choice_params = {p.name for p in space.params if p.kind == "choice"}
    st.plotly_chart(parallel_coordinates(rows, metric, log_params, choice_params), key="sweep_parallel")

    table = pd.DataFrame(
        [
            {
                "trial": row["number"],
                "state": row["state"],
                **{f"{name}": str(value) if isinstance(value, str) else value for name, value in row["params"].items()},
                metric: row[metric],
                "sd": row[f"{metric}_sd"] if len(row["values"]) > 1 else None,
                "cached": row["cached"],
                "run id": row["run_id"] or "",
                "note": row["error"],
            }
            for row in rows
        ]
    )
    if request.runs_per_trial == 1:
        table = table.drop(columns=["sd"])  # one run per trial: there is no spread to show
    st.caption("Click a column header to sort.")
    st.dataframe(
        table,
        hide_index=True,
        key="sweep_table",
        column_config={
            metric: st.column_config.NumberColumn(format="%.4f"),
            "sd": st.column_config.NumberColumn(format="%.4f"),
        },
    )

    complete = [t.number for t in result.complete]
    if complete:
        if ss.get("sweep_trial") not in complete:
            if "sweep_trial" in ss:
                st.caption(
                    f"Trial {components.plain(ss['sweep_trial'])} is not a complete trial of this sweep; "
                    "showing the best."
                )
            ss["sweep_trial"] = best.number
        left, right = st.columns([2, 1])
        chosen = left.selectbox("Trial", complete, key="sweep_trial", format_func=lambda n: f"trial {n}")
        links.publish_view(VIEW)
        trial = next(t for t in result.trials if t.number == chosen)
        run_id = trial.run_ids[0]
        if right.button("Open in Evaluate", key="sweep_open", help=f"Run {run_id}"):
            state.open_run(run_id)
            st.switch_page("views/evaluate.py")

    st.subheader("Parameter importance")
    importance = parameter_importance(result)
    if importance.values:
        st.plotly_chart(importance_bars(importance.values), key="sweep_importance")
    else:
        st.info(components.plain(importance.note))

    st.subheader("Paired comparison of two trials")
    if request.runs_per_trial < 2:
        st.info("A paired comparison needs folds or seeds per trial (the same folds or seeds for both trials).")
    elif len(complete) < 2:
        st.info("A paired comparison needs two complete trials.")
    else:
        left, right = st.columns(2)
        first = left.selectbox(
            "A", complete, index=complete.index(best.number), key="sweep_pair_a", format_func=lambda n: f"trial {n}"
        )
        second = right.selectbox(
            "B",
            complete,
            index=0 if complete[0] != first else 1,
            key="sweep_pair_b",
            format_func=lambda n: f"trial {n}",
        )
        if first == second:
            st.info("Pick two different trials.")
        else:
            comparison = compare_trials(result, first, second)
            st.markdown(f"**{components.plain(comparison.describe(metric))}**")
            st.caption(
                f"Per {'fold' if request.folds else 'seed'}: "
                + ", ".join(f"{d:+.4f}" for d in comparison.differences)
                + ". Pairing removes what the folds or seeds share; the interval is Student's t on the differences."
            )

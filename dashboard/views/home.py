"""Home: what the lab does, the current dataset and model at a glance, the stored runs, one-click training."""

import streamlit as st

from dashboard import components, hosting, services, state
from engine.architectures import PRESETS, parameter_counts
from engine.compare import measured_training_time, runs_table
from engine.runs import spec_summary

selection = components.open_page(
    "Digit Lab",
    intro="Explore handwritten-digit data and the CNNs that classify it. Pick a dataset and a model in the sidebar, "
    "train once (every run is cached on disk), then read the curves, confusion matrix, per-class metrics, "
    "k-fold spread and feature maps — and share the link.",
)
data_col, model_col = st.columns(2)
with data_col:
    st.subheader("Dataset")
    if selection.dataset is None:
        st.warning(components.plain(selection.error), icon=":material/inventory_2:")
        # The message may name the Data page's "Retry download": that button, and the upload, are there.
        st.page_link("views/data.py", label="Open the Data page to get it", icon=":material/grid_view:")
    else:
        ds = selection.dataset
        h, w, _ = ds.image_shape
        st.markdown(
            f"**{components.plain(ds.name)}** · {len(ds.x_train):,} train / {len(ds.x_test):,} test · {h}x{w} · "
            f"{ds.num_classes} classes · values 0..{ds.value_max:g}"
        )
        st.caption(components.plain(ds.provenance))
with model_col:
    st.subheader("Model")
    if selection.spec is not None and not selection.error:
        counts = parameter_counts(selection.spec)
        st.markdown(
            f"**{components.plain(selection.label)}** · `{spec_summary(selection.spec.to_dict())}` · "
            f"{counts['total']:,} parameters · {selection.config.epochs} epochs, batch {selection.config.batch_size}"
        )
    elif selection.dataset is None:
        st.caption("The model is sized for the dataset's images and classes: it shows once a dataset loads.")
    elif selection.error:
        st.error(components.plain(selection.error))

st.subheader("Quick start")
scan = services.store().scan()  # once per render: the quick start's timing and the table below both read it
default = PRESETS[state.DEFAULT_PRESET]
measured = measured_training_time(scan.runs, state.DEFAULT_PRESET, state.DEFAULT_DATASET, default.config.epochs)
quick_start = (
    f"Trains the default model ({state.DEFAULT_PRESET}, {default.config.epochs} epochs) on the bundled digits, "
    "or opens it from the store."
)
if measured is not None:
    # A time measured here, never promised: the median of the stored runs of this very model and recipe.
    prepared = f" after {measured.prepare_seconds:.0f} s of preparation" if measured.prepare_seconds else ""
    quick_start += (
        f" Measured on the runs stored here ({measured.runs}): {measured.train_seconds:.0f} s of training{prepared}."
    )
st.caption(quick_start)


def _choose_default_model() -> None:
    # A callback runs before the sidebar widgets exist, so it may set their keys.
    st.session_state[state.DATASET_KEY] = state.DEFAULT_DATASET
    state.add_refusals(state.load_model_choice(state.DEFAULT_PRESET))
    st.session_state["_train_default"] = True


DELETE_ASKED_KEY = "_home_delete_asked"  # the run whose deletion waits for Confirm


def _delete_with_confirmation(run_id: str, place) -> None:
    """Delete asks first: a deleted run's model, history and probe records are gone (training it again is the only
    way back), and one click on the wrong row must not do that. Confirm deletes the run that was asked about."""
    ss = st.session_state
    if ss.get(DELETE_ASKED_KEY) != run_id:  # another row chosen since: its question no longer stands
        ss.pop(DELETE_ASKED_KEY, None)
        if place.button("Delete", key="delete_run"):
            ss[DELETE_ASKED_KEY] = run_id
            st.rerun()
        return
    st.warning(
        f"Delete run {run_id}? Its model, history and probe records are removed from the cache; training it again "
        "is the only way back.",
        icon=":material/delete:",
    )
    confirm_col, cancel_col, _ = st.columns([1, 1, 4])
    if confirm_col.button("Confirm delete", key="delete_run_confirm", type="primary"):
        ss.pop(DELETE_ASKED_KEY, None)
        services.store().delete(run_id)
        st.toast(f"Deleted run {run_id}")
        # The table's selection is a row number: kept, it would point at the run that moved into that row (or
        # past the end), so nothing stays chosen after a delete.
        ss.pop("home_runs", None)
        st.rerun()
    if cancel_col.button("Cancel", key="delete_run_cancel"):
        ss.pop(DELETE_ASKED_KEY, None)
        st.rerun()


st.button("Train the default model", icon=":material/play_arrow:", type="primary", on_click=_choose_default_model)
if st.session_state.pop("_train_default", False):
    result = components.train_with_progress(state.selection(), label="Training the default model")
    if result is not None:
        accuracy = result.run.meta["metrics"]["test_accuracy"]
        st.success(
            f"Run `{result.run.run_id}`: test accuracy **{accuracy:.2%}**"
            + (" (from the store)" if result.cached else f", trained in {result.run.meta['train_seconds']:.1f} s")
        )
        st.page_link("views/evaluate.py", label="Open it in Evaluate", icon=":material/analytics:")
        if not result.cached:
            scan = services.store().scan()  # the run just stored belongs in the table below

HOME_COLUMNS = {"label": 470, "test_accuracy": 130, "epochs": 60, "train_seconds": 70, "created": 140}  # px

st.subheader("Stored runs")
runs = hosting.visible_runs(scan.runs)  # hosted: not the runs on another visitor's upload
if scan.problems:  # one bad run never hides the others: it is named here, with why (plain text: it is stored data)
    with st.expander(f"{len(scan.problems)} stored entr{'y is' if len(scan.problems) == 1 else 'ies are'} not listed"):
        for problem in scan.problems:
            st.text(f"{problem.run_id}: {problem.reason}")
if not runs:
    st.info("No runs yet. Train one above or on the Train page.")
    st.stop()
table = runs_table(runs)
# Each row is named by its label (preset, what changed, fold, dataset), so the preset, architecture and dataset
# columns would repeat it; fixed widths keep every column readable in a 1400 px window (components.TABLE_WIDTH_PX).
table["created"] = table["created"].map(lambda when: str(when)[:16].replace("T", " ") if when else when)
picked = st.dataframe(
    table,
    hide_index=True,
    on_select="rerun",
    selection_mode="single-row",
    key="home_runs",
    column_order=list(HOME_COLUMNS),
    column_config=components.fixed_columns(
        HOME_COLUMNS,
        {
            "label": st.column_config.TextColumn("run", pinned=True),
            "test_accuracy": st.column_config.ProgressColumn("test accuracy", format="%.4f", min_value=0, max_value=1),
            "epochs": st.column_config.NumberColumn("epochs"),
            "train_seconds": st.column_config.NumberColumn("train s", format="%.1f"),
            "created": st.column_config.TextColumn("created (UTC)"),
        },
    ),
)
rows = [row for row in (picked.selection.rows if picked else []) if row < len(table)]  # the list may have shrunk
if rows:
    run_id = table.iloc[rows[0]]["run_id"]
    st.caption(f"Run `{run_id}` · {components.plain(table.iloc[rows[0]]['label'], 200)}")
    open_col, delete_col = st.columns([1, 5])
    if open_col.button("Open", key="open_run"):
        state.open_run(run_id)
        st.switch_page("views/evaluate.py")
    if not services.hosted():
        _delete_with_confirmation(run_id, delete_col)
else:
    st.session_state.pop(DELETE_ASKED_KEY, None)  # no row chosen: a question asked earlier no longer stands
if len(runs) == len(scan.runs):
    st.caption(f"{len(runs)} runs · {services.store().size_bytes() / 1e6:.1f} MB in the cache")
else:  # hosted: the cache's size counts other visitors' runs, so it is not said to be these runs'
    st.caption(f"{len(runs)} runs shown · {services.store().size_bytes() / 1e6:.1f} MB in this server's cache in all")

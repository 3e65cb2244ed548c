"""AppTest checks of the Train and Evaluate pages: layer table, invalid specs, one-epoch training through the UI,
opening a run from a link, and links naming runs that are absent or malformed."""

from __future__ import annotations

import pytest

from tests.dashboard.conftest import HOME, chart_titles, literal, open_app, open_page, open_tab

EVALUATE = "views/evaluate.py"
TRAIN = "views/train.py"
ABSENT_RUN = "0123456789abcdef0123"  # well-formed, never stored


def texts(elements) -> str:
    return "\n".join(literal(e.value) for e in elements)  # pages show engine messages as escaped plain text


def figure(app, title_start: str) -> dict:
    import json

    for chart in app.get("plotly_chart"):
        spec = json.loads(chart.proto.spec)
        title = spec.get("layout", {}).get("title", {})
        if (title.get("text", "") if isinstance(title, dict) else str(title)).startswith(title_start):
            return spec
    raise AssertionError(f"no chart titled {title_start!r}")


def report_table(app):
    for frame in app.dataframe:
        if "class" in frame.value.columns and "macro avg" in set(frame.value["class"]):
            return frame.value.set_index("class")
    raise AssertionError("no classification report table on the page")


@pytest.fixture
def empty_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("DIGIT_LAB_CACHE", str(tmp_path))
    return tmp_path


def test_train_page_layer_table_matches_engine(empty_cache):
    from engine.architectures import DEFAULT_PRESET, PRESETS, parameter_counts
    from engine.datasets import load_dataset
    from engine.runs import preset_request

    app = open_app(page=TRAIN)
    assert not app.exception
    spec, _ = preset_request(DEFAULT_PRESET, load_dataset("digits"))  # the sidebar's default model
    layers = app.dataframe[0].value
    total = layers[layers["layer"] == "total"].iloc[0]
    counts = parameter_counts(spec)
    assert int(total["trainable"]) == counts["trainable"]
    assert int(total["non-trainable"]) == counts["non_trainable"]
    assert f"{counts['total']:,} parameters" in texts(app.markdown)
    assert "block1_conv" in set(layers["layer"])
    # The recipe's expander is drawn closed and empty; opened, it holds the whole script.
    assert app.expander and not any("keras.Sequential" in code.value for code in app.code)
    from dashboard.state import TRAIN_RECIPE_OPEN_KEY

    app.session_state[TRAIN_RECIPE_OPEN_KEY] = True
    app.run()
    assert any("keras.Sequential" in code.value for code in app.code)
    # The exported code is the whole recipe (issue 14): data, the run's batch size and epochs, the fit call.
    recipe = next(code.value for code in app.code if "keras.Sequential" in code.value)
    recipe_config = PRESETS[DEFAULT_PRESET].config
    for fragment in ("load_digits()", f"BATCH_SIZE = {recipe_config.batch_size}", "model.fit(", "validation_data="):
        assert fragment in recipe, fragment
    assert f"EPOCHS = {recipe_config.epochs}" in recipe
    assert not app.button(key="train_button").disabled
    assert "not been trained yet" in texts(app.info)


def test_invalid_spec_shows_engine_message_and_disables_train(empty_cache):
    app = open_app(page=TRAIN)
    app.selectbox(key="conv1_padding").set_value("valid")
    app.number_input(key="conv1_kernel_size").set_value(9)
    app.run()
    assert not app.exception
    assert "9x9 kernel with 'valid' padding does not fit its 8x8 input" in texts(app.error)
    assert app.button(key="train_button").disabled


def test_interrupted_training_says_nothing_was_stored(empty_cache):
    from streamlit.testing.v1 import AppTest

    app = AppTest.from_file(HOME, default_timeout=120)
    app.switch_page(TRAIN)
    app.session_state["_train_running"] = True  # what a Cancel click leaves behind: the flag set, never cleared
    app.run()
    assert not app.exception
    assert "Training was cancelled; nothing was stored." in texts(app.warning)
    app.run()
    assert "cancelled" not in texts(app.warning)


def test_train_one_epoch_then_evaluate(empty_cache):
    from engine.store import RunStore

    app = open_app(page=TRAIN)
    before = len(RunStore().list())
    app.number_input(key="cfg_epochs").set_value(1).run()
    app.button(key="train_button").click().run()
    assert not app.exception
    runs = RunStore().list()
    assert len(runs) == before + 1
    run_id = runs[0].run_id
    assert f"Trained run `{run_id}`" in texts(app.success)
    assert any(title.startswith("Training curves") for title in chart_titles(app))
    # The page places the engine's count (checked against a hand count and TensorFlow's profiler elsewhere).
    from engine.architectures.flops import describe_flops, run_training_flops

    flops = run_training_flops(RunStore().get(run_id).meta)
    assert flops and f"This run did {describe_flops(flops)} of arithmetic" in texts(app.caption)

    app.switch_page(EVALUATE)
    app.run()
    assert not app.exception
    assert run_id in texts(app.markdown)
    report = report_table(app)
    assert [str(name) for name in report.index[:10]] == [str(d) for d in range(10)]
    assert {"accuracy", "macro avg", "weighted avg"} <= set(report.index)
    # Blank where scikit-learn's report is blank (the grid would print a NaN as "None").
    assert report.loc["accuracy", "precision"] == report.loc["accuracy", "recall"] == ""
    assert float(report.loc["macro avg", "precision"]) > 0
    open_tab(app, "eval_tab", "Confusion matrix")
    assert not app.exception
    assert any(title.startswith("Confusion matrix") for title in chart_titles(app))

    # Back on Train the same settings are answered from the store at once.
    app.switch_page(TRAIN)
    app.run()
    assert "already trained — answered from the store" in texts(app.success).lower()
    assert app.button(key="train_button").disabled


def test_evaluate_restores_run_from_link(with_trained_run):
    app = open_page(EVALUATE, {"run": with_trained_run})
    assert not app.exception
    assert app.session_state["run_id"] == with_trained_run
    assert f"Run `{with_trained_run}`" in texts(app.markdown)
    assert len(report_table(app)) == 13
    assert chart_titles(app) == []  # only the open tab (the report) is drawn
    assert app.query_params["run"] == with_trained_run
    for tab, expected in (
        ("Training curves", "Training curves"),
        ("Sample predictions", "10 random test images"),
        ("One vs rest", "Class 0 vs the rest"),
        ("ROC", "ROC curves"),
        ("Confusion matrix", "Confusion matrix"),
    ):
        titles = chart_titles(open_tab(app, "eval_tab", tab))
        assert not app.exception
        assert any(title.startswith(expected) for title in titles), (expected, titles)
        if tab != "ROC":
            assert not any(title.startswith("ROC curves") for title in titles), titles  # a closed tab draws nothing

    # Choosing another cell with the fallback select boxes shows that cell's images.
    app.selectbox(key="eval_true").set_value(3)
    app.selectbox(key="eval_pred").set_value(3)
    app.run()
    assert not app.exception
    assert any(title.startswith("True 3 · predicted 3") for title in chart_titles(app))

    # Images (issue 14): drawn as on the Data page — value 0 black, no axes or ticks — and at most 6 to a row.
    cell = figure(app, "True 3 · predicted 3")
    heatmap = cell["data"][0]
    assert heatmap["colorscale"][0] == [0.0, "black"] and heatmap["zmin"] == 0
    assert cell["layout"]["xaxis"]["visible"] is False and cell["layout"]["yaxis"]["visible"] is False
    z = heatmap["z"]  # plotly sends a large array as {"dtype", "bdata", "shape": "rows, columns"}
    width = int(str(z["shape"]).split(",")[1]) if isinstance(z, dict) else len(z[0])
    assert width <= 6 * 9  # six 8x8 images and their one-pixel gaps

    # ROC (issue 14): every class's AUC in the legend; a log-scaled or zoomed false-positive axis on request.
    open_tab(app, "eval_tab", "ROC")
    roc = figure(app, "ROC curves")
    class_traces = [t["name"] for t in roc["data"] if t["name"].startswith("class ")]
    assert len(class_traces) == 10 and all("(AUC 0." in name or "(AUC 1." in name for name in class_traces)
    app.radio(key="eval_roc_axis").set_value("log").run()
    assert figure(app, "ROC curves")["layout"]["xaxis"]["type"] == "log"
    app.radio(key="eval_roc_axis").set_value("zoom").run()
    assert figure(app, "ROC curves")["layout"]["xaxis"]["range"] == [0, 0.1]


def test_absent_run_says_not_cached(empty_cache):
    app = open_page(EVALUATE, {"run": ABSENT_RUN})
    assert not app.exception
    assert "this run is not cached here yet" in texts(app.warning)
    assert app.button(key="eval_train_now")  # the default sidebar model can be trained here
    assert "No trained run to evaluate yet" in texts(app.info)


def test_malformed_run_id_shows_link_warning(empty_cache):
    app = open_page(EVALUATE, {"run": "not-a-run!"})
    assert not app.exception
    assert "is not a run id" in texts(app.warning)
    assert "No trained run to evaluate yet" in texts(app.info)


def test_evaluate_label_merged_run_shows_merged_classes_and_images(empty_cache):
    from engine.datasets import load_dataset
    from engine.runs import get_or_train, preset_request

    dataset = load_dataset("digits")
    spec, config = preset_request("digitlab-small8", dataset, epochs=1, limit_train=200, label_mapping="seed004-4class")
    run_id = get_or_train(dataset, spec, config).run.run_id

    app = open_page(EVALUATE, {"run": run_id})
    assert not app.exception
    report = report_table(app)
    assert list(report.index[:4]) == ["0/6", "1/7", "2/3/5/8", "4/9"]
    titles = chart_titles(open_tab(app, "eval_tab", "Sample predictions"))
    assert any(title.startswith("10 random test images") for title in titles)  # merged labels, same test images
    assert "Metrics only" not in texts(app.warning)


def test_home_promises_no_unmeasured_time(empty_cache):
    app = open_app()
    assert not app.exception
    quick = next(c.value for c in app.caption if c.value.startswith("Trains the default model"))
    assert "few seconds" not in quick and "Measured" not in quick  # nothing stored here: no time is quoted


def test_unavailable_dataset_is_explained_once_with_what_to_do(empty_cache, tmp_path, monkeypatch):
    from engine.datasets import mnist_like, network

    monkeypatch.setenv("HOME", str(tmp_path))  # no Keras download cache
    monkeypatch.delenv("KERAS_HOME", raising=False)
    monkeypatch.delenv(mnist_like.MNIST_ENV, raising=False)
    monkeypatch.setitem(network.FETCHERS, "mnist", lambda: (_ for _ in ()).throw(OSError("offline")))
    app = open_app(query={"dataset": "mnist"})
    assert not app.exception
    boxes = [literal(e.value) for kind in (app.warning, app.error, app.info) for e in kind]
    boxes += [literal(e.value) for kind in (app.sidebar.warning, app.sidebar.error) for e in kind]
    explained = [text for text in boxes if "not available offline" in text]
    assert len(explained) == 1, boxes  # one message, not one in the sidebar, one per column
    assert "restart the dashboard" in explained[0] and "--data-path" in explained[0]
    assert "local path" not in explained[0]  # the dashboard has no such field
    assert any("the page says how to get it" in c.value for c in app.sidebar.caption)


def test_home_lists_the_good_runs_and_names_a_bad_one(with_trained_run, tmp_path, monkeypatch):
    import json
    import os
    import shutil

    from engine.store import RunStore

    # A copy of the session's cache, so the shared run is left alone; one run whose meta lost its metrics.
    cache = tmp_path / "cache"
    shutil.copytree(os.environ["DIGIT_LAB_CACHE"], cache)
    monkeypatch.setenv("DIGIT_LAB_CACHE", str(cache))
    good = RunStore().get(with_trained_run)
    bad_id = "f" * 20
    shutil.copytree(good.path, cache / "runs" / bad_id)
    (cache / "runs" / bad_id / "meta.json").write_text(json.dumps({"run_id": bad_id}))
    app = open_app()
    assert not app.exception
    assert with_trained_run in app.dataframe[0].value["run_id"].tolist()
    assert bad_id not in app.dataframe[0].value["run_id"].tolist()
    assert any(text.value.startswith(f"{bad_id}: ") for text in app.text)


def test_the_copy_link_box_shows_the_address_bars_link_with_the_open_tab_and_cell(with_trained_run):
    from urllib.parse import parse_qs, urlsplit

    app = open_page(EVALUATE, {"run": with_trained_run, "tab": "Confusion matrix", "cell": "3,5"})
    assert not app.exception

    def shown() -> dict[str, str]:
        (box,) = [code.value for code in app.code if "run=" in code.value]
        return {key: values[-1] for key, values in parse_qs(urlsplit(box).query).items()}

    address_bar = {key: app.query_params[key] for key in app.query_params}
    link = shown()
    assert link["tab"] == "Confusion matrix" and link["cell"] == "3,5" and link["run"] == with_trained_run
    assert link == {key: str(value[-1] if isinstance(value, list) else value) for key, value in address_bar.items()}
    app.selectbox(key="eval_true").set_value(4).run()  # a new cell: the box follows, as the address bar does
    assert shown()["cell"] == "4,5"
    (wrapped,) = [code for code in app.code if "run=" in code.value]
    assert wrapped.proto.wrap_lines  # a long link wraps instead of being cut off


def test_evaluate_downloads_the_model_of_any_run_it_opens(with_trained_run):
    app = open_page(EVALUATE, {"run": with_trained_run})  # a run opened by link, not the sidebar's model's
    assert not app.exception
    assert app.session_state["run_id"] == with_trained_run
    (button,) = [b for b in app.get("download_button") if "model" in b.proto.label]
    assert button.proto.label == "Download the trained model (.keras)"
    assert with_trained_run in button.proto.help

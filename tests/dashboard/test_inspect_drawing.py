"""Inspect's "Draw a digit" tab is drawn only while open, and a drawing outlives the tab: what the canvas sent is
kept in session state and given back to the canvas (`initial_drawing`) when the tab opens again, with the model's
input and probabilities shown at once. The canvas is a browser component AppTest cannot run, so a stand-in records
what the page passes it and answers what the real one would (tests/e2e/test_inspect_drawing_browser.py draws on
the real one). Also: the activation grids' titles show a stored model's layer names literally."""

from __future__ import annotations

import html
import io
import json
import shutil
import sys
import types

import numpy as np
import pytest

from tests.crafted_files import png_header_claiming
from tests.dashboard.conftest import figures_by_title, open_page, open_tab, plotly_array

INSPECT = "views/inspect.py"
DRAW_TAB = "Draw a digit"


def _png(rgba: np.ndarray) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(rgba).save(buffer, format="PNG")
    return buffer.getvalue()


def _one() -> np.ndarray:
    """A drawn '1' on the 280x280 canvas: a thick vertical white bar."""
    rgba = np.zeros((280, 280, 4), dtype=np.uint8)
    rgba[40:240, 120:160] = 255
    return rgba


def _seven() -> np.ndarray:
    rgba = np.zeros((280, 280, 4), dtype=np.uint8)
    rgba[50:80, 60:220] = 255
    for row in range(80, 240):  # the diagonal stroke
        col = int(220 - (row - 80) * 0.6)
        rgba[row, col - 15 : col + 15] = 255
    return rgba


class StandInCanvas:
    """Answers like streamlit_drawable_canvas.st_canvas: until the user draws, the drawing it was mounted with and
    no pixels; after `draw`, that drawing's objects and PNG. Records every call's arguments."""

    def __init__(self):
        self.calls: list[dict] = []
        self.sent: tuple[dict, bytes] | None = None

    def draw(self, objects: dict, rgba: np.ndarray | None) -> None:
        self.sent = (objects, _png(rgba) if rgba is not None else _png(np.zeros((280, 280, 4), np.uint8)))

    def __call__(self, **kwargs):
        self.calls.append(kwargs)
        if self.sent is None:
            initial = kwargs.get("initial_drawing") or {"objects": []}
            return types.SimpleNamespace(json_data=initial, image_bytes=None)
        objects, png = self.sent
        return types.SimpleNamespace(json_data=objects, image_bytes=png)


@pytest.fixture
def canvas(monkeypatch):
    stand_in = StandInCanvas()
    module = types.ModuleType("streamlit_drawable_canvas")
    module.st_canvas = stand_in
    monkeypatch.setitem(sys.modules, "streamlit_drawable_canvas", module)
    return stand_in


def _stroke(tag: str) -> dict:
    """Fabric objects as the canvas sends them (only their identity matters to the page)."""
    return {"version": "6", "objects": [{"type": "Path", "path": [["M", 1, 2], ["L", 3, 4]], "tag": tag}]}


def _model_input(app) -> np.ndarray | None:
    figure = next((f for t, f in figures_by_title(app).items() if t.startswith("What the model sees")), None)
    return None if figure is None else plotly_array(figure["data"][0]["z"])


def _drawn_probabilities(app) -> np.ndarray:
    chart = next(c for c in app.get("plotly_chart") if "inspect_drawn_probabilities" in c.proto.id)
    return plotly_array(json.loads(chart.proto.spec)["data"][0]["y"])


def _expected_input(rgba: np.ndarray) -> np.ndarray:
    from engine.datasets import load_dataset
    from engine.inspection import prepare_drawing

    dataset = load_dataset("digits")
    return prepare_drawing(rgba, dataset.image_shape, float(dataset.value_max))[..., 0]


def test_the_closed_drawing_tab_draws_no_canvas(with_trained_run, canvas):
    from dashboard import state

    app = open_page(INSPECT, query={"run": with_trained_run})
    assert not app.exception
    app.session_state[state.INSPECT_DRAWING_KEY] = state.KeptDrawing(_stroke("one"), _png(_one()))
    app.run()
    assert canvas.calls == [] and _model_input(app) is None
    open_tab(app, "inspect_tab", DRAW_TAB)
    assert not app.exception and len(canvas.calls) == 1


def test_a_kept_drawing_gives_the_models_input_and_probabilities_when_the_tab_opens(with_trained_run, canvas):
    """As a user's earlier visit left it: the drawing kept, the tab closed. Opening the tab mounts the canvas with
    those strokes and shows what the model makes of them before any new stroke."""
    from dashboard import state
    from engine.store import RunStore

    app = open_page(INSPECT, query={"run": with_trained_run})
    objects = _stroke("one")
    app.session_state[state.INSPECT_DRAWING_KEY] = state.KeptDrawing(objects, _png(_one()))
    open_tab(app, "inspect_tab", DRAW_TAB)
    assert not app.exception and not app.error
    assert canvas.calls[-1]["initial_drawing"] == objects
    expected = _expected_input(_one())
    assert np.array_equal(_model_input(app), expected)
    model = RunStore().get(with_trained_run).load_model()
    keras_probabilities = model.predict((expected / 16.0).reshape(1, 8, 8, 1).astype(np.float32), verbose=0)[0]
    np.testing.assert_allclose(_drawn_probabilities(app), keras_probabilities, atol=1e-5)


def test_a_drawing_the_browser_sends_oversized_is_refused_before_it_is_decoded(with_trained_run, canvas):
    from dashboard import state

    app = open_page(INSPECT, query={"run": with_trained_run, "tab": DRAW_TAB})
    canvas.sent = (_stroke("bomb"), png_header_claiming(5_000, 5_000))  # 100 MB once decoded
    app.run()
    assert not app.exception
    assert any("5000x5000" in str(e.value) for e in app.error)
    assert state.INSPECT_DRAWING_KEY not in app.session_state and _model_input(app) is None
    canvas.sent = (["not", "an", "object"], _png(_one()))  # strokes that are no JSON object
    app.run()
    assert not app.exception
    assert any("must be a JSON object" in str(e.value) for e in app.error)
    assert state.INSPECT_DRAWING_KEY not in app.session_state and _model_input(app) is None


def test_strokes_survive_a_tab_switch_and_clear_forgets_them(with_trained_run, canvas):
    from dashboard import state

    app = open_page(INSPECT, query={"run": with_trained_run, "tab": DRAW_TAB})
    assert canvas.calls[-1]["initial_drawing"] is None and _model_input(app) is None  # a first visit: empty
    canvas.draw(_stroke("seven"), _seven())
    app.run()  # the canvas sent strokes: a rerun
    assert np.array_equal(_model_input(app), _expected_input(_seven()))
    first_key = canvas.calls[-1]["key"]

    canvas.sent = None  # a remounted canvas answers with the drawing it is given, no pixels
    open_tab(app, "inspect_tab", "First-layer kernels")
    calls = len(canvas.calls)
    assert state.INSPECT_DRAWING_KEY in app.session_state
    open_tab(app, "inspect_tab", DRAW_TAB)
    assert len(canvas.calls) == calls + 1
    assert canvas.calls[-1]["initial_drawing"] == _stroke("seven")
    assert np.array_equal(_model_input(app), _expected_input(_seven()))

    app.button(key="inspect_clear_drawing").click().run()
    assert not app.exception
    assert state.INSPECT_DRAWING_KEY not in app.session_state
    assert canvas.calls[-1]["initial_drawing"] is None and canvas.calls[-1]["key"] != first_key  # a fresh canvas
    assert _model_input(app) is None and any("canvas is empty" in str(i.value) for i in app.info)
    open_tab(app, "inspect_tab", "A test image")
    open_tab(app, "inspect_tab", DRAW_TAB)
    assert canvas.calls[-1]["initial_drawing"] is None and _model_input(app) is None


def test_an_emptied_canvas_forgets_the_drawing(with_trained_run, canvas):
    """The canvas's bin on a canvas that opened empty sends an empty drawing: nothing comes back afterwards."""
    from dashboard import state

    app = open_page(INSPECT, query={"run": with_trained_run, "tab": DRAW_TAB})
    canvas.draw(_stroke("one"), _one())
    app.run()
    assert state.INSPECT_DRAWING_KEY in app.session_state
    canvas.draw({"version": "6", "objects": []}, None)
    app.run()
    assert state.INSPECT_DRAWING_KEY not in app.session_state and _model_input(app) is None
    canvas.sent = None
    open_tab(app, "inspect_tab", "A test image")
    open_tab(app, "inspect_tab", DRAW_TAB)
    assert canvas.calls[-1]["initial_drawing"] is None and _model_input(app) is None


# --- the stored model's layer names in the activation grids' titles -----------------------------------------------

# Keras refuses '/' in a layer name, so no closing tag; an opening tag, a line break, a javascript link and Markdown
# emphasis are all allowed.
HOSTILE_NAMES = ("<b>x<br>y", '<a href="javascript:alert(1)">z', "*m* [t](javascript:alert(1))")


@pytest.fixture
def hostile_run(trained_cache, tmp_path, monkeypatch):
    """The trained digits run with its conv and pooling layers renamed to HOSTILE_NAMES, stored in a cache of its own
    (the store writes its manifest); returns the run id."""
    import keras

    from engine.store import RunStore
    from engine.store.stored_run import MODEL_NAME

    folder, run_id = trained_cache
    monkeypatch.setenv("DIGIT_LAB_CACHE", str(folder))
    source = RunStore().get(run_id)
    model = source.load_model()
    names = iter(HOSTILE_NAMES)

    def renamed(layer):
        config = layer.get_config()
        if type(layer).__name__ in ("Conv2D", "MaxPooling2D"):
            config["name"] = next(names, config["name"])
        return type(layer).from_config(config)

    clone = keras.models.clone_model(model, clone_function=renamed)
    clone.set_weights(model.get_weights())
    assert [n for n in HOSTILE_NAMES if n in {layer.name for layer in clone.layers}] == list(HOSTILE_NAMES)
    built = tmp_path / "built"
    for name in source.files():
        if name not in ("meta.json", "manifest.json"):
            (built / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(source.file(name), built / name)
    clone.save(built / MODEL_NAME)
    monkeypatch.setenv("DIGIT_LAB_CACHE", str(tmp_path / "cache"))
    RunStore().put(run_id, built, json.loads(json.dumps(source.meta)))
    return run_id


def test_activation_titles_show_the_layer_names_literally(hostile_run):
    app = open_page(INSPECT, query={"run": hostile_run})
    assert not app.exception and not app.error
    titles = [t for t in figures_by_title(app) if "maps of" in t]
    shown = [html.unescape(t) for t in titles]  # what Plotly displays of an escaped title
    for name in HOSTILE_NAMES:
        assert any(text.startswith(f"{name} (") for text in shown), (name, shown)
    assert not any("<" in t or ">" in t for t in titles), titles  # no tag reaches Plotly's HTML subset


# streamlit-drawable-canvas 0.13 (its index-style.css): `.dc-toolbar{position:absolute; top:-2.65rem}` while shown,
# so the undo/redo/bin card covers the 2.65rem (42.4 px at 16 px per rem) above the canvas.
CANVAS_TOOLBAR_OVERHANG_PX = 2.65 * 16


def test_the_canvas_toolbar_has_a_band_of_its_own_above_the_canvas(with_trained_run, canvas):
    app = open_page(INSPECT, query={"run": with_trained_run})
    open_tab(app, "inspect_tab", DRAW_TAB)
    assert not app.exception and len(canvas.calls) == 1
    column = next(
        block
        for block in app.main.children.values()
        for block in _blocks(block)
        if any(
            getattr(child, "key", None) == "inspect_draw_method" for child in getattr(block, "children", {}).values()
        )
    )
    kinds = [getattr(child, "key", None) or child.type for child in column.children.values()]
    # Between the select above and the canvas (drawn between the space and Clear) nothing but the band.
    assert kinds == ["inspect_brush", "inspect_draw_method", "space", "inspect_clear_drawing"], kinds
    [space] = [child for child in column.children.values() if child.type == "space"]
    assert isinstance(space.size, int) and space.size >= CANVAS_TOOLBAR_OVERHANG_PX, space.size


def _blocks(node):
    yield node
    for child in getattr(node, "children", {}).values():
        yield from _blocks(child)

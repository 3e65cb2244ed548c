"""AppTest of the Explain page's Adversarial tab: the curve starts at the stored accuracy (scikit-learn), never rises,
PGD's lies at or below FGSM's, the gallery's images stay within eps of their test image, the widgets' ranges are
the validator's (hosted too) and the link carries the view."""

from __future__ import annotations

import numpy as np
import pytest

from engine.errors import InvalidConfig
from engine.limits import adversarial_limits
from engine.probes.adversarial import AdversarialSpec, validate_adversarial
from tests.dashboard.conftest import figures_by_title, open_page, plotly_array

EXPLAIN = "views/explain.py"


def _curve(app, method: str) -> dict:
    return next(f for t, f in figures_by_title(app).items() if t.startswith(f"Test accuracy under {method}"))


def test_adversarial_tab_curve_gallery_and_link(with_trained_run):
    from sklearn.metrics import accuracy_score

    from engine.datasets import load_dataset
    from engine.store import RunStore

    query = {"run": with_trained_run, "tab": "Adversarial", "eps_max": "0.2", "eps_points": "3"}
    app = open_page(EXPLAIN, query=query)
    assert not app.exception and not app.error
    run, dataset = RunStore().get(with_trained_run), load_dataset("digits")
    fgsm = _curve(app, "FGSM")
    x, y = plotly_array(fgsm["data"][0]["x"]), plotly_array(fgsm["data"][0]["y"])
    assert list(x) == [0.0, 0.1, 0.2]
    assert y[0] == pytest.approx(accuracy_score(run.test_labels(), run.test_probabilities().argmax(axis=1)))
    assert np.all(np.diff(y) <= 0) and y[-1] < y[0]
    # The gallery: images at the largest eps, each within eps of its stored test image (raw 0..16 values).
    tiles = {t: f for t, f in figures_by_title(app).items() if t.startswith("#")}
    assert len(tiles) == adversarial_limits().gallery_per_eps
    for title, figure in tiles.items():
        index = int(title[1:].split(":")[0])
        shown = plotly_array(figure["data"][0]["z"]).reshape(8, 8)
        assert np.abs(shown - dataset.x_test[index].reshape(8, 8)).max() <= 0.2 * dataset.value_max + 1e-4
    assert any("fooled" in c.value for c in app.caption)

    app.radio(key="adv_method").set_value("pgd").run()
    app.slider(key="adv_steps").set_value(5).run()
    assert not app.exception and not app.error
    pgd_y = plotly_array(_curve(app, "PGD")["data"][0]["y"])
    assert np.all(pgd_y <= y + 1e-12) and pgd_y[0] == y[0]
    params = {k: app.query_params.get(k) for k in ("attack", "steps", "eps_max", "eps_points")}
    assert params == {"attack": ["pgd"], "steps": ["5"], "eps_max": ["0.2"], "eps_points": ["3"]} or params == {
        "attack": "pgd", "steps": "5", "eps_max": "0.2", "eps_points": "3",
    }  # fmt: skip


@pytest.mark.parametrize("hosted", [False, True])
def test_adversarial_widgets_hold_exactly_what_the_validator_accepts(with_trained_run, monkeypatch, hosted):
    if hosted:
        monkeypatch.setenv("DIGIT_LAB_HOSTED", "1")
        monkeypatch.setenv("DIGIT_LAB_MAX_ADVERSARIAL_IMAGES", "100")
    else:
        monkeypatch.delenv("DIGIT_LAB_HOSTED", raising=False)
    query = {"run": with_trained_run, "tab": "Adversarial", "attack": "pgd", "eps_max": "0.05", "eps_points": "2"}
    app = open_page(EXPLAIN, query=query)
    assert not app.exception and not app.error
    steps, points, images = (app.slider(key=k) for k in ("adv_steps", "adv_eps_points", "adv_images"))
    assert steps.max == (20 if hosted else 100) and points.max == 12
    assert images.max == (100 if hosted else 360)  # the cap, or digits' whole test set
    validate_adversarial(AdversarialSpec("pgd", steps=int(steps.max), images=int(images.max)))
    with pytest.raises(InvalidConfig):
        validate_adversarial(AdversarialSpec("pgd", steps=int(steps.max) + 1))
    with pytest.raises(InvalidConfig):
        validate_adversarial(AdversarialSpec(epsilons=tuple(i / 100 for i in range(int(points.max) + 1))))
    if hosted:
        with pytest.raises(InvalidConfig):
            validate_adversarial(AdversarialSpec(images=int(images.max) + 1))


def test_a_link_beyond_the_hosted_steps_is_refused_with_a_notice(with_trained_run, monkeypatch):
    monkeypatch.setenv("DIGIT_LAB_HOSTED", "1")
    query = {"run": with_trained_run, "tab": "Adversarial", "attack": "pgd", "steps": "50", "eps_points": "2"}
    app = open_page(EXPLAIN, query=query)
    assert not app.exception
    assert app.slider(key="adv_steps").value == 10
    notices = " ".join(w.value for w in app.warning) + " ".join(e.value for e in app.error)
    assert "steps" in notices


def test_a_link_attacking_more_images_than_the_test_set_is_a_notice(with_trained_run):
    query = {"run": with_trained_run, "tab": "Adversarial", "attacked": "5000", "eps_points": "2"}
    app = open_page(EXPLAIN, query=query)
    assert not app.exception and not app.error
    assert app.slider(key="adv_images").value == 360
    assert any("attacked" in w.value and "360 images" in w.value for w in app.warning)

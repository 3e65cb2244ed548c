"""Explain's Adversarial tab: the run's test accuracy under FGSM or PGD as the attack's strength eps grows, and a
gallery of perturbed test images with what the model made of them. Every number comes from
`engine.probes.adversarial` (the same code as `digit-lab adversarial`); the widgets' ranges from `engine.limits`."""

import numpy as np
import streamlit as st

from charts.adversarial import adversarial_curve
from charts.inspect import input_image
from dashboard import components, links, services
from dashboard.views.explain_run import ExplainedRun
from dashboard.views.explain_view import VIEW
from engine.errors import DigitLabError
from engine.limits import adversarial_limits
from engine.probes.adversarial import METHODS, AdversarialResult, AdversarialSpec, adversarial_examples

DEFAULT_STEPS = 10
DEFAULT_IMAGES = 500  # a quick curve on MNIST; all of digits' 360 test images
NAMES = {"fgsm": "FGSM (one step)", "pgd": "PGD (iterated, from the FGSM point)"}


def epsilons_for(eps_max: float, points: int) -> tuple[float, ...]:
    """`points` evenly spaced strengths from 0 to `eps_max` (what the two widgets and the link describe)."""
    return tuple(round(float(eps), 4) for eps in np.linspace(0.0, eps_max, points))


@st.cache_data(show_spinner="Attacking the test set…", max_entries=32)
def _attack(run_id: str, copy: str, spec: AdversarialSpec) -> AdversarialResult:
    # The server's shared model and dataset; the engine keeps the result with the run for other sessions.
    found = services.run(run_id)
    dataset_used = services.dataset(found.meta["dataset"]["name"])
    return adversarial_examples(found, spec, model=services.model(run_id), dataset=dataset_used)


def _clamp(key: str, low, high) -> None:
    """A link's value outside this run's range (more images than its test set) is brought inside it."""
    if key in st.session_state and not low <= st.session_state[key] <= high:
        st.session_state[key] = min(max(st.session_state[key], low), high)


def show_adversarial(ex: ExplainedRun) -> None:
    limits = adversarial_limits()
    method = st.radio(
        "Attack", METHODS, horizontal=True, key=links.seeded(VIEW, "adv_method"), format_func=NAMES.get,
        help="Both change every pixel by at most eps (L-infinity) in the direction that raises the model's loss; "
        "PGD keeps stepping and projecting back, so it finds mistakes FGSM misses.",
    )  # fmt: skip
    left, middle, right = st.columns(3)
    # Defaults through session state, never as `value`: a link or a kept view writes these keys (links.seeded).
    # The view's eps 0.3 is the usual MNIST budget (Madry et al.); digits models fall well before it.
    eps_max = left.slider("Largest eps", 0.01, 1.0, step=0.01, key=links.seeded(VIEW, "adv_eps_max"))
    points = middle.slider("Points on the curve", 2, limits.max_epsilons, key=links.seeded(VIEW, "adv_eps_points"))
    most_images = min(limits.max_images, ex.n_test)
    components.link_view_check(
        "attacked",
        ("adv_images",),
        st.session_state.get("adv_images", 1) <= most_images,
        f"this run's test set has {ex.n_test:,} images"
        + (f" and the cap is {limits.max_images:,}" if limits.max_images < ex.n_test else ""),
    )
    st.session_state.setdefault("adv_images", min(DEFAULT_IMAGES, most_images))  # this run's, not the view's
    images = right.slider(
        "Test images attacked", 1, most_images, key="adv_images",
        help="A seeded subset when fewer than all; eps 0 is then the stored accuracy on those images.",
    )  # fmt: skip
    steps = DEFAULT_STEPS
    if method == "pgd":
        st.session_state.setdefault("adv_steps", min(DEFAULT_STEPS, limits.max_steps))
        _clamp("adv_steps", 1, limits.max_steps)
        steps = st.slider("PGD steps", 1, limits.max_steps, key="adv_steps")
    spec = AdversarialSpec(method, epsilons_for(eps_max, points), steps, None, images)
    try:
        result = _attack(ex.run.run_id, services.stored_copy(ex.run), spec)
    except DigitLabError as error:  # the view below must still be published to the link
        components.show_error(error)
        return
    st.plotly_chart(
        adversarial_curve(result.epsilons, result.accuracy, result.raw_accuracy, result.method, result.n_images),
        key="adv_curve",
    )
    st.caption(
        f"eps is the largest change of any pixel on the model's 0..1 input scale: {ex.value_max * eps_max:g} of "
        f"this dataset's 0..{ex.value_max:g} at eps {eps_max:g}. An image fooled at a smaller eps counts as wrong "
        "at every larger one, so the curve never rises."
    )
    if st.session_state.get("adv_gallery_eps") not in result.epsilons:  # the strengths changed since
        st.session_state.pop("adv_gallery_eps", None)
    shown = st.select_slider(
        "Perturbed images at eps", options=list(result.epsilons), value=result.epsilons[-1], key="adv_gallery_eps"
    )
    examples = [example for example in result.examples if example.eps == shown]
    if not examples:
        return
    n_classes = len(ex.class_names)

    def name(label: int, names: list) -> str:  # a stored label past the class list (an edited record) as its number
        return names[label] if label < n_classes else str(label)

    columns = st.columns(len(examples))
    for column, example in zip(columns, examples, strict=True):
        true, said = name(example.true, ex.chart_names), name(example.predicted, ex.chart_names)
        verdict = "fooled" if example.predicted != example.true else "still right"
        column.plotly_chart(
            input_image(example.image * ex.value_max, ex.value_max, f"#{example.index}: {true} → {said}"),
            key=f"adv_image_{example.index}",
            config={"displayModeBar": False},
        )
        column.caption(
            f"Test image #{example.index}, true {components.plain(name(example.true, ex.class_names), 40)}, "
            f"predicted {components.plain(name(example.clean_predicted, ex.class_names), 40)} when clean and "
            f"{components.plain(name(example.predicted, ex.class_names), 40)} at eps {shown:g} ({verdict})."
        )

"""The self-contained HTML report: nothing external, Plotly inlined once, meta strings escaped, and (slow) it draws
its figures offline in headless Chromium."""

from __future__ import annotations

from dataclasses import replace
from html.parser import HTMLParser

import pytest

from engine.reports import run_subject, runs_subject
from engine.reports.html import html_report
from engine.reports.subject import ReportSubject
from tests.reports.conftest import train_digits

EVIL = '<script>alert("xss-digitlab")</script><img src=x onerror=alert(2)>'


class _Tags(HTMLParser):
    """Every start tag with its attributes, and the text inside <script> elements."""

    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"
        if self._in_script:
            self.scripts.append("")

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._in_script:
            self.scripts[-1] += data


def _parse(text: str) -> _Tags:
    parser = _Tags()
    parser.feed(text)
    return parser


def test_nothing_is_loaded_from_outside_and_plotly_is_inlined_once(short_run):
    from plotly.offline import get_plotlyjs

    other = train_digits(epochs=2, seed=1)
    text = html_report(runs_subject([short_run.run_id, other.run_id]))
    parsed = _parse(text)
    for tag, attrs in parsed.tags:
        assert not (tag == "script" and attrs.get("src")), attrs
        assert tag not in ("link", "iframe", "object", "embed"), tag
        for name in ("src", "href", "data", "srcset", "poster"):
            value = attrs.get(name)
            assert value is None or value.startswith(("data:", "#")), (tag, name, value)
    bundle = get_plotlyjs()
    assert text.count(bundle[:300]) == 1 and bundle[-300:] in text
    # The figures: the set's curves and scatter, then the best run's confusion, curves and mistakes.
    assert text.count('class="plotly-graph-div"') == 5
    assert "★" in text and short_run.run_id in text and other.run_id in text


def test_meta_strings_with_markup_are_escaped_everywhere(short_run):
    meta = dict(short_run.meta)
    meta["class_names"] = [EVIL] + list(meta["class_names"][1:])
    meta["warnings"] = [EVIL]
    meta["created"] = EVIL
    meta["config"] = {**meta["config"], "label_mapping": EVIL}
    run = replace(short_run, meta=meta)
    text = html_report(ReportSubject("Run " + EVIL, "run", (run,), run.run_id, "the only run"))
    assert "alert(&quot;xss-digitlab&quot;)" in text or "alert(\\u0026quot;xss-digitlab" in text
    assert '<script>alert("xss-digitlab")' not in text and "<img src=x" not in text
    parsed = _parse(text)
    assert not [attrs for tag, attrs in parsed.tags if tag == "img"]
    assert all("xss-digitlab" not in script or "&quot;xss-digitlab" in script for script in parsed.scripts[:1])


@pytest.mark.slow
def test_the_report_draws_its_figures_offline_in_headless_chromium(short_run, tmp_path):
    from bench.live_app import CHROMIUM, DRIVER, browser

    if not (CHROMIUM and DRIVER):
        pytest.skip("needs Debian's chromium and chromium-driver")
    page = tmp_path / "report.html"
    page.write_text(html_report(run_subject(short_run.run_id)), encoding="utf-8")
    driver = browser()
    try:
        driver.get(page.as_uri())
        import time

        deadline = time.monotonic() + 60
        drawn = 0
        while time.monotonic() < deadline:
            drawn = driver.execute_script(
                "return [...document.querySelectorAll('.js-plotly-plot')]"
                ".filter(p => p.querySelector('svg.main-svg')).length"
            )
            if drawn >= 3:
                break
            time.sleep(0.5)
        assert drawn == 3  # confusion matrix, curves, mistakes
        fetched = driver.execute_script(
            "return performance.getEntriesByType('resource').map(e => e.name)"
            ".filter(n => !n.startsWith('data:') && !n.startsWith('blob:') && !n.startsWith('file:'))"
        )
        assert fetched == []
        assert driver.execute_script("return typeof Plotly") == "object"
    finally:
        driver.quit()

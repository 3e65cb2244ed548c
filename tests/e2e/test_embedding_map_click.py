"""The Explain page's Embedding map in a real browser: clicking a point of the learned map (Plotly's own click, which
AppTest cannot make) shows that test image and its prediction, and the image shown is the point hovered."""

from __future__ import annotations

import re
import time

from bench.live_app import browser, start_server, stop_server, wait_healthy, wait_text
from tests.live_app import ARTIFACTS, train_digits_run


def test_clicking_a_point_shows_that_image(tmp_path, monkeypatch):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.support.ui import WebDriverWait

    run_id = train_digits_run(str(tmp_path))

    process, url = start_server(str(tmp_path), str(tmp_path / "streamlit.log"))
    driver = None
    try:
        wait_healthy(url, process, timeout=60, poll=0.5)
        driver = browser()
        driver.get(f"{url}/explain?run={run_id}&tab=Embedding+map")
        wait_text(driver, "Click a point on either map", timeout=180)
        chart = WebDriverWait(driver, 60).until(
            lambda d: next(
                (c for c in d.find_elements("css selector", ".stPlotlyChart") if "Learned features" in c.text), None
            )
        )
        points = [p for p in chart.find_elements("css selector", ".scatterlayer .point") if p.is_displayed()]
        assert len(points) >= 300  # the 360 test images (some may overlap exactly)
        target = points[len(points) // 2]
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", target)
        time.sleep(1.0)
        ActionChains(driver).move_to_element(target).perform()
        hover = WebDriverWait(driver, 30).until(
            lambda d: re.search(
                r"test image #(\d+)", " ".join(h.text for h in d.find_elements("css selector", ".hoverlayer"))
            )
        )
        index = int(hover.group(1))
        ActionChains(driver).move_to_element(target).click().perform()
        wait_text(driver, f"Test image #{index}, clicked on the map", timeout=120)
        wait_text(driver, "Class probabilities: predicted", timeout=60)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(ARTIFACTS / "explain-embedding-map.png"))
    finally:
        if driver is not None:
            driver.quit()
        stop_server(process)
    assert "Traceback" not in (tmp_path / "streamlit.log").read_text()

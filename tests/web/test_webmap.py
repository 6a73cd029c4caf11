"""The web map in a real headless Chromium (Debian package), driven by Playwright.

A planner draws a polygon on the map (leaflet-draw), picks a project type, screens it and sees a
verdict, findings and the hits table; a second case types coordinates in GCJ-02. Screenshots go to
``test-artifacts/`` so a person can look at what the page showed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.live import free_port, wait_healthy

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
STATIC_VENDOR = Path(__file__).resolve().parents[2] / "app" / "static" / "vendor" / "leaflet"


@pytest.fixture(scope="module")
def web_server(bundled_data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed (make system-deps)")
    if not STATIC_VENDOR.exists():
        pytest.skip("front-end libraries not vendored (make web)")
    port = free_port()
    env = {
        **os.environ,
        "ZONING_DATA_DIR": str(bundled_data_dir),
        "ZONING_STATE_DIR": str(tmp_path_factory.mktemp("state")),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(proc, url, timeout_s=120)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
            ],
        )
        yield b
        b.close()


def _open(browser, url: str):  # type: ignore[no-untyped-def]
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(url)
    page.wait_for_selector("#layer-list li", timeout=20_000)
    page.wait_for_function("document.querySelectorAll('#project-type option').length > 5", timeout=20_000)
    return page, errors


def test_draw_polygon_and_screen(web_server: str, browser) -> None:  # type: ignore[no-untyped-def]
    page, errors = _open(browser, web_server)
    assert page.inner_text("h1") == "生态分区选址筛查"
    # Zoom to the 湟源 area west of Xining, then draw a polygon with the leaflet-draw tool.
    page.evaluate("() => { map.setView([36.6, 100.9], 12); }")
    page.click(".leaflet-draw-draw-polygon")
    box = page.locator("#map").bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    for dx, dy in ((-60, -40), (60, -40), (60, 40), (-60, 40)):
        page.mouse.click(cx + dx, cy + dy)
        page.wait_for_timeout(150)
    page.mouse.click(cx - 60, cy - 40)  # close the ring on the first vertex
    page.select_option("#project-type", "solar_pv")
    page.click("#screen-btn")
    page.wait_for_selector("#verdict[data-verdict], #error:not([hidden])", timeout=60_000)
    assert page.is_hidden("#error"), page.inner_text("#error")
    verdict = page.get_attribute("#verdict", "data-verdict")
    assert verdict in {"prohibited", "restricted", "caution", "clear", "insufficient_data"}
    assert page.locator("#hits tbody tr").count() > 0
    assert "m²" in page.inner_text("#site-summary")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "webmap-draw.png"))
    # The English switch relabels the verdict without screening again.
    page.click("#lang-toggle")
    assert page.inner_text("h1") == "Ecological zoning site screening"
    assert not errors, errors
    page.close()


def test_typed_gcj02_point_with_radius(web_server: str, browser) -> None:  # type: ignore[no-untyped-def]
    page, errors = _open(browser, web_server)
    page.fill("#coords", "101.7835, 36.6220")
    page.select_option("#crs", "GCJ02")
    page.fill("#radius", "500")
    page.select_option("#project-type", "chemical")
    page.click("#screen-btn")
    page.wait_for_selector("#verdict[data-verdict]", timeout=30_000)
    assert "GCJ02" in page.inner_text("#site-summary")
    assert page.locator("#findings li").count() > 0
    page.screenshot(path=str(ARTIFACTS / "webmap-typed.png"))
    assert not errors, errors
    page.close()


def test_swapped_coordinates_show_the_hint(web_server: str, browser) -> None:  # type: ignore[no-untyped-def]
    page, _ = _open(browser, web_server)
    page.fill("#coords", "36.62, 101.78")
    page.click("#screen-btn")
    page.wait_for_selector("#error:not([hidden])", timeout=20_000)
    assert "swap" in page.inner_text("#error").lower() or "纬" in page.inner_text("#error")
    page.close()

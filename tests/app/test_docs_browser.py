"""/docs renders in a real headless Chromium with every non-loopback request blocked (offline)."""

from __future__ import annotations

import shutil

import pytest

pytestmark = pytest.mark.browser
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="Debian chromium not installed")
def test_swagger_ui_renders_offline(live_server: str) -> None:
    from playwright.sync_api import sync_playwright

    outside: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page()

            def guard(route, request) -> None:  # type: ignore[no-untyped-def]
                if request.url.startswith(live_server):
                    route.continue_()
                else:
                    outside.append(request.url)
                    route.abort()

            page.route("**/*", guard)
            page.goto(f"{live_server}/docs", wait_until="domcontentloaded", timeout=240_000)
            page.wait_for_selector(".opblock", timeout=240_000)
            operations = page.locator(".opblock").count()
            title = page.locator(".title").first.inner_text()
        finally:
            browser.close()
    assert outside == []
    assert operations >= 10
    assert "zoning" in title.lower()

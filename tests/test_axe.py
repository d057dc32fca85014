"""axe-core on every page in Chromium: no serious or critical accessibility violation.

axe-core is installed by scripts/vendor_static.sh (`make install`) into static/vendor/axe/,
integrity checked; the test injects it into each page (no page loads it by itself)."""

from __future__ import annotations

from typing import Any

from playwright.async_api import Browser, Page

from app.executions.service import ExecutionService
from app.settings import REPO_ROOT
from tests.browser import sign_in
from tests.test_phone import every_page, signed_out_page

AXE = REPO_ROOT / "static" / "vendor" / "axe" / "axe.min.js"


async def serious_violations(page: Page) -> list[str]:
    """axe's serious and critical violations on the page, one line each (rule: first targets)."""
    await page.add_script_tag(content=AXE.read_text(encoding="utf-8"))
    found: list[dict[str, Any]] = await page.evaluate(
        "async () => (await axe.run(document)).violations"
    )
    return [
        f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes'][:3]]}"
        for v in found
        if v["impact"] in ("serious", "critical")
    ]


async def test_no_page_has_a_serious_or_critical_axe_violation(
    browser: Browser, web_server: str, engine: ExecutionService
) -> None:
    assert AXE.is_file(), "axe-core missing: run `bash scripts/vendor_static.sh`"
    pages = await every_page(engine)
    page = await sign_in(browser, web_server, "Ada Admin")
    problems: dict[str, list[str]] = {}
    for name, path in pages.items():
        await page.goto(path)
        if found := await serious_violations(page):
            problems[name] = found
    signed_out = await signed_out_page(browser, web_server, {"width": 1280, "height": 800})
    if found := await serious_violations(signed_out):
        problems["sign-in"] = found
    assert problems == {}

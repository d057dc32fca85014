"""Refresh the screenshots in docs/screenshots/ at phone (390 px) and desktop (1280 px) widths.

Against a running Stepladder in dev sign-in mode (`make run`, then
`.venv/bin/python scripts/screenshots.py [--url http://127.0.0.1:8000]`): signs in as Bob
Approver, starts a Customer Onboarding execution from the workflow form (it waits at Create CRM
Record), then shoots every page; with Ada Admin the admin pages (step configuration, tokens) and
the error page. Writes docs/screenshots/<page>-<width>.png and prints each path."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from playwright.async_api import Browser, Page, async_playwright

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from bench.chromium import CHROMIUM_ARGS, chromium_path  # noqa: E402

OUT = REPO_ROOT / "docs" / "screenshots"
WIDTHS = {390: 844, 1280: 900}  # viewport width → height, CSS pixels


async def signed_in(browser: Browser, url: str, label: str, width: int) -> Page:
    context = await browser.new_context(
        base_url=url, viewport={"width": width, "height": WIDTHS[width]}
    )
    page = await context.new_page()
    await page.goto("/")
    await page.get_by_label(label).check()
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(f"{url}/")
    return page


async def start_waiting_execution(page: Page) -> str:
    """An execution from the workflow form, once it waits at Create CRM Record; its id."""
    await page.goto("/workflows/customer_onboarding")
    await page.get_by_label("Full name").fill("Ada Lovelace")
    await page.get_by_label("Email").fill("ada.lovelace@analytical-engines.example.com")
    await page.get_by_role("button", name="Execute workflow").click()
    await page.wait_for_url("**/executions/*")
    await page.locator('#step-create_crm_record[data-status="waiting_approval"]').wait_for(
        timeout=60_000
    )
    return page.url.rsplit("/", 1)[-1]


# Admins only; the error page is what a missing execution answers.
ADMIN_PAGES = {
    "steps": "/workflows/customer_onboarding/steps",
    "tokens": "/admin/tokens",
    "error": "/executions/no-such-execution",
}


def pages(execution_id: str) -> dict[str, str]:
    return {
        "home": "/",
        "workflows": "/workflows",
        "workflow": "/workflows/customer_onboarding",
        "execution-waiting": f"/executions/{execution_id}",
        "cancel": f"/executions/{execution_id}/cancel",
        "executions": "/executions",
        "approvals": "/approvals",
        "step-analytics": "/workflows/customer_onboarding/steps/create_crm_record",
    }


async def shoot(browser: Browser, url: str, out: Path = OUT) -> list[Path]:
    """Every page at each width in WIDTHS; the written files."""
    written: list[Path] = []
    execution_id = ""
    for width in WIDTHS:
        bob = await signed_in(browser, url, "Bob Approver", width)
        execution_id = execution_id or await start_waiting_execution(bob)
        for name, path in pages(execution_id).items():
            await bob.goto(path)
            written.append(out / f"{name}-{width}.png")
            await bob.screenshot(path=written[-1], full_page=True)
        ada = await signed_in(browser, url, "Ada Admin", width)
        for name, path in ADMIN_PAGES.items():
            await ada.goto(path)
            written.append(out / f"{name}-{width}.png")
            await ada.screenshot(path=written[-1], full_page=True)
        await bob.context.close()
        await ada.context.close()
    return written


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="the running app")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=chromium_path(), args=CHROMIUM_ARGS
        )
        for path in await shoot(browser, args.url.rstrip("/")):
            print(path.relative_to(REPO_ROOT))
        await browser.close()


if __name__ == "__main__":
    asyncio.run(main())

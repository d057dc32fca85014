"""Every page at phone size (390×844) in Chromium: the document is never wider than the viewport."""

from __future__ import annotations

import re

from playwright.async_api import Browser, Page, expect

from app.executions.service import ExecutionService
from tests.browser import sign_in
from tests.test_lists import waiting_in_the_inbox

PHONE = {"width": 390, "height": 844}


async def every_page(engine: ExecutionService) -> dict[str, str]:
    """Name → path of every page a signed-in admin sees, with an execution waiting for approval
    (its approval panel open) and one cancelled with a reason-less API cancel."""
    waiting = await waiting_in_the_inbox(engine)
    return {
        "home": "/",
        "workflows": "/workflows",
        "workflow": "/workflows/customer_onboarding",
        "execution waiting with the approval panel": f"/executions/{waiting}",
        "cancel confirmation": f"/executions/{waiting}/cancel",
        "executions": "/executions",
        "approvals": "/approvals",
        "bulk approve pre-flight": f"/approvals/review?selected={waiting}/create_crm_record",
        "workers": "/workers",
        "steps": "/workflows/customer_onboarding/steps",
        "step analytics": "/workflows/customer_onboarding/steps/create_crm_record",
        "tokens": "/admin/tokens",
        "error page": "/executions/no-such-execution",
    }


async def signed_out_page(browser: Browser, base_url: str, size: dict[str, int]) -> Page:
    """The sign-in page, as someone not signed in sees it."""
    context = await browser.new_context(base_url=base_url, viewport=size)  # type: ignore[arg-type]
    page = await context.new_page()
    await page.goto("/")
    return page


async def overflow(page: Page) -> int:
    """How many CSS pixels the document is wider than the viewport (0: no sideways scroll)."""
    wider: int = await page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    return wider


async def test_no_page_scrolls_sideways_at_390_px(
    browser: Browser, web_server: str, engine: ExecutionService
) -> None:
    pages = await every_page(engine)
    page = await sign_in(browser, web_server, "Ada Admin")
    await page.set_viewport_size(PHONE)
    wide = {}
    for name, path in pages.items():
        await page.goto(path)
        if (extra := await overflow(page)) > 0:
            wide[name] = extra
    sign_in_page = await signed_out_page(browser, web_server, PHONE)
    if (extra := await overflow(sign_in_page)) > 0:
        wide["sign-in"] = extra
    assert wide == {}, f"pages wider than 390 px (by px): {wide}"


async def test_the_waiting_step_shows_its_times_and_the_status_as_svg_with_words(
    browser: Browser, web_server: str, engine: ExecutionService
) -> None:
    waiting = await waiting_in_the_inbox(engine)
    page = await sign_in(browser, web_server, "Bob Approver")
    await page.goto(f"/executions/{waiting}")
    step = page.locator("#step-create_crm_record")
    await step.locator(".waiting-times").wait_for()
    assert "waiting since" in await step.locator(".waiting-times").inner_text()
    assert "UTC" in await step.locator(".waiting-times time").first.inner_text()
    badge = step.locator(".step-status .status")
    assert await badge.locator("svg[aria-hidden='true']").count() == 1
    assert (await badge.inner_text()).strip() == "Waiting approval"


async def test_the_executions_list_shows_new_executions_and_their_end_without_reload(
    browser: Browser, web_server: str, engine: ExecutionService
) -> None:
    page = await sign_in(browser, web_server, "Vera Viewer")
    await page.set_viewport_size(PHONE)
    await page.goto("/executions")
    await page.evaluate("window.__notReloaded = true")
    execution_id = await waiting_in_the_inbox(engine)

    row = page.locator(f'tr[data-execution="{execution_id}"]')
    await expect(row).to_have_attribute("data-status", "running", timeout=15_000)
    await expect(row).to_contain_text("Ada Lovelace")  # the key input
    await engine.cancel(execution_id)
    await expect(row).to_have_attribute("data-status", "cancelled", timeout=15_000)
    assert await page.evaluate("window.__notReloaded === true")
    assert await overflow(page) == 0


async def test_step_configuration_shows_one_step_at_a_time_on_a_phone(
    browser: Browser, web_server: str, engine: ExecutionService
) -> None:
    page = await sign_in(browser, web_server, "Ada Admin")
    await page.set_viewport_size(PHONE)
    await page.goto("/workflows/customer_onboarding/steps")
    sections = page.locator("section.step-config")
    assert await sections.count() == 5
    assert await page.locator("section.step-config:visible").count() == 1
    await page.get_by_role("navigation", name="Steps").get_by_role("link", name="3.").click()
    await expect(page.locator("section.step-config:visible")).to_have_count(1)
    await expect(page.locator("#step-create_crm_record")).to_be_visible()
    await page.set_viewport_size({"width": 1280, "height": 900})
    await expect(page.locator("section.step-config:visible")).to_have_count(5)


async def test_relative_times_stay_true_while_a_page_stays_open(
    browser: Browser, web_server: str, engine: ExecutionService
) -> None:
    waiting = await waiting_in_the_inbox(engine)
    page = await sign_in(browser, web_server, "Bob Approver")
    await page.clock.install()
    await page.goto(f"/executions/{waiting}")
    relative = page.locator(".waiting-times time .relative").first
    await expect(relative).to_have_text(re.compile(r"ago$|just now"))
    await page.clock.run_for(5 * 60 * 1000)  # five minutes later, the page still open
    await expect(relative).to_have_text(re.compile(r"^5 min( \d+ s)? ago$"))

"""Bulk approve in Chromium: a critical step offers no checkbox; select two waiting steps,
read the pre-flight list, tick the confirmations once, Approve all → both executions move on."""

from __future__ import annotations

from playwright.async_api import Browser, expect

from app.domain.identity import DEMO_USERS
from tests.browser import sign_in
from tests.helpers import CRM_CONFIRMATIONS, Engine, waiting_at

BOB, CAROL = DEMO_USERS["bob"], DEMO_USERS["carol"]
LIVE = 15_000  # ms


def customer(name: str, email: str) -> dict[str, str]:
    return {"name": name, "email": email, "tier": "premium"}


async def test_select_two_review_tick_once_approve_all_and_no_checkbox_on_a_critical_step(
    browser: Browser, web_server: str, engine: Engine
) -> None:
    critical = await engine.start("customer_onboarding", customer("Kay Critical", "k@x.io"), BOB)
    await waiting_at(engine, critical, "create_crm_record")
    await engine.decide(critical, "create_crm_record", CAROL, "approved",
                        confirmations=CRM_CONFIRMATIONS)  # fmt: skip
    await waiting_at(engine, critical, "setup_billing_account")
    first = await engine.start("customer_onboarding", customer("Lin First", "l@x.io"), BOB)
    second = await engine.start("customer_onboarding", customer("Max Second", "m@x.io"), BOB)
    for execution_id in (first, second):
        await waiting_at(engine, execution_id, "create_crm_record")

    page = await sign_in(browser, web_server, "Carol Approver")
    await page.goto("/approvals")
    billing = page.locator(f"#approval-{critical}-setup_billing_account")
    await expect(billing).to_contain_text("Kay Critical")
    await expect(billing.get_by_role("checkbox")).to_have_count(0)
    await expect(billing).to_contain_text("never in bulk")
    lin = page.locator(f"#approval-{first}-create_crm_record")
    await expect(lin).to_contain_text("CREATE crm.contacts l@x.io", timeout=LIVE)
    await expect(lin).to_contain_text("expires in")

    await lin.get_by_role("checkbox").check()
    max_box = page.locator(f"#approval-{second}-create_crm_record").get_by_role("checkbox")
    await max_box.focus()
    await page.keyboard.press("Space")  # keyboard usable
    await page.get_by_role("button", name="Review selected").click()

    preflight = page.locator(".preflight-items")
    await expect(preflight).to_contain_text("Lin First")
    await expect(preflight).to_contain_text("Max Second")
    await expect(preflight).to_contain_text("CREATE crm.contacts m@x.io")
    await expect(preflight.locator("tr.preflight-item")).to_have_count(2)
    for label in CRM_CONFIRMATIONS:
        await expect(page.get_by_label(label)).to_have_count(1)  # once, for all of them
        await page.get_by_label(label).check()
    await page.get_by_role("button", name="Approve all").click()

    results = page.locator(".bulk-results")
    await expect(results.locator(".bulk-approved")).to_have_count(2)
    await expect(results).to_contain_text("approved")
    for execution_id in (first, second):
        await waiting_at(engine, execution_id, "setup_billing_account")

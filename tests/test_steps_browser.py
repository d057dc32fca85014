"""Step configuration in Chromium against the real web process, worker, Temporal and PostgreSQL:
an admin's mode change decides how the next execution runs; a viewer gets no form."""

from __future__ import annotations

import re

from playwright.async_api import Browser, Page, expect

from app.db.tables import ModeChangeEvent, StepConfig
from app.executions.service import ExecutionService
from tests.browser import sign_in

LIVE = 20_000  # ms


async def execute(page: Page, name: str, email: str) -> None:
    await page.goto("/workflows/customer_onboarding")
    await page.get_by_label("Full name").fill(name)
    await page.get_by_label("Email").fill(email)
    await page.get_by_role("button", name="Execute workflow").click()
    await expect(page).to_have_url(re.compile(r"/executions/customer_onboarding-[0-9a-f]+$"))


async def test_an_admin_sets_step_3_to_always_auto_and_the_next_execution_runs_through_it(
    browser: Browser, web_server: str, engine: ExecutionService
) -> None:
    page = await sign_in(browser, web_server, "Ada Admin")
    # Before: step 3 (write, validation_required) stops and waits for a person.
    await execute(page, "Grace Hopper", "grace@example.com")
    await expect(page.locator("#step-create_crm_record")).to_have_attribute(
        "data-status", "waiting_approval", timeout=LIVE
    )

    await page.goto("/workflows/customer_onboarding/steps")
    step3 = page.locator("#step-create_crm_record")
    await expect(step3.get_by_label("Mode", exact=True)).to_have_value("validation_required")
    await step3.get_by_label("Mode", exact=True).select_option("always_auto")
    await step3.get_by_label("Reason for a mode change").fill("reviewed the last 300 records")
    await step3.get_by_role("button", name="Save Create CRM Record").click()
    saved = page.locator("#step-create_crm_record")
    await expect(saved.get_by_role("status")).to_contain_text("now in Auto")
    await expect(saved).to_have_attribute("data-mode", "always_auto")

    # After: the next execution runs step 3 at once, in always_auto, and waits at step 4
    # (critical, always_manual) instead.
    await execute(page, "Katherine Johnson", "katherine@example.com")
    crm = page.locator("#step-create_crm_record")
    await expect(crm).to_have_attribute("data-status", "completed", timeout=LIVE)
    await expect(crm).to_contain_text("Auto")
    await expect(page.locator("#step-setup_billing_account")).to_have_attribute(
        "data-status", "waiting_approval", timeout=LIVE
    )

    # The change is in the step's mode history, with who and why.
    await page.goto("/workflows/customer_onboarding/steps/create_crm_record")
    history = page.locator("#mode-history")
    await expect(history).to_contain_text("reviewed the last 300 records")
    await expect(history.locator("tr[data-kind=manual]")).to_contain_text("ada")
    assert await ModeChangeEvent.count() == 1


async def test_a_viewer_cannot_open_the_step_configuration_form(
    browser: Browser, web_server: str, engine: ExecutionService
) -> None:
    page = await sign_in(browser, web_server, "Vera Viewer")
    response = await page.goto("/workflows/customer_onboarding/steps")
    assert response is not None and response.status == 403
    await expect(page.get_by_role("alert")).to_contain_text(
        "Editing step configuration needs the admin role; you are a viewer"
    )
    await expect(page.get_by_label("Mode", exact=True)).to_have_count(0)
    # The analytics stay readable, without the admin's form.
    await page.goto("/workflows/customer_onboarding/steps/check_duplicates")
    await expect(page.get_by_role("heading", name="Promotion criteria")).to_be_visible()
    await expect(page.get_by_role("button", name="Change mode")).to_have_count(0)


async def test_the_second_of_two_admins_saving_a_step_is_shown_the_current_values(
    browser: Browser, web_server: str, engine: ExecutionService
) -> None:
    first = await sign_in(browser, web_server, "Ada Admin")
    second = await sign_in(browser, web_server, "Ada Admin")  # another window, same time
    for page in (first, second):
        await page.goto("/workflows/customer_onboarding/steps")
    mine = first.locator("#step-check_duplicates")
    await mine.get_by_label("Min successful runs").fill("40")
    await mine.get_by_role("button", name="Save Check Duplicates").click()
    await expect(first.locator("#step-check_duplicates").get_by_role("status")).to_contain_text(
        "Saved."
    )

    theirs = second.locator("#step-check_duplicates")
    await theirs.get_by_label("Demotion window").fill("10")
    await theirs.get_by_role("button", name="Save Check Duplicates").click()

    conflict = second.locator("#conflict-check_duplicates")
    await expect(conflict).to_contain_text(
        "ada changed this step while you were editing; here are the current values"
    )
    await expect(conflict.locator("dt:text-is('Min successful runs') + dd")).to_have_text("40")
    # Their own entry is still there, and nothing of it was saved.
    section = second.locator("#step-check_duplicates")
    await expect(section.get_by_label("Demotion window")).to_have_value("10")
    row = await StepConfig.objects().get(StepConfig.step_id == "check_duplicates")
    assert row is not None and "demotion_window" not in str(row.criteria)

    # Saving again, having seen the current values, applies theirs.
    await section.get_by_role("button", name="Save Check Duplicates").click()
    await expect(second.locator("#step-check_duplicates").get_by_role("status")).to_contain_text(
        "Saved."
    )
    row = await StepConfig.objects().get(StepConfig.step_id == "check_duplicates")
    assert row is not None and "demotion_window" in str(row.criteria)


async def test_choosing_another_impact_offers_that_paths_modes_at_once(
    browser: Browser, web_server: str, engine: ExecutionService
) -> None:
    page = await sign_in(browser, web_server, "Ada Admin")
    await page.goto("/workflows/customer_onboarding/steps")
    step2 = page.locator("#step-check_duplicates")
    await step2.get_by_label("Impact").select_option("critical")
    mode = page.locator("#step-check_duplicates").get_by_label("Mode", exact=True)
    await expect(mode.locator("option")).to_have_count(3)
    await expect(mode.locator("option").first).to_have_attribute("value", "always_manual")
    await expect(page.locator("#step-check_duplicates").get_by_label("Impact")).to_have_value(
        "critical"
    )

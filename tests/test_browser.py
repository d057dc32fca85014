"""Playwright in Chromium against the real web process, worker, Temporal and PostgreSQL."""

from __future__ import annotations

import re

from playwright.async_api import Browser, expect
from temporalio.worker import Worker

from app.db.tables import DemoContact
from tests.browser import sign_in
from tests.helpers import DEFINITIONS, automate_every_step


async def test_start_from_the_form_and_watch_it_finish(
    browser: Browser, web_server: str, worker: Worker, database_url: str
) -> None:
    await automate_every_step(DEFINITIONS["customer_onboarding"])  # no approvals in this one
    page = await sign_in(browser, web_server, "Bob Approver")
    await page.get_by_role("link", name="Workflows").click()
    await page.get_by_role("link", name="Customer Onboarding").click()
    await page.get_by_label("Full name").fill("Grace Hopper")
    await page.get_by_label("Email").fill("grace@example.com")
    await page.get_by_label("Tier").select_option("premium")
    await page.get_by_role("button", name="Execute workflow").click()

    await expect(page).to_have_url(re.compile(r"/executions/customer_onboarding-[0-9a-f]+$"))
    timeline = page.locator("#timeline")
    # No reload: htmx swaps the timeline in place until the execution ends.
    await expect(timeline).to_have_attribute("data-status", "completed", timeout=20_000)
    await expect(timeline).to_contain_text("5/5 steps completed")
    await expect(page.locator("#step-check_duplicates")).to_contain_text("No duplicates found")
    assert await DemoContact.count().where(DemoContact.email == "grace@example.com") == 1


async def test_form_errors_are_shown_beside_fields_with_values_kept(
    browser: Browser, web_server: str, worker: Worker
) -> None:
    page = await sign_in(browser, web_server, "Carol Approver")
    await page.goto("/workflows/customer_onboarding")
    await page.get_by_label("Full name").fill("Ada")
    await page.get_by_label("Email").fill("ada-at-example")
    await page.get_by_role("button", name="Execute workflow").click()

    await expect(page.locator("#e-email")).to_contain_text("must be an email address")
    await expect(page.get_by_label("Full name")).to_have_value("Ada")
    await expect(page.get_by_label("Email")).to_have_value("ada-at-example")

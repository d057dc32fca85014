"""The timeline in Chromium with JavaScript off (and, where the case is the same, on): no refresh
throws away what an approver enters, a refused decision comes back to the timeline with its
message and the entered values (post/redirect/get), a decision on a step someone else already
decided says who and when, a 403 on a form post says why with a way back."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Browser, Page, expect

from app.domain.identity import DEMO_USERS
from app.executions.service import ExecutionService
from tests.helpers import CRM_CONFIRMATIONS, PREMIUM, waiting_at

REFRESH = 'meta[http-equiv="refresh"]'


async def signed_in_page(
    browser: Browser, base_url: str, user: str, *, javascript: bool = False
) -> Page:
    """A fresh context (JavaScript as asked) signed in through the dev sign-in menu, a plain
    form that works without JavaScript."""
    context = await browser.new_context(base_url=base_url, java_script_enabled=javascript)
    page = await context.new_page()
    await page.goto("/auth/sign-in")
    await page.get_by_label(user).check()
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(f"{base_url}/")
    return page


async def waiting_execution(engine: ExecutionService) -> str:
    execution_id = await engine.start("customer_onboarding", PREMIUM, DEMO_USERS["bob"])
    await waiting_at(engine, execution_id, "create_crm_record")
    return execution_id


async def test_no_refresh_while_a_decision_form_is_shown_a_refresh_link_instead(
    browser: Browser, web_server: str, engine: ExecutionService
) -> None:
    execution_id = await waiting_execution(engine)
    approver = await signed_in_page(browser, web_server, "Carol Approver")
    await approver.goto(f"/executions/{execution_id}")
    await expect(approver.get_by_label("Reason (required to reject)")).to_be_visible()
    await expect(approver.locator(REFRESH)).to_have_count(0)
    refresh = approver.get_by_role("link", name="Refresh")
    await expect(refresh).to_have_attribute("href", f"/executions/{execution_id}")

    viewer = await signed_in_page(browser, web_server, "Vera Viewer")  # may not decide
    await viewer.goto(f"/executions/{execution_id}")
    await expect(viewer.locator(REFRESH)).to_have_count(1)
    for page in (approver, viewer):
        await page.context.close()


async def test_a_refused_decision_comes_back_to_the_timeline_with_the_message_and_entries(
    browser: Browser, web_server: str, engine: ExecutionService
) -> None:
    execution_id = await waiting_execution(engine)
    page = await signed_in_page(browser, web_server, "Carol Approver")
    await page.goto(f"/executions/{execution_id}")
    card = page.locator("#step-create_crm_record")
    await card.get_by_label(CRM_CONFIRMATIONS[0]).check()  # one of three boxes
    await card.get_by_label("Reason (required to reject)").fill("looked fine to me")
    await card.get_by_role("button", name="Approve & Continue", exact=True).click()

    await expect(page).to_have_url(f"{web_server}/executions/{execution_id}#step-create_crm_record")
    await expect(card.get_by_role("alert")).to_contain_text("Not accepted: missing confirmation")
    await expect(card.get_by_label(CRM_CONFIRMATIONS[0])).to_be_checked()
    await expect(card.get_by_label(CRM_CONFIRMATIONS[1])).not_to_be_checked()
    await expect(card.get_by_label("Reason (required to reject)")).to_have_value(
        "looked fine to me"
    )
    await page.reload()  # what a refresh would do: the timeline again, the message shown once
    await expect(card).to_have_attribute("data-status", "waiting_approval")
    await expect(page.locator("body")).not_to_contain_text("Method Not Allowed")
    await expect(card.get_by_role("alert")).to_have_count(0)
    await page.context.close()


@pytest.mark.parametrize("javascript", [False, True], ids=["without-js", "with-js"])
async def test_a_decision_on_a_step_someone_else_decided_says_who_and_when(
    browser: Browser, web_server: str, engine: ExecutionService, javascript: bool
) -> None:
    execution_id = await waiting_execution(engine)
    page = await signed_in_page(browser, web_server, "Carol Approver", javascript=javascript)
    # The page falls behind (its live stream cut, as on a network blip) while ada decides.
    await page.context.route("**/events*", lambda route: route.abort())
    await page.goto(f"/executions/{execution_id}")
    card = page.locator("#step-create_crm_record")
    await expect(card.get_by_label("Reason (required to reject)")).to_be_visible()
    await engine.decide(execution_id, "create_crm_record", DEMO_USERS["ada"], "rejected",
                        reason="duplicate customer")  # fmt: skip
    [ada] = (await engine.timeline(execution_id)).steps[2].decisions
    await card.get_by_label("Reason (required to reject)").fill("not today")
    await card.get_by_role("button", name="Reject", exact=True).click()

    # Who and when, in UTC and relative ("at 06:32 UTC · 1 s ago").
    await expect(card.get_by_role("alert")).to_have_text(
        re.compile(rf"Not applied: ada rejected this step at {ada.decided_at[11:16]} UTC · .+\.$")
    )
    await expect(card).to_have_attribute("data-status", "rejected")
    await page.context.close()


async def test_a_403_on_a_form_post_shows_why_and_links_back(
    browser: Browser, web_server: str, engine: ExecutionService
) -> None:
    execution_id = await waiting_execution(engine)
    page = await signed_in_page(browser, web_server, "Carol Approver")
    await page.goto(f"/executions/{execution_id}")
    await page.context.clear_cookies(name="stepladder_csrf")  # e.g. expired with the session
    card = page.locator("#step-create_crm_record")
    await card.get_by_label("Reason (required to reject)").fill("not today")
    await card.get_by_role("button", name="Reject", exact=True).click()

    await expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()
    await expect(page.get_by_role("alert")).to_contain_text("CSRF token verification failed")
    await page.get_by_role("link", name="Back to the page you came from").click()
    await expect(page).to_have_url(f"{web_server}/executions/{execution_id}")
    await expect(card).to_have_attribute("data-status", "waiting_approval")
    await page.context.close()

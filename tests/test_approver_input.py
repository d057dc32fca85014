"""Approver input (`approval_inputs:`): the CRM step lets its approver lower the proposed credit
limit (never raise it) and leave a note — checked in the panel, on the server and by the
workflow's validator, recorded with the decision, used by the step's params and shown in the
preview as amended."""

from __future__ import annotations

import httpx
from playwright.async_api import Browser, expect

from app.db.tables import ApprovalDecision, DemoBillingAccount, DemoContact
from app.domain.identity import DEMO_USERS
from app.executions.service import ExecutionService
from app.settings import Settings
from tests.browser import sign_in
from tests.conftest import api_headers
from tests.helpers import CRM_CONFIRMATIONS, Engine, finished, waiting_at
from tests.test_web import HTML, csrf_token
from tests.test_web_decisions import waiting_page

BOB, CAROL = DEMO_USERS["bob"], DEMO_USERS["carol"]


async def test_an_amended_limit_is_recorded_used_by_the_step_and_shown_as_amended(
    engine: Engine,
) -> None:
    execution_id = await engine.start("customer_onboarding", PREMIUM_CUSTOMER, BOB)
    await waiting_at(engine, execution_id, "create_crm_record")
    await engine.decide(execution_id, "create_crm_record", CAROL, "approved",
                        confirmations=CRM_CONFIRMATIONS,
                        inputs={"credit_limit": "3000", "note": "new customer, start low"})  # fmt: skip
    timeline = await waiting_at(engine, execution_id, "setup_billing_account")
    crm = next(s for s in timeline.steps if s.id == "create_crm_record")
    assert crm.status == "completed" and crm.result["credit_limit"] == 3000
    assert crm.preview is not None
    [limit] = [f for f in crm.preview.fields if f.name == "credit_limit"]
    assert (limit.new, limit.proposed) == (3000, 5000)
    warnings = [w.message for w in crm.preview.impact]
    assert "Setting credit limit to $3,000" in warnings, warnings  # not the proposed $5,000
    assert crm.decisions[0].inputs == {"credit_limit": "3000", "note": "new customer, start low"}
    await engine.decide(execution_id, "setup_billing_account", CAROL, "approved",
                        typed_confirmation="CONFIRM BILLING")  # fmt: skip
    assert (await finished(engine, execution_id)).status == "completed"

    contact = await DemoContact.select().first()
    account = await DemoBillingAccount.select().first()
    assert contact is not None and contact["credit_limit"] == 3000
    assert account is not None and account["credit_limit"] == 3000  # the next step read it
    [row] = await ApprovalDecision.raw(
        "SELECT jsonb_typeof(inputs) AS kind, inputs->>'credit_limit' AS credit_limit"
        " FROM decisions WHERE step_id = 'create_crm_record'"
    )
    assert row == {"kind": "object", "credit_limit": "3000"}


async def test_an_out_of_bounds_limit_is_refused_by_the_api_and_the_form_keeping_it(
    client: httpx.AsyncClient, engine: ExecutionService, settings: Settings
) -> None:
    execution_id, page = await waiting_page(client, engine, settings, "carol")
    assert 'name="input.credit_limit"' in page.text and 'max="5000.0"' in page.text
    approve = f"/api/workflows/executions/{execution_id}/steps/create_crm_record/approve"
    refused = await client.post(approve, headers=api_headers("carol"), json={
        "confirmations": CRM_CONFIRMATIONS, "inputs": {"credit_limit": 9000}})  # fmt: skip
    assert refused.status_code == 422
    assert refused.json()["detail"] == "Credit limit ($) must be at most 5,000"

    url = f"/executions/{execution_id}/steps/create_crm_record/decision"
    posted = await client.post(url, headers=HTML, follow_redirects=True, data={
        "_csrf_token": csrf_token(page.text), "action": "approved",
        "confirmation": CRM_CONFIRMATIONS, "input.credit_limit": "9000",
    })  # fmt: skip
    assert "Not accepted: Credit limit ($) must be at most 5,000" in posted.text
    assert 'name="input.credit_limit" value="9000"' in posted.text  # what was entered, kept
    assert await DemoContact.count() == 0
    assert (await engine.timeline(execution_id)).steps[2].status == "waiting_approval"
    await engine.cancel(execution_id)


async def test_the_panel_refuses_a_limit_above_the_proposal_and_applies_a_lower_one(
    browser: Browser, web_server: str, engine: ExecutionService
) -> None:
    execution_id = await engine.start("customer_onboarding", PREMIUM_CUSTOMER, BOB)
    await waiting_at(engine, execution_id, "create_crm_record")
    page = await sign_in(browser, web_server, "Carol Approver")
    await page.goto(f"/executions/{execution_id}")
    card = page.locator("#step-create_crm_record")
    for label in CRM_CONFIRMATIONS:
        await card.get_by_label(label).check()
    limit = card.get_by_label("Credit limit ($)")
    await expect(limit).to_have_value("5000")
    await limit.fill("9000")
    await card.get_by_role("button", name="Approve & Continue", exact=True).click()
    # Refused in the panel, before anything is sent: the browser names the bound.
    message = await limit.evaluate("e => e.validationMessage")
    assert "5000" in message
    await expect(card).to_have_attribute("data-status", "waiting_approval")

    await limit.fill("2500")
    await card.get_by_role("button", name="Approve & Continue", exact=True).click()
    await expect(card).to_have_attribute("data-status", "completed", timeout=15_000)
    await expect(card).to_contain_text("amended by the approver from $5,000")
    await expect(card).to_contain_text("credit_limit = 2500")
    contact = await DemoContact.select().first()
    assert contact is not None and contact["credit_limit"] == 2500
    await page.context.close()
    await engine.cancel(execution_id)


PREMIUM_CUSTOMER = {"name": "John Doe", "email": "john@example.com", "tier": "premium"}

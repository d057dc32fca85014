"""Decisions through the web: the JSON API paths of SPEC §5 and the approval panel's form, with
the workflow's refusals turned into clear 4xx answers."""

from __future__ import annotations

from typing import Any

import httpx

from app.db.tables import DemoContact
from app.executions.service import ExecutionService
from app.settings import Settings
from tests.conftest import api_headers, signed_in
from tests.helpers import CRM_CONFIRMATIONS, PREMIUM, eventually, finished, waiting_at
from tests.test_web import HTML, csrf_token

API = "/api/workflows/executions"


async def start(client: httpx.AsyncClient, user: str = "bob") -> str:
    response = await client.post(
        f"{API}/start",
        json={"workflow_id": "customer_onboarding", "workflow_data": PREMIUM},
        headers=api_headers(user),
    )
    assert response.status_code == 201, response.text
    execution_id: str = response.json()["execution_id"]
    return execution_id


async def approve(
    client: httpx.AsyncClient, execution_id: str, step_id: str, user: str, **body: Any
) -> httpx.Response:
    return await client.post(
        f"{API}/{execution_id}/steps/{step_id}/approve", json=body, headers=api_headers(user)
    )


async def started_and_waiting(client: httpx.AsyncClient, engine: ExecutionService) -> str:
    """An execution bob started through the API, now waiting at Create CRM Record."""
    execution_id = await start(client)
    await waiting_at(engine, execution_id, "create_crm_record")
    return execution_id


async def waiting_page(
    client: httpx.AsyncClient, engine: ExecutionService, settings: Settings, user: str
) -> tuple[str, httpx.Response]:
    """An execution bob started, waiting at Create CRM Record, and its page as `user` sees it."""
    execution_id = await started_and_waiting(client, engine)
    page = await signed_in(client, settings, user).get(f"/executions/{execution_id}", headers=HTML)
    return execution_id, page


async def test_api_approve_and_reject_answer_409_403_422_and_404_with_messages(
    client: httpx.AsyncClient, engine: ExecutionService
) -> None:
    execution_id = await started_and_waiting(client, engine)

    incomplete = await approve(client, execution_id, "create_crm_record", "bob",
                               confirmations=CRM_CONFIRMATIONS[:1])  # fmt: skip
    assert incomplete.status_code == 422
    assert "missing confirmation(s)" in incomplete.json()["detail"]
    assert incomplete.json()["extra"] == {"kind": "incomplete"}
    viewer = await approve(client, execution_id, "create_crm_record", "vera",
                           confirmations=CRM_CONFIRMATIONS)  # fmt: skip
    assert viewer.status_code == 403 and "approver role" in viewer.json()["detail"]
    unknown_step = await approve(client, execution_id, "nope", "bob")
    assert unknown_step.status_code == 404
    unknown_execution = await approve(client, "customer_onboarding-000", "nope", "bob")
    assert unknown_execution.status_code == 404
    assert "no execution" in unknown_execution.json()["detail"]

    ok = await approve(client, execution_id, "create_crm_record", "bob",
                       confirmations=CRM_CONFIRMATIONS)  # fmt: skip
    assert ok.status_code == 200, ok.text
    assert ok.json() == {"execution_id": execution_id, "step_id": "create_crm_record",
                         "step_status": "approved", "approvals": 1, "required_approvals": 1}  # fmt: skip
    duplicate = await approve(client, execution_id, "create_crm_record", "carol",
                              confirmations=CRM_CONFIRMATIONS)  # fmt: skip
    assert duplicate.status_code == 409 and "not waiting" in duplicate.json()["detail"]

    await waiting_at(engine, execution_id, "setup_billing_account")
    reject_url = f"{API}/{execution_id}/steps/setup_billing_account/reject"
    no_reason = await client.post(reject_url, json={"reason": " "}, headers=api_headers("carol"))
    assert no_reason.status_code == 422 and "reason" in no_reason.json()["detail"]
    # A body without a reason is the same refusal as a blank one (README: 422), not a 400.
    missing_body = await client.post(reject_url, json={}, headers=api_headers("carol"))
    assert missing_body.status_code == 422
    assert missing_body.json()["detail"] == "a rejection needs a reason"
    rejected = await client.post(
        reject_url, json={"reason": "Billing on hold"}, headers=api_headers("carol")
    )
    assert rejected.status_code == 200 and rejected.json()["step_status"] == "rejected"
    timeline = await finished(engine, execution_id)
    assert timeline.status == "rejected"
    assert timeline.outcome == "Setup Billing Account rejected by carol: Billing on hold"


async def test_the_panel_form_refuses_with_the_reason_in_place_and_keeps_what_was_entered(
    client: httpx.AsyncClient, engine: ExecutionService, settings: Settings
) -> None:
    execution_id, page = await waiting_page(client, engine, settings, "carol")
    assert "Operation preview: CREATE" in page.text and "PRODUCTION" in page.text
    assert "Setting credit limit to $5,000" in page.text
    for label in CRM_CONFIRMATIONS:
        assert f'value="{label}"' in page.text.replace("&gt;", ">")
    assert "Approve &amp; Continue" in page.text and "Reject" in page.text
    url = f"/executions/{execution_id}/steps/create_crm_record/decision"
    token = csrf_token(page.text)

    refused = await client.post(
        url,
        data={"_csrf_token": token, "action": "approved", "confirmation": CRM_CONFIRMATIONS[0],
              "reason": "looked fine"},
        headers=HTML, follow_redirects=False,
    )  # fmt: skip
    # Post/redirect/get: back to the timeline, which shows the refusal and what was entered.
    assert refused.status_code == 303
    assert refused.headers["location"] == f"/executions/{execution_id}#step-create_crm_record"
    shown = await client.get(refused.headers["location"], headers=HTML)
    assert "Not accepted: missing confirmation(s)" in shown.text
    assert f'value="{CRM_CONFIRMATIONS[0]}" checked' in shown.text  # ticked box kept
    assert ">looked fine</textarea>" in shown.text  # typed reason kept
    again = await client.get(refused.headers["location"], headers=HTML)
    assert "Not accepted" not in again.text  # shown once
    assert await DemoContact.count() == 0

    partial = await client.post(
        url, data={"_csrf_token": token, "action": "rejected"},
        headers={**HTML, "hx-request": "true"},
    )  # fmt: skip
    assert partial.status_code == 422 and "<html" not in partial.text
    assert "a rejection needs a reason" in partial.text

    accepted = await client.post(
        url,
        data={"_csrf_token": token, "action": "approved", "confirmation": CRM_CONFIRMATIONS},
        headers=HTML, follow_redirects=False,
    )  # fmt: skip
    assert accepted.status_code == 303
    assert accepted.headers["location"] == f"/executions/{execution_id}#step-create_crm_record"
    timeline = await waiting_at(engine, execution_id, "setup_billing_account")
    assert timeline.steps[2].decisions[0].user_id == "carol"
    after = await client.get(f"/executions/{execution_id}", headers=HTML)
    assert "✓ Approved</strong> by carol" in after.text
    assert "Type <code>CONFIRM BILLING</code> to confirm" in after.text


async def test_a_viewer_sees_the_preview_but_no_decision_form(
    client: httpx.AsyncClient, engine: ExecutionService, settings: Settings
) -> None:
    execution_id, page = await waiting_page(client, engine, settings, "vera")
    assert "Operation preview: CREATE" in page.text
    assert "You can watch this step but not decide it" in page.text
    assert "decision-form" not in page.text
    await engine.cancel(execution_id)


async def test_cancel_through_the_api_ends_a_waiting_execution(
    client: httpx.AsyncClient, engine: ExecutionService
) -> None:
    execution_id = await started_and_waiting(client, engine)
    viewer = await client.post(f"{API}/{execution_id}/cancel", headers=api_headers("vera"))
    assert viewer.status_code == 403
    response = await client.post(f"{API}/{execution_id}/cancel", headers=api_headers("bob"))
    assert response.status_code == 202
    timeline = await finished(engine, execution_id)
    assert timeline.status == "cancelled" and timeline.steps[2].status == "cancelled"
    # Ended: nothing to cancel any more (Temporal would accept the request and do nothing).
    again = await client.post(f"{API}/{execution_id}/cancel", headers=api_headers("bob"))
    assert again.status_code == 409 and "already ended" in again.json()["detail"], again.text


async def test_api_lists_executions_with_filters_and_my_approvals(
    client: httpx.AsyncClient, engine: ExecutionService
) -> None:
    execution_id = await started_and_waiting(client, engine)

    # The listing reads the records, written just after the timeline says the step waits.
    listed = await eventually(
        lambda: client.get(f"{API}?waiting=true", headers=api_headers("vera")),
        lambda response: response.status_code == 200 and len(response.json()) == 1,
    )
    assert [(r["execution_id"], r["waiting"]) for r in listed.json()] == [(execution_id, True)]
    assert (await client.get(f"{API}?status=completed", headers=api_headers("vera"))).json() == []

    mine = await client.get("/api/workflows/approvals", headers=api_headers("carol"))
    assert [(a["execution_id"], a["step_id"]) for a in mine.json()] == [
        (execution_id, "create_crm_record")
    ]
    assert mine.json()[0]["waiting_since"] is not None, "the inbox says since when it waits"
    viewer = await client.get("/api/workflows/approvals", headers=api_headers("vera"))
    assert viewer.json() == []
    await engine.cancel(execution_id)


async def test_the_panel_tells_the_starter_of_a_critical_step_that_four_eyes_apply(
    client: httpx.AsyncClient, engine: ExecutionService, settings: Settings
) -> None:
    execution_id = await started_and_waiting(client, engine)
    ok = await approve(client, execution_id, "create_crm_record", "carol",
                       confirmations=CRM_CONFIRMATIONS)  # fmt: skip
    assert ok.status_code == 200
    await waiting_at(engine, execution_id, "setup_billing_account")

    starter = await signed_in(client, settings, "bob").get(f"/executions/{execution_id}")
    other = await signed_in(client, settings, "carol").get(f"/executions/{execution_id}")

    notice = "You started this execution: four eyes means someone else approves"
    assert notice in starter.text and 'class="decision-form"' in starter.text
    assert notice not in other.text and 'class="decision-form"' in other.text
    await engine.cancel(execution_id)


async def test_the_executions_api_names_an_unknown_status_filter(
    client: httpx.AsyncClient, database_url: str
) -> None:
    response = await client.get(f"{API}?status=bogus", headers=api_headers("vera"))
    assert response.status_code == 400
    assert "status must be one of running" in response.json()["detail"]
    assert response.json()["extra"]["errors"]["status"].endswith("got 'bogus'")

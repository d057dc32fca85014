"""Bulk approve through the API and the pages without JavaScript: each execution is a separate
decision through the workflow's validator, recorded individually, reported item by item; a
critical step (or a typed phrase) is never bulk-approved; mixed selections are refused."""

from __future__ import annotations

import json
import re

import httpx

from app.db.tables import ApprovalDecision
from app.domain.identity import DEMO_USERS
from app.settings import Settings
from tests.conftest import api_headers, signed_in
from tests.helpers import CRM_CONFIRMATIONS, Engine, eventually, waiting_at

BOB, CAROL = DEMO_USERS["bob"], DEMO_USERS["carol"]
BULK = "/api/workflows/approvals/bulk"


def customer(n: int, tier: str = "premium") -> dict[str, str]:
    return {"name": f"Customer {n}", "email": f"c{n}@example.com", "tier": tier}


async def waiting_crm(engine: Engine, *customers: dict[str, str]) -> list[str]:
    ids = [await engine.start("customer_onboarding", c, BOB) for c in customers]
    for execution_id in ids:
        await waiting_at(engine, execution_id, "create_crm_record")
    return ids


def bulk_body(ids: list[str], step_id: str = "create_crm_record", **more: object) -> dict:
    return {"workflow_id": "customer_onboarding", "step_id": step_id, "execution_ids": ids,
            "confirmations": CRM_CONFIRMATIONS, **more}  # fmt: skip


async def test_bulk_approve_approves_each_execution_as_its_own_recorded_decision(
    client: httpx.AsyncClient, engine: Engine
) -> None:
    ids = await waiting_crm(engine, customer(1), customer(2), customer(3, "basic"))

    response = await client.post(BULK, json=bulk_body(ids), headers=api_headers("carol"))

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["approved"] == 3 and body["refused"] == 0
    assert [r["execution_id"] for r in body["results"]] == ids
    assert {r["message"] for r in body["results"]} == {"approved"}
    assert body["results"][0]["key_input"] == "Customer 1"
    for execution_id in ids:  # each moves on to the next step that waits
        await waiting_at(engine, execution_id, "setup_billing_account")
    rows = await ApprovalDecision.select().where(ApprovalDecision.execution_id.is_in(ids))
    assert sorted(r["execution_id"] for r in rows) == sorted(ids)
    assert {(r["user_id"], r["action"], r["source"], r["accepted"]) for r in rows} == {
        ("carol", "approved", "api", True)
    }
    basic = next(r for r in rows if r["execution_id"] == ids[2])
    assert json.loads(basic["confirmations"]) == CRM_CONFIRMATIONS[:2]  # what that one asked


async def test_bulk_approve_reports_a_refusal_per_item(
    client: httpx.AsyncClient, engine: Engine
) -> None:
    decided, fresh, premium = await waiting_crm(
        engine, customer(4, "basic"), customer(5, "basic"), customer(6)
    )
    await engine.decide(decided, "create_crm_record", CAROL, "approved",
                        confirmations=CRM_CONFIRMATIONS[:2])  # fmt: skip
    ids = [decided, fresh, premium, "customer_onboarding-nope"]
    body = bulk_body(ids, confirmations=CRM_CONFIRMATIONS[:2])  # the premium one asks for 3

    response = await client.post(BULK, json=body, headers=api_headers("ada"))

    results = {r["execution_id"]: r for r in response.json()["results"]}
    assert results[fresh]["message"] == "approved"
    assert results[decided]["result"] == "refused"
    assert results[decided]["message"].startswith("refused: ")
    assert "not waiting" in results[decided]["reason"]
    assert "missing confirmation" in results[premium]["reason"]
    assert "customer_onboarding-nope" in results["customer_onboarding-nope"]["reason"]
    assert response.json()["approved"] == 1 and response.json()["refused"] == 3
    await waiting_at(engine, premium, "create_crm_record")  # still waiting: refused, not lost

    viewer = await client.post(BULK, json=bulk_body([premium]), headers=api_headers("vera"))
    assert viewer.status_code == 200
    assert "approver role" in viewer.json()["results"][0]["reason"]


async def test_a_critical_step_is_never_bulk_approved(
    client: httpx.AsyncClient, engine: Engine
) -> None:
    (execution_id,) = await waiting_crm(engine, customer(7))
    await engine.decide(execution_id, "create_crm_record", CAROL, "approved",
                        confirmations=CRM_CONFIRMATIONS)  # fmt: skip
    await waiting_at(engine, execution_id, "setup_billing_account")

    response = await client.post(
        BULK, json=bulk_body([execution_id], "setup_billing_account", confirmations=[]),
        headers=api_headers("ada"),
    )  # fmt: skip

    assert response.status_code == 422
    assert "critical" in response.json()["detail"]
    await waiting_at(engine, execution_id, "setup_billing_account")
    unknown = await client.post(BULK, json=bulk_body([execution_id], "nope"),
                                headers=api_headers("ada"))  # fmt: skip
    assert unknown.status_code == 404
    empty = await client.post(BULK, json=bulk_body([]), headers=api_headers("ada"))
    assert empty.status_code == 400 and "execution_ids" in empty.json()["detail"]


def csrf(page: str) -> str:
    found = re.search(r'name="_csrf_token" value="([^"]+)"', page)
    assert found, "no CSRF token on the page"
    return found.group(1)


async def test_the_pages_review_then_approve_all_without_javascript(
    client: httpx.AsyncClient, settings: Settings, engine: Engine
) -> None:
    first, second = await waiting_crm(engine, customer(8), customer(9, "basic"))
    carol = signed_in(client, settings, "carol")
    await eventually(lambda: carol.get("/approvals"), lambda p: "CREATE crm.contacts c9" in p.text)

    review = await carol.get(
        "/approvals/review",
        params=[("selected", f"{first}/create_crm_record"), ("selected", f"{second}/create_crm_record")],
    )  # fmt: skip
    assert review.status_code == 200
    assert "Customer 8" in review.text and "Customer 9" in review.text
    assert "CREATE crm.contacts c8@example.com" in review.text
    for label in CRM_CONFIRMATIONS:  # the union of what they ask, once
        assert review.text.count(f'value="{label.replace(">", "&gt;")}"') == 1

    done = await carol.post("/approvals/bulk", data={
        "_csrf_token": csrf(review.text), "workflow_id": "customer_onboarding",
        "step_id": "create_crm_record", "execution_id": [first, second],
        "confirmation": CRM_CONFIRMATIONS,
    })  # fmt: skip
    assert done.status_code == 200, done.text
    assert done.text.count("<strong>approved</strong>") == 2
    for execution_id in (first, second):
        await waiting_at(engine, execution_id, "setup_billing_account")

    mixed = await carol.get("/approvals/review", params=[
        ("selected", f"{first}/setup_billing_account"), ("selected", f"{second}/create_crm_record"),
    ])  # fmt: skip
    assert mixed.status_code == 400 and "one workflow and one step" in mixed.text
    critical = await carol.get(
        "/approvals/review", params={"selected": f"{first}/setup_billing_account"}
    )
    assert critical.status_code == 422 and "never approved in bulk" in critical.text
    no_token = await carol.post("/approvals/bulk", data={"workflow_id": "customer_onboarding"})
    assert no_token.status_code == 403
    # A viewer is told it is the role, not that nothing is waiting.
    vera = signed_in(client, settings, "vera")
    viewer = await vera.get("/approvals/review", params={"selected": f"{first}/create_crm_record"})
    assert viewer.status_code == 403 and "Approving in bulk" in viewer.text, viewer.text

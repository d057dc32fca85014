"""The shipped definitions end to end through the JSON API (start, then approve), on the session
worker and the demo tables: order processing with and without the high-amount approval, expense
approval with one approver below $1,000 and two distinct approvers from $1,000 (the same person
twice refused). Each test starts as a different user: starts are rate-limited per user."""

from __future__ import annotations

from typing import Any

import httpx

from app.db.demo import DemoSystems
from app.db.tables import DemoExpense, DemoInventoryItem, DemoOrder, DemoOutboxMessage, DemoPayment
from app.steps.seeding import seed_step_configs
from tests.conftest import api_headers
from tests.helpers import DEFINITIONS, eventually
from tests.test_web import HTML

API = "/api/workflows/executions"


async def prepared() -> None:
    await seed_step_configs(DEFINITIONS.values())
    await DemoSystems().seed_inventory()


async def start(
    client: httpx.AsyncClient, user: str, workflow_id: str, data: dict[str, Any]
) -> str:
    started = await client.post(f"{API}/start", headers=api_headers(user),
                                json={"workflow_id": workflow_id, "workflow_data": data})  # fmt: skip
    assert started.status_code == 201, started.text
    return str(started.json()["execution_id"])


async def timeline(client: httpx.AsyncClient, execution_id: str) -> dict[str, Any]:
    answer = await client.get(f"{API}/{execution_id}", headers=api_headers("vera"))
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


def statuses(found: dict[str, Any]) -> dict[str, str]:
    return {step["id"]: step["status"] for step in found["steps"]}


async def waiting(client: httpx.AsyncClient, execution_id: str, step_id: str) -> dict[str, Any]:
    return await eventually(
        lambda: timeline(client, execution_id),
        lambda t: statuses(t)[step_id] == "waiting_approval" or t["status"] != "running",
    )


async def ended(client: httpx.AsyncClient, execution_id: str) -> dict[str, Any]:
    return await eventually(
        lambda: timeline(client, execution_id), lambda t: t["status"] != "running"
    )


async def approve(
    client: httpx.AsyncClient, user: str, execution_id: str, step_id: str, **body: Any
) -> httpx.Response:
    return await client.post(f"{API}/{execution_id}/steps/{step_id}/approve",
                             headers=api_headers(user), json=body)  # fmt: skip


ORDER = {"customer": "Grace Hopper", "email": "grace@example.com", "sku": "WIDGET-1"}


async def test_a_high_amount_order_waits_for_a_reviewer_then_ships(
    client: httpx.AsyncClient,
) -> None:
    await prepared()
    order = {**ORDER, "order_id": "ORD-1001", "quantity": 2, "amount": 2500}
    execution_id = await start(client, "ada", "order_processing", order)
    found = await waiting(client, execution_id, "approve_high_amount")
    assert statuses(found) == {
        "validate_order": "completed", "reserve_inventory": "completed",
        "charge_payment": "completed", "fraud_check": "completed",
        "approve_high_amount": "waiting_approval", "ship_order": "pending",
        "notify_customer": "pending",
    }  # fmt: skip
    assert found["groups"][1] == ["reserve_inventory", "charge_payment", "fraud_check"]
    review = next(s for s in found["steps"] if s["id"] == "approve_high_amount")
    assert review["preview"]["summary"] == "APPROVE order ORD-1001 ($2,500)"
    assert {"name": "status", "new": "approved", "old": "paid"}.items() <= review["preview"][
        "fields"
    ][0].items()
    refused = await approve(client, "bob", execution_id, "approve_high_amount")
    assert refused.status_code == 422, refused.text  # the confirmation is missing
    answer = await approve(client, "bob", execution_id, "approve_high_amount",
                           confirmations=["I have checked the order against the customer's history"])  # fmt: skip
    assert answer.status_code == 200, answer.text
    found = await ended(client, execution_id)
    assert found["status"] == "completed", found["outcome"]
    assert set(statuses(found).values()) == {"completed"}
    row = await DemoOrder.select().where(DemoOrder.order_id == "ORD-1001").first()
    assert row is not None and row["status"] == "shipped" and row["tracking_number"]
    assert row["payment_ref"] == "PAY-ORD-1001"
    stock = await DemoInventoryItem.select().where(DemoInventoryItem.sku == "WIDGET-1").first()
    assert stock is not None and stock["reserved"] == 2
    payments = await DemoPayment.select(DemoPayment.amount).where(
        DemoPayment.order_id == "ORD-1001"
    )
    assert payments == [{"amount": 2500}]
    mail = await DemoOutboxMessage.select(DemoOutboxMessage.subject).where(
        DemoOutboxMessage.to_address == "grace@example.com"
    )
    assert mail == [{"subject": "Your order ORD-1001 is on its way"}]


async def test_a_small_order_runs_without_approval_and_the_ui_offers_both_demos(
    client: httpx.AsyncClient,
) -> None:
    await prepared()
    order = {**ORDER, "order_id": "ORD-7", "quantity": 1, "amount": 300}
    execution_id = await start(client, "carol", "order_processing", order)
    found = await ended(client, execution_id)
    assert found["status"] == "completed", found["outcome"]
    assert statuses(found)["approve_high_amount"] == "skipped"
    assert statuses(found)["notify_customer"] == "completed"
    # Only the order id and amount are needed: customer, email, SKU and quantity have defaults.
    minimal = await start(client, "ada", "order_processing", {"order_id": "ORD-8", "amount": 40})
    assert (await ended(client, minimal))["status"] == "completed"
    # Runnable from the UI: each has its start form.
    for workflow_id, field in (("order_processing", "order_id"), ("expense_approval", "employee")):
        page = await client.get(f"/workflows/{workflow_id}", headers={**HTML, **api_headers("bob")})
        assert page.status_code == 200, page.text
        assert f'name="{field}"' in page.text


async def test_an_order_beyond_the_stock_fails_at_reservation(client: httpx.AsyncClient) -> None:
    await prepared()
    order = {**ORDER, "order_id": "ORD-9", "sku": "GIZMO-3", "quantity": 6, "amount": 60}
    execution_id = await start(client, "bob", "order_processing", order)
    found = await ended(client, execution_id)
    assert found["status"] == "failed"
    reserve = next(s for s in found["steps"] if s["id"] == "reserve_inventory")
    assert "only 5 of GIZMO-3 available" in reserve["error"]
    assert statuses(found)["ship_order"] == "pending"


CLAIM = {"employee": "Ken Thompson", "email": "ken@example.com", "description": "Conference"}


async def test_an_expense_below_the_amount_needs_one_approver(client: httpx.AsyncClient) -> None:
    await prepared()
    execution_id = await start(client, "ada", "expense_approval", {**CLAIM, "amount": 250})
    found = await waiting(client, execution_id, "manager_approval")
    assert statuses(found)["finance_approval"] == "pending"
    answer = await approve(client, "carol", execution_id, "manager_approval")
    assert answer.status_code == 200 and answer.json()["step_status"] == "approved", answer.text
    found = await ended(client, execution_id)
    assert found["status"] == "completed", found["outcome"]
    assert statuses(found)["finance_approval"] == "skipped"
    row = await DemoExpense.select().where(DemoExpense.execution_id == execution_id).first()
    assert row is not None and row["status"] == "reimbursed" and row["amount"] == 250


async def test_an_expense_above_the_amount_needs_two_distinct_approvers(
    client: httpx.AsyncClient,
) -> None:
    await prepared()
    execution_id = await start(client, "carol", "expense_approval", {**CLAIM, "amount": 4200})
    found = await waiting(client, execution_id, "finance_approval")
    assert statuses(found)["manager_approval"] == "skipped"
    first = await approve(client, "bob", execution_id, "finance_approval")
    assert first.status_code == 200, first.text
    assert first.json()["step_status"] == "waiting_approval"
    assert (first.json()["approvals"], first.json()["required_approvals"]) == (1, 2)
    again = await approve(client, "bob", execution_id, "finance_approval")
    assert again.status_code == 409, again.text
    assert "already approved" in again.text
    # Bob's inbox and panel say he approved and offer no second approval; Ada may approve.

    async def item(user: str) -> dict[str, Any]:
        listed = await client.get("/api/workflows/approvals", headers=api_headers(user))
        return next(i for i in listed.json() if i["execution_id"] == execution_id)

    bobs = await eventually(lambda: item("bob"), lambda i: i["approved_by"] == ["bob"])
    assert (bobs["may_approve"], bobs["required_approvals"]) == (False, 2)
    assert (await item("ada"))["may_approve"] is True
    inbox = await client.get("/approvals", headers={**HTML, **api_headers("bob")})
    assert "You approved it: it needs 2 approvals from different people (1 so far)" in inbox.text
    page = await client.get(f"/executions/{execution_id}", headers={**HTML, **api_headers("bob")})
    assert "You approved this step: it needs 2 approvals" in page.text
    assert 'disabled title="You approved this step already' in page.text
    found = await timeline(client, execution_id)
    assert statuses(found)["finance_approval"] == "waiting_approval"
    second = await approve(client, "ada", execution_id, "finance_approval")
    assert second.status_code == 200 and second.json()["step_status"] == "approved", second.text
    found = await ended(client, execution_id)
    assert found["status"] == "completed", found["outcome"]
    row = await DemoExpense.select().where(DemoExpense.execution_id == execution_id).first()
    assert row is not None and row["status"] == "reimbursed" and row["reimbursement_ref"]


async def test_a_charge_above_the_payment_policy_waits_for_approval_with_a_critical_warning(
    client: httpx.AsyncClient,
) -> None:
    await prepared()
    order = {**ORDER, "order_id": "ORD-9001", "quantity": 1, "amount": 6000}
    execution_id = await start(client, "bob", "order_processing", order)
    found = await waiting(client, execution_id, "charge_payment")
    charge = next(s for s in found["steps"] if s["id"] == "charge_payment")
    assert charge["status"] == "waiting_approval"  # auto_monitored, forced by max_payment
    warnings = [w["message"] for w in charge["preview"]["impact"] if w["severity"] == "critical"]
    assert any("max_payment" in w and "6,000" in w for w in warnings), warnings
    assert await DemoPayment.count().where(DemoPayment.order_id == "ORD-9001") == 0
    await client.post(f"{API}/{execution_id}/cancel", headers=api_headers("bob"))

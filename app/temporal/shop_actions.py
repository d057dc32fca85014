"""The actions of the order_processing and expense_approval definitions, on the demo shop and
expense tables (app/db/demo.py). A mixin of ActionActivities (app/temporal/actions.py), declared
with `step_action` like the onboarding actions; every write is keyed by the step run or the
order, so a retried activity never reserves, charges or reimburses twice."""

from __future__ import annotations

import hashlib
from typing import Any

from temporalio.exceptions import ApplicationError

from app.db.demo import DemoSystems, OutOfStock
from app.temporal.action_kit import step_action
from app.temporal.contracts import ActionInput, ActionResult

# A fraud score at or above this fails the check (the step fails: the order stops).
FRAUD_SCORE_LIMIT = 90


def fraud_score(customer: str, amount: int) -> int:
    """A stand-in for an external fraud service: 0–100, higher for large amounts and for
    customers whose name says "fraud" (so a demo can show a flagged order)."""
    if "fraud" in customer.lower():
        return 99
    digest = int(hashlib.sha256(customer.lower().encode()).hexdigest()[:4], 16) % 20
    return min(89, digest + amount // 1000)


def _order_of(params: dict[str, Any]) -> dict[str, Any]:
    return {
        "order_id": str(params["order_id"]),
        "customer": str(params["customer"]),
        "email": str(params.get("email", "")),
        "sku": str(params["sku"]),
        "quantity": int(params["quantity"]),
        "amount": int(params["amount"]),
    }


class ShopActions:
    """Order processing and expense approval actions; `demo` is the demo systems' data access."""

    demo: DemoSystems

    @step_action("validate_order")
    async def validate_order(self, inp: ActionInput) -> ActionResult:
        """Check the order (a known SKU, a positive quantity and amount) and record it."""
        order = _order_of(inp.params)
        if order["quantity"] <= 0 or order["amount"] <= 0:
            raise ApplicationError("quantity and amount must be positive", non_retryable=True)
        item = await self.demo.stock(order["sku"])
        if item is None:
            raise ApplicationError(f"unknown SKU {order['sku']!r}", non_retryable=True)
        await self.demo.record_order(order, inp.execution_id)
        return ActionResult(
            summary=f"Order {order['order_id']}: {order['quantity']} × {item['name']}, "
            f"${order['amount']:,}",
            data=order,
        )

    @step_action("reserve_inventory")
    async def reserve_inventory(self, inp: ActionInput) -> ActionResult:
        """Hold the order's items in demo_inventory (fails, not retried, when out of stock)."""
        p = inp.params
        sku, quantity = str(p["sku"]), int(p["quantity"])
        try:
            left = await self.demo.reserve(inp.run_key, str(p["order_id"]), sku, quantity)
        except OutOfStock as exc:
            raise ApplicationError(str(exc), non_retryable=True) from None
        return ActionResult(
            summary=f"Reserved {quantity} × {sku} ({left} left)",
            data={"sku": sku, "quantity": quantity, "available": left},
        )

    @step_action("charge_payment")
    async def charge_payment(self, inp: ActionInput) -> ActionResult:
        """Charge the order's amount (once per step run); the payment reference as result."""
        p = inp.params
        amount = int(p["amount"])
        reference = await self.demo.charge(inp.run_key, str(p["order_id"]), amount)
        return ActionResult(
            summary=f"Charged ${amount:,} ({reference})",
            data={"amount": amount, "payment_ref": reference},
        )

    @step_action("fraud_check")
    async def fraud_check(self, inp: ActionInput) -> ActionResult:
        """Score the order; a score at or above FRAUD_SCORE_LIMIT fails the step."""
        p = inp.params
        score = fraud_score(str(p["customer"]), int(p["amount"]))
        if score >= FRAUD_SCORE_LIMIT:
            raise ApplicationError(
                f"fraud score {score} ≥ {FRAUD_SCORE_LIMIT}: order flagged", non_retryable=True
            )
        return ActionResult(summary=f"Fraud score {score}: clear", data={"score": score})

    @step_action("review_order")
    async def review_order(self, inp: ActionInput) -> ActionResult:
        """Mark a (high-amount) order approved once its reviewer let it through."""
        order_id = str(inp.params["order_id"])
        await self.demo.set_order_status(order_id, "approved")
        return ActionResult(summary=f"Order {order_id} approved", data={"order_id": order_id})

    @step_action("ship_order")
    async def ship_order(self, inp: ActionInput) -> ActionResult:
        """Ship the order: status shipped with a tracking number derived from the order id."""
        order_id = str(inp.params["order_id"])
        tracking = "TRK-" + hashlib.sha256(order_id.encode()).hexdigest()[:10].upper()
        await self.demo.set_order_status(order_id, "shipped", tracking)
        return ActionResult(
            summary=f"Shipped {order_id}, tracking {tracking}",
            data={"order_id": order_id, "tracking_number": tracking},
        )

    @step_action("submit_expense")
    async def submit_expense(self, inp: ActionInput) -> ActionResult:
        """Check and record the claim (a positive amount) in demo_expenses."""
        p = inp.params
        amount = int(p["amount"])
        if amount <= 0:
            raise ApplicationError("amount must be positive", non_retryable=True)
        await self.demo.record_expense(inp.execution_id, p)
        return ActionResult(
            summary=f"Claim of ${amount:,} by {p['employee']} submitted",
            data={"employee": p["employee"], "amount": amount},
        )

    @step_action("approve_expense")
    async def approve_expense(self, inp: ActionInput) -> ActionResult:
        """Mark the claim approved (the step's approvers decided before this runs)."""
        level = str(inp.params.get("level", "manager"))
        await self.demo.settle_expense(inp.execution_id, "approved", approved_by=level)
        return ActionResult(summary=f"Approved ({level})", data={"level": level})

    @step_action("record_reimbursement")
    async def record_reimbursement(self, inp: ActionInput) -> ActionResult:
        """Record the reimbursement of an approved claim, with its reference."""
        p = inp.params
        reference = f"REIMB-{inp.execution_id[-12:]}"
        await self.demo.settle_expense(inp.execution_id, "reimbursed", reference=reference)
        return ActionResult(
            summary=f"Reimbursed ${int(p['amount']):,} to {p['employee']} ({reference})",
            data={"reference": reference, "amount": int(p["amount"])},
        )

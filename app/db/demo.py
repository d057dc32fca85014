"""The demo systems the shipped definitions' actions work on: a CRM, billing accounts and an
email outbox (customer_onboarding: demo_contacts, demo_billing_accounts, demo_outbox), a shop
(order_processing: demo_inventory, demo_orders, demo_reservations, demo_payments) and expense
claims (expense_approval: demo_expenses).

Every write is keyed (by email or by the step run), so a retried activity never duplicates.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from app.db.tables import (
    DemoBillingAccount,
    DemoContact,
    DemoExpense,
    DemoInventoryItem,
    DemoOrder,
    DemoOutboxMessage,
)

# The stock the order demo reserves from: sku → (name, on hand). The migration inserts it and
# `stepladder migrate` restocks a missing SKU (DemoSystems.seed_inventory).
DEMO_STOCK = {"WIDGET-1": ("Widget", 500), "GADGET-2": ("Gadget", 200), "GIZMO-3": ("Gizmo", 5)}


class OutOfStock(Exception):
    """Fewer items available (on hand minus reserved) than an order asks for."""


class DemoSystems:
    """Data access for the demo actions and their previews."""

    async def contacts_with_email(self, email: str) -> int:
        return int(await DemoContact.count().where(DemoContact.email == email))

    async def contact(self, email: str) -> dict[str, Any] | None:
        """The CRM row for `email` (name, email, tier, credit_limit), or None."""
        row: dict[str, Any] | None = (
            await DemoContact.select(
                DemoContact.name, DemoContact.email, DemoContact.tier, DemoContact.credit_limit
            )
            .where(DemoContact.email == email)
            .first()
        )
        return row

    async def upsert_contact(
        self, email: str, *, name: str, tier: str, credit_limit: int, execution_id: str
    ) -> None:
        """Keyed by email: a retried activity or a returning customer never duplicates a row."""
        await DemoContact.raw(
            "INSERT INTO demo_contacts (email, name, tier, credit_limit, created_by_execution, "
            "created_at) VALUES ({}, {}, {}, {}, {}, {}) ON CONFLICT (email) DO UPDATE SET "
            "name = EXCLUDED.name, tier = EXCLUDED.tier, credit_limit = EXCLUDED.credit_limit",
            email, name, tier, credit_limit, execution_id, datetime.now(UTC),
        )  # fmt: skip

    async def billing_accounts_of(self, email: str) -> int:
        return int(
            await DemoBillingAccount.count().where(DemoBillingAccount.contact_email == email)
        )

    async def open_billing_account(
        self, run_key: str, *, email: str, tier: str, credit_limit: int
    ) -> None:
        """At most one account per step run (`run_key`)."""
        await DemoBillingAccount.raw(
            "INSERT INTO demo_billing_accounts (run_key, contact_email, tier, credit_limit, "
            "created_at) VALUES ({}, {}, {}, {}, {}) ON CONFLICT (run_key) DO NOTHING",
            run_key, email, tier, credit_limit, datetime.now(UTC),
        )  # fmt: skip

    async def queue_email(self, run_key: str, *, to: str, subject: str, body: str) -> None:
        """At most one message per step run (`run_key`)."""
        await DemoOutboxMessage.raw(
            "INSERT INTO demo_outbox (run_key, to_address, subject, body, created_at) "
            "VALUES ({}, {}, {}, {}, {}) ON CONFLICT (run_key) DO NOTHING",
            run_key, to, subject, body, datetime.now(UTC),
        )  # fmt: skip

    # --- the shop (order_processing) ----------------------------------------------------------

    async def seed_inventory(self) -> int:
        """Insert every DEMO_STOCK SKU that is missing (existing rows keep their counts);
        returns how many were added."""
        added = 0
        for sku, (name, on_hand) in DEMO_STOCK.items():
            rows = await DemoInventoryItem.raw(
                "INSERT INTO demo_inventory (sku, name, on_hand, reserved) VALUES ({}, {}, {}, 0) "
                "ON CONFLICT (sku) DO NOTHING RETURNING sku",
                sku, name, on_hand,
            )  # fmt: skip
            added += len(rows)
        return added

    async def stock(self, sku: str) -> dict[str, Any] | None:
        """The inventory row (sku, name, on_hand, reserved) of `sku`, or None."""
        row: dict[str, Any] | None = (
            await DemoInventoryItem.select().where(DemoInventoryItem.sku == sku).first()
        )
        return row

    async def record_order(self, order: dict[str, Any], execution_id: str) -> None:
        """Upsert the order (order_id, customer, email, sku, quantity, amount) as validated."""
        await DemoOrder.raw(
            "INSERT INTO demo_orders (order_id, customer, email, sku, quantity, amount, status, "
            "execution_id, updated_at) VALUES ({}, {}, {}, {}, {}, {}, 'validated', {}, {}) "
            "ON CONFLICT (order_id) DO UPDATE SET customer = EXCLUDED.customer, email = "
            "EXCLUDED.email, sku = EXCLUDED.sku, quantity = EXCLUDED.quantity, amount = "
            "EXCLUDED.amount, execution_id = EXCLUDED.execution_id, updated_at = EXCLUDED.updated_at",
            order["order_id"], order["customer"], order["email"], order["sku"],
            int(order["quantity"]), int(order["amount"]), execution_id, datetime.now(UTC),
        )  # fmt: skip

    async def order(self, order_id: str) -> dict[str, Any] | None:
        """The order's row, or None."""
        row: dict[str, Any] | None = (
            await DemoOrder.select().where(DemoOrder.order_id == order_id).first()
        )
        return row

    async def reserve(self, run_key: str, order_id: str, sku: str, quantity: int) -> int:
        """Hold `quantity` of `sku` for the order, once per step run (`run_key`); returns what is
        left available. Raises OutOfStock (nothing held) when fewer are available."""
        rows = await DemoInventoryItem.raw(
            "WITH held AS (UPDATE demo_inventory SET reserved = reserved + {} WHERE sku = {} "
            "AND on_hand - reserved >= {} AND NOT EXISTS (SELECT 1 FROM demo_reservations "
            "WHERE run_key = {}) RETURNING on_hand - reserved AS available), "
            "noted AS (INSERT INTO demo_reservations (run_key, order_id, sku, quantity, "
            "created_at) SELECT {}, {}, {}, {}, {} FROM held) "
            "SELECT available FROM held",
            quantity, sku, quantity, run_key, run_key, order_id, sku, quantity, datetime.now(UTC),
        )  # fmt: skip
        if rows:
            return int(rows[0]["available"])
        item = await self.stock(sku)
        already = await DemoInventoryItem.raw(
            "SELECT 1 FROM demo_reservations WHERE run_key = {}", run_key
        )
        if item is not None and already:  # a retry of a reservation that was made
            return int(item["on_hand"]) - int(item["reserved"])
        available = 0 if item is None else int(item["on_hand"]) - int(item["reserved"])
        raise OutOfStock(f"only {available} of {sku} available, the order needs {quantity}")

    async def charge(self, run_key: str, order_id: str, amount: int) -> str:
        """Charge the order once per step run; returns the payment reference (on the order)."""
        reference = f"PAY-{order_id}"
        await DemoOrder.raw(
            "WITH paid AS (INSERT INTO demo_payments (run_key, order_id, amount, created_at) "
            "VALUES ({}, {}, {}, {}) ON CONFLICT (run_key) DO NOTHING) "
            "UPDATE demo_orders SET payment_ref = {}, status = 'paid', updated_at = {} "
            "WHERE order_id = {}",
            run_key, order_id, amount, datetime.now(UTC), reference, datetime.now(UTC), order_id,
        )  # fmt: skip
        return reference

    async def set_order_status(self, order_id: str, status: str, tracking: str = "") -> None:
        """Move the order along (approved, shipped, ...), with its tracking number once shipped."""
        changes: dict[Any, Any] = {
            DemoOrder.status: status,
            DemoOrder.updated_at: datetime.now(UTC),
        }
        if tracking:
            changes[DemoOrder.tracking_number] = tracking
        await DemoOrder.update(changes).where(DemoOrder.order_id == order_id)

    # --- expense claims (expense_approval) ----------------------------------------------------

    async def record_expense(self, execution_id: str, claim: dict[str, Any]) -> None:
        """Upsert the claim (employee, email, amount, description) as submitted."""
        await DemoExpense.raw(
            "INSERT INTO demo_expenses (execution_id, employee, email, amount, description, "
            "updated_at) VALUES ({}, {}, {}, {}, {}, {}) ON CONFLICT (execution_id) DO NOTHING",
            execution_id, claim["employee"], claim["email"], int(claim["amount"]),
            str(claim.get("description") or ""), datetime.now(UTC),
        )  # fmt: skip

    async def expense(self, execution_id: str) -> dict[str, Any] | None:
        row: dict[str, Any] | None = (
            await DemoExpense.select().where(DemoExpense.execution_id == execution_id).first()
        )
        return row

    async def settle_expense(
        self, execution_id: str, status: str, *, approved_by: str = "", reference: str = ""
    ) -> None:
        """Mark the claim approved (by whom) or reimbursed (with its reference)."""
        changes: dict[Any, Any] = {
            DemoExpense.status: status,
            DemoExpense.updated_at: datetime.now(UTC),
        }
        if approved_by:
            changes[DemoExpense.approved_by] = approved_by
        if reference:
            changes[DemoExpense.reimbursement_ref] = reference
        await DemoExpense.update(changes).where(DemoExpense.execution_id == execution_id)

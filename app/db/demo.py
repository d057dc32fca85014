"""The demo systems the customer_onboarding actions work on: a CRM, billing accounts and an
email outbox (tables demo_contacts, demo_billing_accounts, demo_outbox).

Every write is keyed (by email or by the step run), so a retried activity never duplicates.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from app.db.tables import DemoBillingAccount, DemoContact, DemoOutboxMessage


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

"""The actions definitions can name: Temporal activities working on the demo tables."""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from app.db.tables import DemoBillingAccount, DemoContact, DemoOutboxMessage, FaultInjection
from app.temporal.contracts import ActionInput, ActionResult

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


async def fail_if_fault_injected(inp: ActionInput) -> None:
    """A real failure of the real activity at the step's injected rate (`stepladder simulate
    --failure-rate`), before the action does anything; not retryable, so it counts at once."""
    row = (
        await FaultInjection.select(FaultInjection.failure_rate)
        .where(
            (FaultInjection.workflow_id == inp.workflow_id)
            & (FaultInjection.step_id == inp.step_id)
        )
        .first()
    )
    if row is not None and random.random() < row["failure_rate"]:
        raise ApplicationError(
            f"injected fault: {row['failure_rate']:.0%} of {inp.step_id} runs fail on purpose",
            type="InjectedFault",
            non_retryable=True,
        )


@activity.defn(name="validate_email")
async def validate_email(inp: ActionInput) -> ActionResult:
    await fail_if_fault_injected(inp)
    email = str(inp.params["email"])
    if not _EMAIL.match(email):
        # Not retryable: the same address will never become valid.
        raise ApplicationError(f"{email!r} is not a valid email address", non_retryable=True)
    return ActionResult(summary=f"{email} is valid", data={"email": email})


@activity.defn(name="check_duplicates")
async def check_duplicates(inp: ActionInput) -> ActionResult:
    await fail_if_fault_injected(inp)
    email = str(inp.params["email"]).lower()
    count = await DemoContact.count().where(DemoContact.email == email)
    summary = "No duplicates found" if count == 0 else f"{count} existing contact(s) with {email}"
    return ActionResult(summary=summary, data={"count": count})


@activity.defn(name="create_crm_record")
async def create_crm_record(inp: ActionInput) -> ActionResult:
    await fail_if_fault_injected(inp)
    p = inp.params
    email = str(p["email"]).lower()
    now = datetime.now(UTC)
    credit_limit = int(p.get("credit_limit", 0))
    values = {"name": p["name"], "tier": p["tier"], "credit_limit": credit_limit}
    # Upsert keyed by email: a retried activity or a returning customer never duplicates a row.
    await DemoContact.raw(
        "INSERT INTO demo_contacts (email, name, tier, credit_limit, created_by_execution, "
        "created_at) VALUES ({}, {}, {}, {}, {}, {}) ON CONFLICT (email) DO UPDATE SET "
        "name = EXCLUDED.name, tier = EXCLUDED.tier, credit_limit = EXCLUDED.credit_limit",
        email, values["name"], values["tier"], credit_limit, inp.execution_id, now,
    )  # fmt: skip
    return ActionResult(
        summary=f"CRM record for {email} ({p['tier']}, credit limit ${credit_limit:,})",
        data={"email": email, **values},
    )


@activity.defn(name="setup_billing_account")
async def setup_billing_account(inp: ActionInput) -> ActionResult:
    await fail_if_fault_injected(inp)
    p = inp.params
    credit_limit = int(p.get("credit_limit", 0))
    await DemoBillingAccount.raw(
        "INSERT INTO demo_billing_accounts (run_key, contact_email, tier, credit_limit, "
        "created_at) VALUES ({}, {}, {}, {}, {}) ON CONFLICT (run_key) DO NOTHING",
        inp.run_key, str(p["email"]).lower(), p["tier"], credit_limit, datetime.now(UTC),
    )  # fmt: skip
    return ActionResult(
        summary=f"Billing account ({p['tier']}, ${credit_limit:,})",
        data={"email": p["email"], "credit_limit": credit_limit},
    )


@activity.defn(name="send_email")
async def send_email(inp: ActionInput) -> ActionResult:
    await fail_if_fault_injected(inp)
    p = inp.params
    await DemoOutboxMessage.raw(
        "INSERT INTO demo_outbox (run_key, to_address, subject, body, created_at) "
        "VALUES ({}, {}, {}, {}, {}) ON CONFLICT (run_key) DO NOTHING",
        inp.run_key, p["to"], p["subject"], p.get("body", ""), datetime.now(UTC),
    )  # fmt: skip
    return ActionResult(summary=f"Queued '{p['subject']}' to {p['to']}", data={"to": p["to"]})


ACTIONS: list[Callable[..., Any]] = [
    validate_email,
    check_duplicates,
    create_crm_record,
    setup_billing_account,
    send_email,
]
ACTION_NAMES = frozenset(getattr(fn, "__temporal_activity_definition").name for fn in ACTIONS)

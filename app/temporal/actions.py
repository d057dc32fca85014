"""The actions definitions can name: Temporal activities working on the demo tables.

Every action is declared with `step_action`, which lets one activity both read the step's mode
and run the action: the workflow reaches a step with a single activity instead of a mode lookup
followed by the action (one workflow task less per automatic step — what keeps the engine close
to a bare workflow, docs/benchmarks.md)."""

from __future__ import annotations

import asyncio
import logging
import random
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from app.db.tables import DemoBillingAccount, DemoContact, DemoOutboxMessage, FaultInjection
from app.domain.modes import DeploymentMode
from app.temporal.contracts import ActionInput, ActionResult, ModeLookup
from app.temporal.recording import read_step_mode

logger = logging.getLogger(__name__)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# How long a mode read may take before the activity leaves it to the workflow (which retries
# without limit): a slow database must not use up the action's own timeout and attempts.
MODE_READ_TIMEOUT = timedelta(seconds=5)
# Where a failed action's error carries the mode it ran in (ApplicationError details).
MODE_DETAIL = "step_mode"

Action = Callable[[ActionInput], Awaitable[ActionResult]]


@dataclass
class FaultSwitch:
    """Whether this process applies fault injections: `stepladder worker` sets it from
    Settings.fault_injection, the test session turns it on. Off — the default, and
    production's — the table is not even read."""

    enabled: bool = False


FAULTS = FaultSwitch()


def step_action(name: str) -> Callable[[Action], Action]:
    """Declare an action activity named `name`.

    Called with `ActionInput.check_mode` (the workflow does so when a step is reached), the
    activity first reads the step's current mode: an approval mode returns `ran=False` at once,
    and so does a mode that cannot be read (database unavailable — the workflow then reads it
    again, retrying without limit, so an outage delays the step and never fails it). Otherwise
    it runs the action and reports the mode it ran in, on success and on failure (an error's
    last detail), so the step run records the mode actually used. Injected faults apply here.
    """

    def declare(run: Action) -> Action:
        async def activity_fn(inp: ActionInput) -> ActionResult:
            mode = ""
            if inp.check_mode is not None:
                mode = await _mode_or_blank(inp.check_mode)
                if not mode or DeploymentMode(mode).needs_approval:
                    return ActionResult(summary="", mode=mode, ran=False)
            try:
                await fail_if_fault_injected(inp)
                result = await run(inp)
            except Exception as exc:
                if not mode:
                    raise
                raise _with_mode(exc, mode) from exc
            result.mode = mode
            return result

        activity_fn.__name__ = activity_fn.__qualname__ = run.__name__
        activity_fn.__doc__ = run.__doc__
        return activity.defn(name=name)(activity_fn)

    return declare


async def _mode_or_blank(lookup: ModeLookup) -> str:
    # At most half the action's own time: a slow read must leave the action room to run.
    limit = MODE_READ_TIMEOUT
    action_timeout = activity.info().start_to_close_timeout if activity.in_activity() else None
    if action_timeout is not None:
        limit = min(limit, action_timeout / 2)
    try:
        return await asyncio.wait_for(read_step_mode(lookup), limit.total_seconds())
    except Exception as exc:  # noqa: BLE001 — any failure: the workflow's lookup retries
        logger.warning("could not read the mode of %s/%s: %r", lookup.workflow_id,
                       lookup.step_id, exc)  # fmt: skip
        return ""


def _with_mode(exc: Exception, mode: str) -> ApplicationError:
    """The action's error as Temporal would report it, plus the mode it ran in."""
    if isinstance(exc, ApplicationError):
        return ApplicationError(
            exc.message, *exc.details, {MODE_DETAIL: mode}, type=exc.type,
            non_retryable=exc.non_retryable, next_retry_delay=exc.next_retry_delay,
            category=exc.category,
        )  # fmt: skip
    return ApplicationError(str(exc), {MODE_DETAIL: mode}, type=type(exc).__name__)


def mode_of_failure(cause: BaseException | None) -> str:
    """The mode a failed action ran in, when its activity reported it ("" otherwise)."""
    if isinstance(cause, ApplicationError):
        for detail in cause.details:
            if isinstance(detail, dict) and isinstance(detail.get(MODE_DETAIL), str):
                return str(detail[MODE_DETAIL])
    return ""


async def fail_if_fault_injected(inp: ActionInput) -> None:
    """A real failure of the real activity at the step's injected rate (`stepladder simulate
    --failure-rate`), before the action does anything; not retryable, so it counts at once."""
    if not FAULTS.enabled:
        return
    try:
        row = (
            await FaultInjection.select(FaultInjection.failure_rate)
            .where(
                (FaultInjection.workflow_id == inp.workflow_id)
                & (FaultInjection.step_id == inp.step_id)
            )
            .first()
        )
    except Exception as exc:  # noqa: BLE001 — a testing aid must not fail a step on its own
        logger.warning("fault injections unreadable, none applied: %r", exc)
        return
    if row is not None and random.random() < row["failure_rate"]:
        raise ApplicationError(
            f"injected fault: {row['failure_rate']:.0%} of {inp.step_id} runs fail on purpose",
            type="InjectedFault",
            non_retryable=True,
        )


@step_action("validate_email")
async def validate_email(inp: ActionInput) -> ActionResult:
    email = str(inp.params["email"])
    if not _EMAIL.match(email):
        # Not retryable: the same address will never become valid.
        raise ApplicationError(f"{email!r} is not a valid email address", non_retryable=True)
    return ActionResult(summary=f"{email} is valid", data={"email": email})


@step_action("check_duplicates")
async def check_duplicates(inp: ActionInput) -> ActionResult:
    email = str(inp.params["email"]).lower()
    count = await DemoContact.count().where(DemoContact.email == email)
    summary = "No duplicates found" if count == 0 else f"{count} existing contact(s) with {email}"
    return ActionResult(summary=summary, data={"count": count})


@step_action("create_crm_record")
async def create_crm_record(inp: ActionInput) -> ActionResult:
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


@step_action("setup_billing_account")
async def setup_billing_account(inp: ActionInput) -> ActionResult:
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


@step_action("send_email")
async def send_email(inp: ActionInput) -> ActionResult:
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

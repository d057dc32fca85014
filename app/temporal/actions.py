"""The actions definitions can name: Temporal activities working on the demo systems.

Every action is a method of `ActionActivities` declared with `step_action`, which lets one
activity both read the step's mode and run the action: the workflow reaches a step with a single
activity instead of a mode lookup followed by the action (one workflow task less per automatic
step — what keeps the engine close to a bare workflow, docs/benchmarks.md)."""

from __future__ import annotations

import asyncio
import logging
import re
from datetime import timedelta

from temporalio import activity
from temporalio.exceptions import ApplicationError

from app.db.demo import DemoSystems
from app.db.policies import add_demo_task
from app.db.records import Records
from app.temporal.action_kit import MODE_DETAIL as MODE_DETAIL
from app.temporal.action_kit import FaultSwitch as FaultSwitch
from app.temporal.action_kit import mode_of_failure as mode_of_failure
from app.temporal.action_kit import step_action as step_action
from app.temporal.contracts import ActionInput, ActionResult, ModeLookup
from app.temporal.recording import current_mode
from app.temporal.shop_actions import ShopActions

logger = logging.getLogger(__name__)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# How long a mode read may take before the activity leaves it to the workflow (which retries
# without limit): a slow database must not use up the action's own timeout and attempts.
MODE_READ_TIMEOUT = timedelta(seconds=5)


class ActionActivities(ShopActions):
    """The demo actions, on the demo systems (order and expense ones from ShopActions); `records` reads the step's mode and its injected
    fault rate, `faults` says whether injected faults apply in this worker."""

    def __init__(self, demo: DemoSystems, records: Records, faults: FaultSwitch) -> None:
        self.demo = demo
        self.records = records
        self.faults = faults

    async def mode_or_blank(self, lookup: ModeLookup) -> str:
        """The step's mode, or "" when it cannot be read in time (the workflow's lookup then
        retries) — at most half the action's own time: a slow read must leave it room to run."""
        limit = MODE_READ_TIMEOUT
        action_timeout = activity.info().start_to_close_timeout if activity.in_activity() else None
        if action_timeout is not None:
            limit = min(limit, action_timeout / 2)
        try:
            return await asyncio.wait_for(current_mode(self.records, lookup), limit.total_seconds())
        except Exception as exc:  # noqa: BLE001 — any failure: the workflow's lookup retries
            logger.warning("could not read the mode of %s/%s: %r", lookup.workflow_id,
                           lookup.step_id, exc)  # fmt: skip
            return ""

    @step_action("validate_email")
    async def validate_email(self, inp: ActionInput) -> ActionResult:
        email = str(inp.params["email"])
        if not _EMAIL.match(email):
            # Not retryable: the same address will never become valid.
            raise ApplicationError(f"{email!r} is not a valid email address", non_retryable=True)
        return ActionResult(summary=f"{email} is valid", data={"email": email})

    @step_action("check_duplicates")
    async def check_duplicates(self, inp: ActionInput) -> ActionResult:
        email = str(inp.params["email"]).lower()
        count = await self.demo.contacts_with_email(email)
        summary = (
            "No duplicates found" if count == 0 else f"{count} existing contact(s) with {email}"
        )
        return ActionResult(summary=summary, data={"count": count})

    @step_action("create_crm_record")
    async def create_crm_record(self, inp: ActionInput) -> ActionResult:
        p = inp.params
        email = str(p["email"]).lower()
        credit_limit = int(p.get("credit_limit", 0))
        values = {"name": p["name"], "tier": p["tier"], "credit_limit": credit_limit}
        await self.demo.upsert_contact(
            email, name=p["name"], tier=p["tier"], credit_limit=credit_limit,
            execution_id=inp.execution_id,
        )  # fmt: skip
        return ActionResult(
            summary=f"CRM record for {email} ({p['tier']}, credit limit ${credit_limit:,})",
            data={"email": email, **values},
        )

    @step_action("setup_billing_account")
    async def setup_billing_account(self, inp: ActionInput) -> ActionResult:
        p = inp.params
        credit_limit = int(p.get("credit_limit", 0))
        await self.demo.open_billing_account(
            inp.run_key, email=str(p["email"]).lower(), tier=p["tier"], credit_limit=credit_limit
        )
        return ActionResult(
            summary=f"Billing account ({p['tier']}, ${credit_limit:,})",
            data={"email": p["email"], "credit_limit": credit_limit},
        )

    @step_action("send_email")
    async def send_email(self, inp: ActionInput) -> ActionResult:
        p = inp.params
        await self.demo.queue_email(
            inp.run_key, to=p["to"], subject=p["subject"], body=p.get("body", "")
        )
        return ActionResult(summary=f"Queued '{p['subject']}' to {p['to']}", data={"to": p["to"]})

    @step_action("note")
    async def note(self, inp: ActionInput) -> ActionResult:
        """Touches nothing: says `params.message` (steps that only check or confirm, like the
        policy_check definition's first two)."""
        message = str(inp.params.get("message") or "Done")
        return ActionResult(summary=message, data={"message": message})

    @step_action("run_task")
    async def run_task(self, inp: ActionInput) -> ActionResult:
        """Carries out `params.task`: one row in demo_tasks per step run."""
        task = str(inp.params["task"])
        await add_demo_task(inp.run_key, task, str(inp.params.get("requested_by") or ""))
        return ActionResult(summary=f"Task done: {task}", data={"task": task})


def action_names(actions: type[ActionActivities]) -> frozenset[str]:
    """The activity names of the actions `actions` declares (with step_action)."""
    return frozenset(
        defn.name
        for member in (getattr(actions, attr) for attr in dir(actions))
        if (defn := getattr(member, "__temporal_activity_definition", None)) is not None
        and defn.name
    )


ACTION_NAMES = action_names(ActionActivities)

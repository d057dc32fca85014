"""The actions definitions can name: Temporal activities working on the demo systems.

Every action is a method of `ActionActivities` declared with `step_action`, which lets one
activity both read the step's mode and run the action: the workflow reaches a step with a single
activity instead of a mode lookup followed by the action (one workflow task less per automatic
step — what keeps the engine close to a bare workflow, docs/benchmarks.md)."""

from __future__ import annotations

import asyncio
import logging
import random
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TypeVar

from temporalio import activity
from temporalio.exceptions import ApplicationError

from app.db.demo import DemoSystems
from app.db.policies import add_demo_task
from app.db.records import Records
from app.domain.modes import DeploymentMode
from app.temporal.contracts import ActionInput, ActionResult, ModeLookup
from app.temporal.recording import current_mode

logger = logging.getLogger(__name__)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# How long a mode read may take before the activity leaves it to the workflow (which retries
# without limit): a slow database must not use up the action's own timeout and attempts.
MODE_READ_TIMEOUT = timedelta(seconds=5)
# Where a failed action's error carries the mode it ran in (ApplicationError details).
MODE_DETAIL = "step_mode"


@dataclass
class FaultSwitch:
    """Whether this worker applies fault injections (`stepladder simulate --failure-rate`):
    `stepladder worker` sets it from Settings.fault_injection, the test session turns it on.
    Off — the default, and production's — the table is not even read."""

    enabled: bool = False

    async def fail_if_injected(self, records: Records, inp: ActionInput) -> None:
        """A real failure of the real activity at the step's injected rate, before the action
        does anything; not retryable, so it counts at once."""
        if not self.enabled:
            return
        try:
            rate = await records.failure_rate(inp.workflow_id, inp.step_id)
        except Exception as exc:  # noqa: BLE001 — a testing aid must not fail a step on its own
            logger.warning("fault injections unreadable, none applied: %r", exc)
            return
        if rate is not None and random.random() < rate:
            raise ApplicationError(
                f"injected fault: {rate:.0%} of {inp.step_id} runs fail on purpose",
                type="InjectedFault",
                non_retryable=True,
            )


Actions = TypeVar("Actions", bound="ActionActivities")
Action = Callable[[Actions, ActionInput], Awaitable[ActionResult]]


def step_action(name: str) -> Callable[[Action[Actions]], Action[Actions]]:
    """Declare a method of ActionActivities (or a subclass) as the action activity `name`.

    Called with `ActionInput.check_mode` (the workflow does so when a step is reached), the
    activity first reads the step's current mode: an approval mode returns `ran=False` at once,
    and so does a mode that cannot be read (database unavailable — the workflow then reads it
    again, retrying without limit, so an outage delays the step and never fails it). Otherwise
    it runs the action and reports the mode it ran in, on success and on failure (an error's
    last detail), so the step run records the mode actually used. Injected faults apply here.
    """

    def declare(run: Action[Actions]) -> Action[Actions]:
        # `self` stays unannotated: Temporal reads the argument types from the hints and skips
        # only an unannotated `self`.
        async def activity_fn(self, inp: ActionInput) -> ActionResult:  # type: ignore[no-untyped-def]
            mode = ""
            if inp.check_mode is not None:
                mode = await self.mode_or_blank(inp.check_mode)
                if not mode or DeploymentMode(mode).needs_approval:
                    return ActionResult(summary="", mode=mode, ran=False)
            try:
                await self.faults.fail_if_injected(self.records, inp)
                result = await run(self, inp)
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


class ActionActivities:
    """The demo actions, on the demo systems; `records` reads the step's mode and its injected
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

"""How an action activity is declared: `step_action` (one activity reads the step's mode and
runs the action), the fault switch it applies, and the mode a failed action ran in."""

from __future__ import annotations

import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from temporalio import activity
from temporalio.exceptions import ApplicationError

from app.db.records import Records
from app.domain.modes import DeploymentMode
from app.temporal.contracts import ActionInput, ActionResult

logger = logging.getLogger(__name__)
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


Actions = TypeVar("Actions")
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

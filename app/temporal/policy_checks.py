"""Safety policies in the engine: the `check_policies` activity (evaluates a step's rules on its
rendered params, reads the daily sums and records every check in PostgreSQL) and the workflow
side that calls it before a step's mode is read.

Workflow version (a workflow.patched id; keep it until no execution started before it runs):
POLICY_CHECKS is asked only by definitions that declare `policy:`, so every history of one
without replays unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from temporalio import activity, workflow
from temporalio.common import RetryPolicy

from app.db.policies import PolicyStore
from app.domain.definitions import StepDefinition
from app.domain.policies import PolicyCheck, PolicyRule, evaluate
from app.temporal.contracts import ExecutionInput, ImpactWarning, StepState

POLICY_CHECKS = "policy-checks"
DEFAULT_TIME_ZONE = "UTC"


@dataclass
class PolicyCheckRequest:
    """A step's applicable rules and its rendered params (the values checked)."""

    execution_id: str
    workflow_id: str
    step_id: str
    rules: list[PolicyRule]
    params: dict[str, Any]


@dataclass
class PolicyCheckResult:
    checks: list[PolicyCheck] = field(default_factory=list)


@dataclass
class PolicyVerdict:
    """What the checks mean for the step: `denied` (the summary it ends with) when a deny rule
    was breached, else `forced` when a require_approval rule was."""

    denied: str = ""
    forced: bool = False


class PolicyActivities:
    """The `check_policies` activity on its data access; `default_time_zone` is the daily
    window's zone for rules without `time_zone`."""

    def __init__(self, store: PolicyStore, default_time_zone: str = DEFAULT_TIME_ZONE) -> None:
        self.store = store
        self.default_time_zone = default_time_zone

    @activity.defn(name="check_policies")
    async def check_policies(self, req: PolicyCheckRequest) -> PolicyCheckResult:
        """Evaluate each rule on `req.params[rule.field]` (a daily_max rule adds the day's
        counted sum of this workflow's other executions), record every result, answer them."""
        now = datetime.now(UTC)
        checks: list[PolicyCheck] = []
        for rule in req.rules:
            spent = Decimal(0)
            if rule.daily_max is not None:
                zone = rule.time_zone or self.default_time_zone
                spent = await self.store.counted_today(
                    req.workflow_id, rule.id, zone, now, req.execution_id
                )
            checks.append(evaluate(rule, req.params.get(rule.field), spent))
        await self.store.record(req.execution_id, req.workflow_id, req.step_id, checks, now)
        return PolicyCheckResult(checks)


def rules_for(
    inp: ExecutionInput, step: StepDefinition, params: dict[str, Any]
) -> list[PolicyRule]:
    """The definition's rules that check this step (its own, or naming a field it has)."""
    return [rule for rule in inp.definition.policy if rule.applies_to(step.id, params)]


async def check_step(
    inp: ExecutionInput,
    step: StepDefinition,
    state: StepState,
    params: dict[str, Any],
    bump: Callable[[], None],
) -> PolicyVerdict:
    """Workflow side: run `check_policies` for the step's rules (none: no activity), put the
    results on the step (`state.policy_checks`) and say whether it is denied or must wait for
    approval. Deterministic; retried until PostgreSQL answers."""
    rules = rules_for(inp, step, params)
    if not rules:
        return PolicyVerdict()
    state.summary = "Checking safety policies…"
    bump()
    result = await workflow.execute_activity(
        "check_policies",
        PolicyCheckRequest(inp.execution_id, inp.definition.id, step.id, rules, params),
        result_type=PolicyCheckResult,
        start_to_close_timeout=timedelta(seconds=10),
        retry_policy=RetryPolicy(maximum_interval=timedelta(seconds=10)),
    )
    state.policy_checks = result.checks
    state.summary = ""
    bump()
    denied = [c.message for c in result.checks if not c.passed and c.action == "deny"]
    if denied:
        return PolicyVerdict(denied=f"Denied by policy: {'; '.join(denied)}")
    return PolicyVerdict(forced=any(not c.passed for c in result.checks))


def breach_warnings(checks: list[PolicyCheck]) -> list[ImpactWarning]:
    """A critical impact warning for each breached rule (what the approval panel shows first)."""
    return [
        ImpactWarning("critical", f"Policy breach — approval required: {c.message}")
        for c in checks
        if not c.passed
    ]

"""Data access for safety policies: each rule's check of a step run (table policy_checks), the
day's counted sum a `daily_max` rule reads, and the demo tasks table."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from app.db.tables import DemoTask, PolicyCheckRecord
from app.domain.policies import PolicyCheck, amount
from app.domain.statuses import StepStatus


class PolicyStore:
    """Where the `check_policies` activity reads the daily sums and records its checks."""

    async def counted_today(
        self, workflow_id: str, rule_id: str, time_zone: str, now: datetime, execution_id: str
    ) -> Decimal:
        """The sum of the amounts this workflow's OTHER executions checked under `rule_id` on
        `now`'s calendar day in `time_zone`, counting a check only when its step went on to
        complete (a denied, rejected or failed step spent nothing)."""
        rows = await PolicyCheckRecord.raw(
            "SELECT coalesce(sum(pc.amount), 0) AS total FROM policy_checks pc"
            " JOIN step_runs sr ON sr.execution_id = pc.execution_id AND sr.step_id = pc.step_id"
            " WHERE pc.workflow_id = {} AND pc.rule_id = {} AND pc.execution_id <> {}"
            " AND sr.status = {} AND pc.amount IS NOT NULL"
            " AND (pc.checked_at AT TIME ZONE {})::date = ({}::timestamptz AT TIME ZONE {})::date",
            workflow_id, rule_id, execution_id, StepStatus.COMPLETED.value,
            time_zone, now, time_zone,
        )  # fmt: skip
        return Decimal(str(rows[0]["total"])) if rows else Decimal(0)

    async def record(
        self,
        execution_id: str,
        workflow_id: str,
        step_id: str,
        checks: list[PolicyCheck],
        checked_at: datetime,
    ) -> None:
        """Write the step run's checks; a retried activity overwrites its own rows."""
        for check in checks:
            number = amount(check.value)
            await PolicyCheckRecord.raw(
                "INSERT INTO policy_checks (check_key, execution_id, workflow_id, step_id,"
                " rule_id, field, value, amount, limits, passed, action, message, checked_at)"
                " VALUES ({}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {})"
                " ON CONFLICT (check_key) DO UPDATE SET value = EXCLUDED.value,"
                " amount = EXCLUDED.amount, limits = EXCLUDED.limits, passed = EXCLUDED.passed,"
                " action = EXCLUDED.action, message = EXCLUDED.message,"
                " checked_at = EXCLUDED.checked_at",
                f"{execution_id}/{step_id}/{check.rule}", execution_id, workflow_id, step_id,
                check.rule, check.field, "" if check.value is None else str(check.value),
                None if number is None else float(number), check.limit, check.passed,
                check.action, check.message, checked_at,
            )  # fmt: skip

    async def checks_by_step(self, execution_id: str) -> dict[str, list[PolicyCheck]]:
        """Every check recorded for the execution, by step id, in the order they were written
        (what a timeline read from the records shows; values as recorded text)."""
        rows = (
            await PolicyCheckRecord.select()
            .where(PolicyCheckRecord.execution_id == execution_id)
            .order_by(PolicyCheckRecord._meta.primary_key)
            .run()
        )
        by_step: dict[str, list[PolicyCheck]] = {}
        for row in rows:
            by_step.setdefault(row["step_id"], []).append(
                PolicyCheck(row["rule_id"], row["field"], row["value"], row["limits"],
                            row["passed"], row["action"], row["message"])
            )  # fmt: skip
        return by_step


async def add_demo_task(run_key: str, task: str, requested_by: str) -> None:
    """At most one demo task per step run (`run_key`)."""
    await DemoTask.raw(
        "INSERT INTO demo_tasks (run_key, task, requested_by, created_at)"
        " VALUES ({}, {}, {}, {}) ON CONFLICT (run_key) DO NOTHING",
        run_key, task, requested_by, datetime.now(UTC),
    )  # fmt: skip

"""The two ways a web process can learn of a change without polling (issue 16), measured side by
side on the same decisions: Temporal's history long-poll (`app/live/history.py`) and PostgreSQL
LISTEN/NOTIFY from the worker's record transaction (`app/db/inbox_channel.py`).

For each run an execution waits at Create CRM Record; a `decide` update approves it; the time
from sending the update to (a) the first long-poll answer holding a state change
(`WorkflowTaskCompleted`) and (b) the first NOTIFY for that execution is recorded, and to the
long-poll answer after which a `timeline` query shows the step completed.

Run: `.venv/bin/python -m bench.push_candidates [--runs 20]`; prints a Markdown section.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from datetime import UTC, datetime

from app.approvals.service import DecisionService
from app.db.inbox_channel import listen
from app.domain.approvals import Decision, DecisionAction
from app.domain.identity import DEMO_USERS
from app.domain.modes import DeploymentMode
from app.domain.statuses import StepStatus
from app.executions.service import ExecutionService
from app.live.history import HistoryChanges
from bench.report import TABLE_HEAD, machine, row
from bench.scenarios import (
    CRM_CONFIRMATIONS,
    DEFINITIONS,
    PREMIUM,
    automate_every_step,
    set_mode,
    waiting_at,
)
from bench.stack import stack


async def one_run(
    service: ExecutionService, decisions: DecisionService, history: HistoryChanges,
    notified: dict[str, asyncio.Event],
) -> tuple[float, float, float]:  # fmt: skip
    """Milliseconds from the decision to: a long-poll change, the NOTIFY, completed via history."""
    execution_id = await service.start("customer_onboarding", PREMIUM, DEMO_USERS["bob"])
    await waiting_at(service, execution_id, "create_crm_record")
    await asyncio.sleep(1.0)  # the waiting step's records are flushed: no NOTIFY pending
    notified[execution_id] = asyncio.Event()
    started = time.time()
    first_change = completed = 0.0

    async def follow() -> None:
        nonlocal first_change, completed
        async for written_at in history.follow(execution_id):
            if written_at < started:
                continue
            first_change = first_change or time.time()
            timeline = await service.timeline(execution_id)
            if timeline.steps[2].status == StepStatus.COMPLETED:
                completed = time.time()
                return

    async def notice() -> float:
        await notified[execution_id].wait()
        return time.time()

    following = asyncio.create_task(follow())
    noticing = asyncio.create_task(notice())
    await asyncio.sleep(0.2)  # both channels are open before the change
    started = time.time()
    decision = Decision.by(DEMO_USERS["carol"], "create_crm_record", DecisionAction.APPROVED,
                           source="api", confirmations=CRM_CONFIRMATIONS)  # fmt: skip
    await decisions.decide(execution_id, decision)
    await asyncio.wait_for(following, 30)
    notice_at = await asyncio.wait_for(noticing, 30)
    return (
        (first_change - started) * 1000,
        (notice_at - started) * 1000,
        (completed - started) * 1000,
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    onboarding = DEFINITIONS["customer_onboarding"]
    changes, notices, completions = [], [], []
    async with stack("push") as bench:
        await automate_every_step(onboarding)
        await set_mode(onboarding, "create_crm_record", DeploymentMode.VALIDATION_REQUIRED)
        service = ExecutionService(bench.client, DEFINITIONS, bench.task_queue)
        decisions = DecisionService(bench.client)
        history = HistoryChanges(bench.client)
        notified: dict[str, asyncio.Event] = {}

        def on_notify(execution_id: str) -> None:
            if execution_id in notified:
                notified[execution_id].set()

        listener = asyncio.create_task(listen(bench.database_url, on_notify, lambda _: None))
        with bench.child("-m", "app.cli", "worker"):
            for index in range(args.runs + 2):
                change, notice, completed = await one_run(service, decisions, history, notified)
                if index >= 2:
                    changes.append(change)
                    notices.append(notice)
                    completions.append(completed)
        listener.cancel()

    print(
        f"\n### Pushed changes: history long-poll vs LISTEN/NOTIFY — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    )
    print(f"Machine: {machine()}\n")
    print(TABLE_HEAD)
    print(row("`decide` → history long-poll answers a WorkflowTaskCompleted", changes, digits=0))
    print(row("`decide` → NOTIFY from the record transaction (LISTEN)", notices, digits=0))
    print(
        row("`decide` → step completed in the query after a history answer", completions, digits=0)
    )


if __name__ == "__main__":
    asyncio.run(main())

"""Reminders, escalation and expiry under Temporal's time-skipping test server: a 10-minute
approval timeout passes in moments, and each notice arrives at a real HTTP receiver when due."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import datetime

from temporalio.testing import WorkflowEnvironment

from app.domain.notifications import Escalation, NotifySpec, parse_channels
from app.steps.service import evaluate_after_outcome
from app.temporal.contracts import ExecutionInput
from app.temporal.notifying import NotificationActivities
from app.temporal.worker import build_worker
from app.temporal.workflows import ExecutionWorkflow
from tests.receivers import http_receiver
from tests.test_approval_timeout import ONBOARDING, PREMIUM, time_skipping  # noqa: F401 — fixture


async def test_reminders_escalation_and_expiry_arrive_when_due(
    time_skipping: WorkflowEnvironment,  # noqa: F811 — the imported fixture
    database_url: str,
) -> None:
    notify = NotifySpec(
        channels=["audit"],
        escalation=Escalation(after_seconds=420, group="finance-leads", channels=["leads"]),
    )
    steps = [
        replace(s, notify=notify, approval_timeout_seconds=600)
        if s.id == "create_crm_record"
        else s
        for s in ONBOARDING.steps
    ]
    definition = replace(ONBOARDING, steps=steps)
    queue = f"remind-{uuid.uuid4().hex[:8]}"
    execution_id = f"remind-{uuid.uuid4().hex[:8]}"
    with http_receiver() as http:
        channels = parse_channels({"audit": {"type": "webhook", "url": f"{http.url}/audit"},
                                   "leads": {"type": "webhook", "url": f"{http.url}/leads"}})  # fmt: skip
        notifier = NotificationActivities(channels, public_url="http://sl.example")
        async with build_worker(time_skipping.client, queue, on_outcome=evaluate_after_outcome,
                                fault_injection=False, notifier=notifier):  # fmt: skip
            handle = await time_skipping.client.start_workflow(
                ExecutionWorkflow.run,
                ExecutionInput(execution_id, definition, PREMIUM, started_by="bob"),
                id=execution_id,
                task_queue=queue,
            )
            assert await handle.result() == "expired"

    audit = [r.json for r in http.at("/audit")]
    assert [n["kind"] for n in audit] == ["waiting", "reminder", "reminder", "outcome"]
    assert audit[-1]["outcome"] == "expired" and audit[-1]["decided_by"] == ""
    since = datetime.fromisoformat(audit[0]["waiting_since"])
    # Each went out at its share of the 10-minute timeout (50 %, 90 %; escalation at 7 min) in
    # the workflow's time, which the receiver gets as `sent_at`.
    [escalation] = [r.json for r in http.at("/leads")]
    assert escalation["kind"] == "escalation" and escalation["escalated_to"] == "finance-leads"
    assert escalation["title"].startswith("Escalated to finance-leads")
    sent = [(datetime.fromisoformat(n["sent_at"]) - since).total_seconds() for n in audit]
    assert [round(t) for t in sent[1:3]] == [300, 540]
    assert round((datetime.fromisoformat(escalation["sent_at"]) - since).total_seconds()) == 420
    assert round(sent[3]) == 600  # the expiry, told at once

"""Parallel steps on the real dev server (depends_on, patch "parallel-steps"): steps overlap in
time, two approvals wait at once and are decided in either order, a rejection cancels the
branches still running or waiting, a tolerated failure steers a later condition, and a JSON
definition runs."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from temporalio.client import Client
from temporalio.exceptions import ApplicationError

from app.approvals.inbox import waiting_approvals
from app.db.tables import ApprovalDecision, StepRun
from app.definitions.loader import load_definitions
from app.domain.definitions import WorkflowDefinition, parse_definition
from app.domain.identity import DEMO_USERS
from app.steps.seeding import seed_step_configs
from app.steps.service import evaluate_after_outcome
from app.temporal.actions import ActionActivities, action_names, step_action
from app.temporal.contracts import ActionInput, ActionResult, StepState, Timeline
from app.temporal.worker import build_worker
from tests.helpers import Engine, eventually, finished

BOB, CAROL = DEMO_USERS["bob"], DEMO_USERS["carol"]
RELEASE = asyncio.Event()


class ParallelTestActions(ActionActivities):
    @step_action("pause")
    async def pause(self, inp: ActionInput) -> ActionResult:
        """Work that takes `seconds` (so two branches visibly overlap)."""
        await asyncio.sleep(float(inp.params.get("seconds", 0)))
        return ActionResult(summary="paused", data={"note": inp.params.get("note", "")})

    @step_action("hold")
    async def hold(self, inp: ActionInput) -> ActionResult:
        """Runs until the test releases it (at most 30 s), like a slow external system."""
        await asyncio.wait_for(RELEASE.wait(), 30)
        return ActionResult(summary="released")

    @step_action("fail")
    async def fail(self, inp: ActionInput) -> ActionResult:
        raise ApplicationError(str(inp.params.get("message", "it failed")), non_retryable=True)


ACTIONS = action_names(ParallelTestActions)


def define(workflow_id: str, steps: list[dict[str, Any]]) -> WorkflowDefinition:
    raw = {"id": workflow_id, "name": workflow_id.replace("_", " ").title(),
           "inputs": [{"name": "channel", "required": False, "default": "api"}], "steps": steps}  # fmt: skip
    return parse_definition(raw, f"{workflow_id}.yaml", ACTIONS)


def s(
    step_id: str, action: str = "pause", impact: str = "accessory", **extra: Any
) -> dict[str, Any]:
    return {"id": step_id, "name": step_id.replace("_", " ").title(), "action": action,
            "impact": impact, **extra}  # fmt: skip


@asynccontextmanager
async def parallel_engine(
    temporal_client: Client, *definitions: WorkflowDefinition
) -> AsyncIterator[Engine]:
    """An engine on a worker of its own that has the test actions."""
    queue = f"parallel-{uuid.uuid4().hex[:8]}"
    await seed_step_configs(definitions)
    RELEASE.clear()
    async with build_worker(temporal_client, queue, on_outcome=evaluate_after_outcome,
                            fault_injection=False, actions=ParallelTestActions):  # fmt: skip
        try:
            yield Engine(temporal_client, {d.id: d for d in definitions}, queue)
        finally:
            RELEASE.set()  # let a held activity end before the worker stops


def by_id(timeline: Timeline) -> dict[str, StepState]:
    return {step.id: step for step in timeline.steps}


def statuses(timeline: Timeline) -> dict[str, str]:
    return {step.id: str(step.status) for step in timeline.steps}


async def both_waiting(engine: Engine, execution_id: str, *step_ids: str) -> Timeline:
    def waiting(t: Timeline) -> bool:
        return all(by_id(t)[i].status == "waiting_approval" for i in step_ids)

    return await eventually(lambda: engine.timeline(execution_id), waiting)


def overlap(a: tuple[Any, Any], b: tuple[Any, Any]) -> bool:
    return bool(a[0] < b[1] and b[0] < a[1])


async def test_independent_steps_overlap_in_time_and_the_join_waits_for_both(
    temporal_client: Client, database_url: str
) -> None:
    definition = define("fan_out", [
        s("prepare"),
        s("left", depends_on=["prepare"], params={"seconds": 1}),
        s("right", depends_on=["prepare"], params={"seconds": 1}),
        s("join", depends_on=["left", "right"]),
    ])  # fmt: skip
    async with parallel_engine(temporal_client, definition) as engine:
        execution_id = await engine.start("fan_out", {}, BOB)
        timeline = await finished(engine, execution_id)
    assert timeline.status == "completed", timeline.outcome
    assert timeline.completed_count == 4
    assert timeline.groups == [["prepare"], ["left", "right"], ["join"]]
    steps = by_id(timeline)

    def span(step_id: str) -> tuple[datetime, datetime]:
        step = steps[step_id]
        return datetime.fromisoformat(step.started_at), datetime.fromisoformat(step.ended_at)

    assert overlap(span("left"), span("right")), (span("left"), span("right"))
    assert span("join")[0] >= max(span("left")[1], span("right")[1])
    # The recorded step runs say the same.
    rows = await eventually(
        lambda: StepRun.select(StepRun.step_id, StepRun.started_at, StepRun.ended_at).where(
            StepRun.execution_id == execution_id
        ),
        lambda rows: len(rows) == 4,
    )
    recorded = {r["step_id"]: (r["started_at"], r["ended_at"]) for r in rows}
    assert overlap(recorded["left"], recorded["right"]), recorded


async def test_two_steps_wait_at_once_and_are_approved_in_either_order(
    temporal_client: Client, database_url: str
) -> None:
    definition = define("two_gates", [
        s("prepare"),
        s("crm", impact="write", depends_on=["prepare"]),
        s("billing", impact="write", depends_on=["prepare"]),
        s("welcome", depends_on=["crm", "billing"]),
    ])  # fmt: skip
    async with parallel_engine(temporal_client, definition) as engine:
        execution_id = await engine.start("two_gates", {}, BOB)
        timeline = await both_waiting(engine, execution_id, "crm", "billing")
        # Each has its own panel (approval request) and its own inbox entry.
        assert by_id(timeline)["crm"].approval and by_id(timeline)["billing"].approval
        inbox = await eventually(
            lambda: waiting_approvals(engine.definitions),
            lambda items: len([i for i in items if i.execution_id == execution_id]) == 2,
        )
        assert sorted(i.step_id for i in inbox if i.execution_id == execution_id) == [
            "billing",
            "crm",
        ]
        # The second branch first: the first stays waiting.
        outcome = await engine.decide(execution_id, "billing", CAROL, "approved")
        assert outcome.step_status == "approved"
        timeline = await eventually(
            lambda: engine.timeline(execution_id),
            lambda t: by_id(t)["billing"].status == "completed",
        )
        assert by_id(timeline)["crm"].status == "waiting_approval"
        assert by_id(timeline)["welcome"].status == "pending"
        await engine.decide(execution_id, "crm", BOB, "approved")
        timeline = await finished(engine, execution_id)
    assert timeline.status == "completed", timeline.outcome
    assert statuses(timeline) == dict.fromkeys(
        ["prepare", "crm", "billing", "welcome"], "completed"
    )
    assert [d.user_id for d in by_id(timeline)["billing"].decisions] == ["carol"]
    assert [d.user_id for d in by_id(timeline)["crm"].decisions] == ["bob"]
    recorded = await eventually(
        lambda: ApprovalDecision.select(ApprovalDecision.step_id, ApprovalDecision.user_id).where(
            ApprovalDecision.execution_id == execution_id
        ),
        lambda rows: len(rows) == 2,
    )
    assert sorted((r["step_id"], r["user_id"]) for r in recorded) == [
        ("billing", "carol"), ("crm", "bob")
    ]  # fmt: skip


async def test_a_rejection_cancels_the_branches_still_running_or_waiting(
    temporal_client: Client, database_url: str
) -> None:
    definition = define("reject_one", [
        s("prepare"),
        s("gate", impact="write", depends_on=["prepare"]),
        s("other_gate", impact="write", depends_on=["prepare"]),
        s("slow", action="hold", depends_on=["prepare"]),
        s("after", depends_on=["gate", "other_gate", "slow"]),
    ])  # fmt: skip
    async with parallel_engine(temporal_client, definition) as engine:
        execution_id = await engine.start("reject_one", {}, BOB)
        await both_waiting(engine, execution_id, "gate", "other_gate")
        await eventually(lambda: engine.timeline(execution_id),
                         lambda t: by_id(t)["slow"].status == "running")  # fmt: skip
        await engine.decide(execution_id, "gate", CAROL, "rejected", reason="Not today")
        timeline = await finished(engine, execution_id)
        assert timeline.status == "rejected"
        assert timeline.outcome == "Gate rejected by carol: Not today"
        steps = by_id(timeline)
        assert statuses(timeline) == {"prepare": "completed", "gate": "rejected",
                                      "other_gate": "cancelled", "slow": "cancelled",
                                      "after": "pending"}  # fmt: skip
        assert steps["slow"].summary == "Cancelled: Gate rejected"
        assert steps["other_gate"].summary == "Cancelled: Gate rejected"
        assert timeline.completed_count == 1
        # The cancelled wait leaves the inbox; a decision on it is refused as not waiting.
        rows = await eventually(
            lambda: StepRun.select(StepRun.step_id, StepRun.status).where(
                StepRun.execution_id == execution_id
            ),
            lambda rows: {r["step_id"]: r["status"] for r in rows}.get("other_gate") == "cancelled",
        )
        assert {r["step_id"]: r["status"] for r in rows}["slow"] == "cancelled"
        items = await waiting_approvals(engine.definitions)
        assert not [i for i in items if i.execution_id == execution_id]


async def test_a_tolerated_failure_steers_a_later_condition(
    temporal_client: Client, database_url: str
) -> None:
    definition = define("book_trip", [
        s("book", action="fail", continue_on_failure=True, params={"message": "no seats left"}),
        s("slow_branch", depends_on=[], params={"seconds": 0.2}),
        s("notify_passenger", depends_on=["book"],
          condition="{{ steps.book.status == 'completed' }}"),
        s("alert_admin", depends_on=["book"],
          condition="{{ steps.book.status == 'failed' and trigger.channel == 'api' }}",
          params={"note": "{{ steps.book.error }}"}),
    ])  # fmt: skip
    async with parallel_engine(temporal_client, definition) as engine:
        execution_id = await engine.start("book_trip", {}, BOB)
        timeline = await finished(engine, execution_id)
    steps = by_id(timeline)
    assert timeline.status == "completed"
    assert timeline.outcome == "Completed; Book failed (continue_on_failure)"
    assert steps["book"].status == "failed" and steps["book"].error == "no seats left"
    assert steps["slow_branch"].status == "completed"  # a tolerated failure cancels nothing
    assert steps["notify_passenger"].status == "skipped"
    assert steps["alert_admin"].status == "completed"
    assert steps["alert_admin"].result == {"note": "no seats left"}


async def test_a_failure_without_continue_on_failure_cancels_the_running_branch(
    temporal_client: Client, database_url: str
) -> None:
    definition = define("fail_fast", [
        s("slow", action="hold", depends_on=[]),
        s("broken", action="fail", depends_on=[], params={"message": "card declined"}),
        s("ship", depends_on=["slow", "broken"]),
    ])  # fmt: skip
    async with parallel_engine(temporal_client, definition) as engine:
        execution_id = await engine.start("fail_fast", {}, BOB)
        timeline = await finished(engine, execution_id)
    assert timeline.status == "failed"
    assert timeline.outcome == "Broken failed: card declined"
    assert statuses(timeline) == {"slow": "cancelled", "broken": "failed", "ship": "pending"}
    assert by_id(timeline)["slow"].summary == "Cancelled: Broken failed"


async def test_cancelling_a_parallel_execution_cancels_every_branch(
    temporal_client: Client, database_url: str
) -> None:
    definition = define("cancel_all", [
        s("gate", impact="write", depends_on=[]),
        s("slow", action="hold", depends_on=[]),
        s("after", depends_on=["gate", "slow"]),
    ])  # fmt: skip
    async with parallel_engine(temporal_client, definition) as engine:
        execution_id = await engine.start("cancel_all", {}, BOB)
        await both_waiting(engine, execution_id, "gate")
        await engine.cancel(execution_id)
        timeline = await finished(engine, execution_id)
    assert timeline.status == "cancelled"
    assert statuses(timeline) == {"gate": "cancelled", "slow": "cancelled", "after": "pending"}
    assert by_id(timeline)["slow"].summary == "Execution cancelled"


async def test_a_json_definition_loads_and_runs(
    temporal_client: Client, database_url: str, tmp_path: Path
) -> None:
    raw = {"id": "json_flow", "name": "JSON flow", "inputs": [], "steps": [
        s("a", params={"note": "from json"}),
        s("b", depends_on=[]),
        s("c", depends_on=["a", "b"], condition="{{ steps.a.result.note == 'from json' }}"),
    ]}  # fmt: skip
    (tmp_path / "json_flow.json").write_text(json.dumps(raw, indent=2))
    definition = load_definitions(tmp_path, ACTIONS)["json_flow"]
    async with parallel_engine(temporal_client, definition) as engine:
        execution_id = await engine.start("json_flow", {}, BOB)
        timeline = await finished(engine, execution_id)
    assert timeline.status == "completed"
    assert statuses(timeline) == {"a": "completed", "b": "completed", "c": "completed"}


async def test_an_approve_step_signal_finds_its_wait_among_two(
    temporal_client: Client, database_url: str
) -> None:
    definition = define("signal_gates", [
        s("crm", impact="write", depends_on=[]),
        s("billing", impact="write", depends_on=[]),
    ])  # fmt: skip
    async with parallel_engine(temporal_client, definition) as engine:
        execution_id = await engine.start("signal_gates", {}, BOB)
        await both_waiting(engine, execution_id, "crm", "billing")
        handle = temporal_client.get_workflow_handle(execution_id)
        await handle.signal("approve_step",
                            {"step_id": "billing", "user_id": "carol", "action": "approved"})  # fmt: skip
        timeline = await eventually(
            lambda: engine.timeline(execution_id),
            lambda t: by_id(t)["billing"].status == "completed",
        )
        assert by_id(timeline)["crm"].status == "waiting_approval"
        await handle.signal("approve_step",
                            {"step_id": "crm", "user_id": "bob", "action": "rejected",
                             "reason": "duplicate customer"})  # fmt: skip
        timeline = await finished(engine, execution_id)
    assert timeline.status == "rejected"
    assert timeline.outcome == "Crm rejected by bob: duplicate customer"
    assert statuses(timeline) == {"crm": "rejected", "billing": "completed"}


async def test_approver_input_stays_with_its_own_branch(
    temporal_client: Client, database_url: str
) -> None:
    def gate(step_id: str) -> dict[str, Any]:
        return s(step_id, impact="write", depends_on=[], params={"note": "{{ approval.note }}"},
                 approval_inputs=[{"name": "note", "default": f"{step_id} default"}])  # fmt: skip

    definition = define("input_gates", [gate("crm"), gate("billing")])
    async with parallel_engine(temporal_client, definition) as engine:
        execution_id = await engine.start("input_gates", {}, BOB)
        await both_waiting(engine, execution_id, "crm", "billing")
        await engine.decide(execution_id, "billing", CAROL, "approved",
                            inputs={"note": "billing amended"})  # fmt: skip
        await engine.decide(execution_id, "crm", BOB, "approved", inputs={"note": "crm default"})
        timeline = await finished(engine, execution_id)
    assert timeline.status == "completed", timeline.outcome
    assert by_id(timeline)["billing"].result == {"note": "billing amended"}
    assert by_id(timeline)["crm"].result == {"note": "crm default"}


async def test_conditions_read_the_trigger_written_as_template_expressions(
    temporal_client: Client, database_url: str
) -> None:
    # No depends_on: the sequential path reads {{ }} conditions and trigger.* as well.
    definition = define("triggered", [
        s("from_crm", condition="{{ trigger.source == 'crm' }}"),
        s("from_web", condition="{{ trigger.source == 'web' }}"),
        s("after", condition="{{ steps.from_web.status == 'skipped' }}",
          params={"note": "{{ steps.from_crm.status }}"}),
    ])  # fmt: skip
    assert not definition.parallel
    async with parallel_engine(temporal_client, definition) as engine:
        execution_id = await engine.start("triggered", {}, BOB, via="webhook",
                                          trigger={"source": "crm"})  # fmt: skip
        timeline = await finished(engine, execution_id)
    assert statuses(timeline) == {"from_crm": "completed", "from_web": "skipped",
                                  "after": "completed"}  # fmt: skip
    assert by_id(timeline)["after"].result == {"note": "completed"}
    assert timeline.groups == []

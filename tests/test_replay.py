"""Determinism guard: recorded workflow histories replay through Temporal's Replayer against
the current workflow code, so a non-deterministic change fails the suite.

tests/histories/*.json were recorded from real executions (approve, reject, mode switch, cancel,
parallel approvals, a parent whose `run:` step's child is approved) by the current workflow;
tests/histories/v1/ by the workflow before the step's mode was read inside the action activity
(workflow.patched "mode-read-with-action"), tests/histories/v2/ before an approved step's run was
recorded as running ("approved-recorded-running"; app/temporal/versions.py). Those older
histories stay: they prove executions started by an older worker still finish after a deploy.

A change to the commands a workflow issues must be guarded by `workflow.patched(...)` so the
older histories still replay; then re-record the current ones with
`STEPLADDER_RECORD_HISTORIES=1 python -m pytest tests/test_replay.py` (to show the new path)
and say why in the commit.
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

import pytest
from temporalio.client import Client, WorkflowHistory
from temporalio.worker import Replayer

from app.approvals.service import DecisionRefused
from app.db.tables import StepConfig
from app.domain.child_runs import link_children
from app.domain.definitions import parse_definition
from app.domain.identity import DEMO_USERS
from app.domain.notifications import NotifySpec
from app.steps.seeding import seed_step_configs
from app.temporal.actions import ACTION_NAMES
from app.temporal.versions import APPROVED_RECORDED_RUNNING
from app.temporal.worker import workflow_runner
from app.temporal.workflows import ExecutionWorkflow
from tests.helpers import (
    CRM_CONFIRMATIONS,
    DEFINITIONS,
    PREMIUM,
    Engine,
    eventually,
    finished,
    waiting_at,
)

HISTORIES = Path(__file__).parent / "histories"
RECORD = os.environ.get("STEPLADDER_RECORD_HISTORIES") == "1"
BOB, CAROL = DEMO_USERS["bob"], DEMO_USERS["carol"]


def load_history(path: Path) -> WorkflowHistory:
    recorded = json.loads(path.read_text())
    return WorkflowHistory.from_json(recorded["workflow_id"], recorded["history"])


# The record activities of executions started before the patch "mode-read-with-action".
LEGACY_RECORDS = {"record_execution_started", "record_step_runs", "record_execution_finished"}


def activities_run(history: WorkflowHistory) -> set[str]:
    """The activity types a history ran: scheduled activities and local ones (their markers)."""
    names = set()
    for event in history.events:
        if event.HasField("activity_task_scheduled_event_attributes"):
            names.add(event.activity_task_scheduled_event_attributes.activity_type.name)
        marker = event.marker_recorded_event_attributes
        if event.HasField("marker_recorded_event_attributes") and "data" in marker.details:
            names.add(json.loads(marker.details["data"].payloads[0].data)["activity_type"])
    return names


def replayer() -> Replayer:
    return Replayer(workflows=[ExecutionWorkflow], workflow_runner=workflow_runner())


async def approved_journey(engine: Engine) -> str:
    execution_id = await engine.start("customer_onboarding", PREMIUM, BOB)
    await waiting_at(engine, execution_id, "create_crm_record")
    with pytest.raises(DecisionRefused):  # refused by the validator: stays out of history
        await engine.decide(execution_id, "create_crm_record", CAROL, "approved",
                            confirmations=CRM_CONFIRMATIONS[:1])  # fmt: skip
    await engine.decide(execution_id, "create_crm_record", BOB, "approved",
                        confirmations=CRM_CONFIRMATIONS)  # fmt: skip
    await waiting_at(engine, execution_id, "setup_billing_account")
    await engine.decide(execution_id, "setup_billing_account", CAROL, "approved",
                        typed_confirmation="CONFIRM BILLING")  # fmt: skip
    return execution_id


async def rejected_after_mode_switch(engine: Engine) -> str:
    await StepConfig.update({StepConfig.mode: "always_auto"}).where(
        StepConfig.step_id == "create_crm_record"
    )
    execution_id = await engine.start("customer_onboarding", PREMIUM, BOB)
    await waiting_at(engine, execution_id, "setup_billing_account")
    await engine.decide(execution_id, "setup_billing_account", CAROL, "rejected",
                        reason="Credit limit too high")  # fmt: skip
    return execution_id


async def cancelled_while_waiting(engine: Engine) -> str:
    execution_id = await engine.start("customer_onboarding", PREMIUM, BOB)
    await waiting_at(engine, execution_id, "create_crm_record")
    await engine.cancel(execution_id)
    return execution_id


async def approved_with_a_lower_limit(engine: Engine) -> str:
    # The approver lowers the CRM step's credit limit (approval_inputs, patch "approval-inputs").
    execution_id = await engine.start("customer_onboarding", PREMIUM, BOB)
    await waiting_at(engine, execution_id, "create_crm_record")
    await engine.decide(execution_id, "create_crm_record", BOB, "approved",
                        confirmations=CRM_CONFIRMATIONS, inputs={"credit_limit": 3000})  # fmt: skip
    await waiting_at(engine, execution_id, "setup_billing_account")
    await engine.cancel(execution_id)
    return execution_id


async def notified_then_approved(engine: Engine) -> str:
    # `notify:` on the CRM step naming a channel no worker has: the notice activity runs and
    # fails (shown on the step), behind the "notify-approvers" patch.
    onboarding = DEFINITIONS["customer_onboarding"]
    steps = [replace(s, notify=NotifySpec(channels=["nowhere"])) if s.id == "create_crm_record"
             else s for s in onboarding.steps]  # fmt: skip
    notifying = Engine(engine.client, {onboarding.id: replace(onboarding, steps=steps)},
                       engine.task_queue)  # fmt: skip
    execution_id = await notifying.start("customer_onboarding", PREMIUM, BOB)
    await waiting_at(notifying, execution_id, "create_crm_record")
    await notifying.decide(execution_id, "create_crm_record", BOB, "approved",
                           confirmations=CRM_CONFIRMATIONS)  # fmt: skip
    await waiting_at(notifying, execution_id, "setup_billing_account")
    await notifying.cancel(execution_id)
    return execution_id


def _email(step_id: str, impact: str, depends_on: list[str]) -> dict[str, object]:
    return {"id": step_id, "name": step_id.title(), "action": "send_email", "impact": impact,
            "depends_on": depends_on, "params": {"to": "{{ input.email }}", "subject": step_id}}  # fmt: skip


PARALLEL = parse_definition(
    {"id": "parallel_gates", "name": "Parallel gates",
     "inputs": [{"name": "email", "type": "email"}],
     "steps": [_email("welcome", "accessory", []), _email("crm", "write", ["welcome"]),
               _email("billing", "write", ["welcome"]), _email("done", "accessory", ["crm", "billing"])]},
    "parallel_gates.yaml", ACTION_NAMES,
)  # fmt: skip


async def parallel_approvals(engine: Engine) -> str:
    # depends_on (patch "parallel-steps"): two steps wait at once, approved in reverse order.
    await seed_step_configs([PARALLEL])
    parallel = Engine(engine.client, {PARALLEL.id: PARALLEL}, engine.task_queue)
    execution_id = await parallel.start(PARALLEL.id, {"email": "p@example.com"}, BOB)
    await waiting_at(parallel, execution_id, "crm")
    await waiting_at(parallel, execution_id, "billing")
    await parallel.decide(execution_id, "billing", CAROL, "approved")
    await parallel.decide(execution_id, "crm", BOB, "approved")
    return execution_id


async def policy_denied(engine: Engine) -> str:
    # `policy:` (patch "policy-checks"): the shipped policy_check definition denies a task
    # beginning with "forbidden" in its first step (check_policies activity → policy_denied).
    policy_check = DEFINITIONS["policy_check"]
    await seed_step_configs([policy_check])
    checked = Engine(engine.client, {policy_check.id: policy_check}, engine.task_queue)
    return await checked.start(policy_check.id, {"task": "Forbidden: wipe the disks"}, BOB)


async def policy_breach_approved(engine: Engine) -> str:
    # on_breach require_approval: an always_auto step waits, is approved, then runs.
    await seed_step_configs([REVIEWED])
    reviewed = Engine(engine.client, {REVIEWED.id: REVIEWED}, engine.task_queue)
    execution_id = await reviewed.start(REVIEWED.id, {"task": "a large task"}, BOB)
    await waiting_at(reviewed, execution_id, "check_task")
    await reviewed.decide(execution_id, "check_task", CAROL, "approved")
    return execution_id


REVIEWED = parse_definition(
    {"id": "policy_reviewed", "name": "Policy reviewed", "inputs": [{"name": "task"}],
     "policy": [{"id": "small_tasks", "field": "task", "allow": ["a small task"],
                 "on_breach": "require_approval"}],
     "steps": [{"id": "check_task", "name": "Check", "action": "note", "impact": "accessory",
                "params": {"task": "{{ input.task }}"}}]},
    "policy_reviewed.json", ACTION_NAMES,
)  # fmt: skip


ONBOARDING = DEFINITIONS["customer_onboarding"]
WITH_CHILD = link_children(
    {"onboard_then_welcome": parse_definition(
        {"id": "onboard_then_welcome", "name": "Onboard, then welcome",
         "inputs": [{"name": "email", "type": "email"}],
         "steps": [{"id": "onboard", "name": "Onboard", "run": "customer_onboarding",
                    "input": {"name": "Pat", "email": "{{ input.email }}", "tier": "premium"}},
                   {"id": "welcome", "name": "Welcome", "action": "send_email", "impact": "accessory",
                    "params": {"to": "{{ input.email }}", "subject": "{{ steps.onboard.summary }}"}}]},
        "onboard_then_welcome.yaml", ACTION_NAMES,
    ), ONBOARDING.id: ONBOARDING},
    {"onboard_then_welcome": "onboard_then_welcome.yaml", ONBOARDING.id: "customer_onboarding.yaml"},
)  # fmt: skip


async def child_approved(engine: Engine) -> str:
    # A `run:` step (patch "child-workflows"): the child waits twice, is approved, completes.
    await seed_step_configs(WITH_CHILD.values())
    parent = Engine(engine.client, WITH_CHILD, engine.task_queue)
    execution_id = await parent.start("onboard_then_welcome", {"email": "pat@example.com"}, BOB)
    await eventually(lambda: parent.timeline(execution_id),
                     lambda t: bool(t.steps[0].child_execution_id))  # fmt: skip
    child_id = f"{execution_id}-onboard"
    await waiting_at(parent, child_id, "create_crm_record")
    await parent.decide(child_id, "create_crm_record", BOB, "approved",
                        confirmations=CRM_CONFIRMATIONS)  # fmt: skip
    await waiting_at(parent, child_id, "setup_billing_account")
    await parent.decide(child_id, "setup_billing_account", CAROL, "approved",
                        typed_confirmation="CONFIRM BILLING")  # fmt: skip
    return execution_id


SCENARIOS = {
    "policy_denied": policy_denied,
    "policy_breach_approved": policy_breach_approved,
    "child_approved": child_approved,
    "parallel_approvals": parallel_approvals,
    "approved_journey": approved_journey,
    "rejected_after_mode_switch": rejected_after_mode_switch,
    "cancelled_while_waiting": cancelled_while_waiting,
    "notified_then_approved": notified_then_approved,
    "approved_with_a_lower_limit": approved_with_a_lower_limit,
}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
async def test_a_fresh_history_replays_deterministically(
    name: str, engine: Engine, temporal_client: Client
) -> None:
    execution_id = await SCENARIOS[name](engine)
    await finished(engine, execution_id)
    history = await temporal_client.get_workflow_handle(execution_id).fetch_history()
    await replayer().replay_workflow(history)
    # One recording path for new executions: record_progress (+ record_decision), never the
    # legacy record activities, which stay registered for older executions only.
    ran = activities_run(history)
    assert "record_progress" in ran and not ran & LEGACY_RECORDS, ran
    if RECORD:
        (HISTORIES / f"{name}.json").write_text(
            json.dumps({"workflow_id": execution_id, "history": json.loads(history.to_json())},
                       indent=1) + "\n"
        )  # fmt: skip


@pytest.mark.parametrize(
    "path", sorted(HISTORIES.glob("**/*.json")), ids=lambda p: str(p.relative_to(HISTORIES))
)
async def test_recorded_histories_replay_against_the_current_workflow(path: Path) -> None:
    history = load_history(path)
    result = await replayer().replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, f"{path.name}: {result.replay_failure}"


def test_histories_from_before_the_patch_took_the_legacy_record_path() -> None:
    # What the executions the legacy record activities stay registered for look like.
    for path in sorted((HISTORIES / "v1").glob("*.json")):
        ran = activities_run(load_history(path))
        assert "record_progress" not in ran and ran & LEGACY_RECORDS, (path.name, ran)


def patches_of(history: WorkflowHistory) -> set[str]:
    """The `workflow.patched` ids a history's markers recorded."""
    found = set()
    for event in history.events:
        if event.HasField("marker_recorded_event_attributes"):
            marker = event.marker_recorded_event_attributes
            if marker.marker_name == "core_patch":
                found |= {
                    json.loads(payload.data)["id"]
                    for details in marker.details.values()
                    for payload in details.payloads
                }
    return found


def test_approved_steps_record_running_since_the_patch_and_v2_holds_histories_from_before() -> None:
    # v2: approved executions from before APPROVED_RECORDED_RUNNING — they replay down the
    # older path (no running record); the current approved ones took the new one.
    before = sorted((HISTORIES / "v2").glob("*.json"))
    assert before, "tests/histories/v2 holds the histories from before the patch"
    for path in before:
        assert APPROVED_RECORDED_RUNNING not in patches_of(load_history(path)), path.name
        assert APPROVED_RECORDED_RUNNING in patches_of(load_history(HISTORIES / path.name))


def test_every_scenario_has_a_recorded_history() -> None:
    assert sorted(p.stem for p in HISTORIES.glob("*.json")) == sorted(SCENARIOS)

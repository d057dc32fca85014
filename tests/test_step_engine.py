"""The step engine on the real Temporal dev server and PostgreSQL: modes read when a step is
reached, previews, decisions through the `decide` update and the `approve_step` signal."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Awaitable
from pathlib import Path

import pytest
from temporalio.client import Client

from app.approvals.service import DecisionRefused
from app.db.tables import (
    ApprovalDecision,
    DemoBillingAccount,
    DemoContact,
    DemoOutboxMessage,
    StepConfig,
    StepRun,
)
from app.domain.approvals import Decision, RefusalKind
from app.domain.identity import DEMO_USERS, Role, User, with_implied
from app.temporal.contracts import ExecutionInput, StepState, Timeline
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

BOB, CAROL, VERA = DEMO_USERS["bob"], DEMO_USERS["carol"], DEMO_USERS["vera"]


def step(timeline: Timeline, step_id: str) -> StepState:
    return next(s for s in timeline.steps if s.id == step_id)


async def refused(coro: Awaitable[object]) -> DecisionRefused:
    with pytest.raises(DecisionRefused) as caught:
        await coro
    return caught.value


async def test_full_onboarding_journey_waits_for_each_approval_and_writes_once(
    engine: Engine,
) -> None:
    execution_id = await engine.start("customer_onboarding", PREMIUM, BOB)

    timeline = await waiting_at(engine, execution_id, "create_crm_record")
    assert [s.status for s in timeline.steps[:2]] == ["completed", "completed"]
    assert [s.mode for s in timeline.steps[:3]] == [
        "always_auto", "auto_monitored", "validation_required",
    ]  # fmt: skip
    crm = step(timeline, "create_crm_record")
    assert crm.approval is not None and crm.approval.confirmations == CRM_CONFIRMATIONS
    assert crm.preview is not None and crm.preview.operation == "CREATE"
    assert crm.preview.target == "crm.contacts" and crm.preview.environment == "production"
    fields = {f.name: (f.old, f.new) for f in crm.preview.fields}
    assert fields["credit_limit"] == (None, 5000) and fields["tier"] == (None, "premium")
    warnings = [w.message for w in crm.preview.impact]
    assert "Execute in PRODUCTION environment" in warnings
    assert "Setting credit limit to $5,000" in warnings
    assert await DemoContact.count() == 0  # nothing written before the approval

    missing = await refused(
        engine.decide(execution_id, "create_crm_record", BOB, "approved",
                      confirmations=CRM_CONFIRMATIONS[:2])
    )  # fmt: skip
    assert missing.kind == RefusalKind.INCOMPLETE
    assert "I have approval for credit limit >$1,000" in missing.message
    viewer = await refused(
        engine.decide(execution_id, "create_crm_record", VERA, "approved",
                      confirmations=CRM_CONFIRMATIONS)
    )  # fmt: skip
    assert viewer.kind == RefusalKind.FORBIDDEN and "approver role" in viewer.message
    still = await engine.timeline(execution_id)
    assert step(still, "create_crm_record").status == "waiting_approval"
    assert step(still, "create_crm_record").decisions == []

    outcome = await engine.decide(
        execution_id, "create_crm_record", BOB, "approved", confirmations=CRM_CONFIRMATIONS
    )
    assert outcome.step_status == "approved" and outcome.approvals == 1

    timeline = await waiting_at(engine, execution_id, "setup_billing_account")
    billing = step(timeline, "setup_billing_account")
    assert billing.mode == "always_manual"
    assert billing.approval is not None and billing.approval.typed_phrase == "CONFIRM BILLING"
    assert billing.approval.four_eyes and billing.approval.started_by == "bob"
    assert step(timeline, "create_crm_record").decisions[0].user_id == "bob"

    starter = await refused(
        engine.decide(execution_id, "setup_billing_account", BOB, "approved",
                      typed_confirmation="CONFIRM BILLING")
    )  # fmt: skip
    assert starter.kind == RefusalKind.FORBIDDEN and "four eyes" in starter.message
    phrase = await refused(
        engine.decide(execution_id, "setup_billing_account", CAROL, "approved",
                      typed_confirmation="confirm billing")
    )  # fmt: skip
    assert phrase.kind == RefusalKind.INCOMPLETE and "CONFIRM BILLING" in phrase.message
    await engine.decide(
        execution_id, "setup_billing_account", CAROL, "approved",
        typed_confirmation="CONFIRM BILLING",
    )  # fmt: skip

    timeline = await finished(engine, execution_id)
    assert timeline.status == "completed"
    assert [s.status for s in timeline.steps] == ["completed"] * 5
    contact = await DemoContact.objects().get(DemoContact.email == "john@example.com")
    assert contact is not None and (contact.tier, contact.credit_limit) == ("premium", 5000)
    assert await DemoBillingAccount.count() == 1 and await DemoOutboxMessage.count() == 1

    runs = await StepRun.select(StepRun.step_id, StepRun.mode, StepRun.status).where(
        StepRun.execution_id == execution_id
    )
    assert {r["step_id"]: (r["mode"], r["status"]) for r in runs} == {
        "validate_email": ("always_auto", "completed"),
        "check_duplicates": ("auto_monitored", "completed"),
        "create_crm_record": ("validation_required", "completed"),
        "setup_billing_account": ("always_manual", "completed"),
        "send_welcome_email": ("always_auto", "completed"),
    }
    decisions = await ApprovalDecision.select(
        ApprovalDecision.step_id, ApprovalDecision.user_id, ApprovalDecision.confirmations,
        ApprovalDecision.typed_confirmation, ApprovalDecision.source,
    ).where(ApprovalDecision.execution_id == execution_id).order_by(ApprovalDecision.id)  # fmt: skip
    assert [(d["step_id"], d["user_id"], d["source"]) for d in decisions] == [
        ("create_crm_record", "bob", "web"),
        ("setup_billing_account", "carol", "web"),
    ]  # refused decisions never entered history, so they were never recorded
    assert json.loads(decisions[0]["confirmations"]) == CRM_CONFIRMATIONS
    assert decisions[1]["typed_confirmation"] == "CONFIRM BILLING"

    stale = await refused(
        engine.decide(execution_id, "create_crm_record", CAROL, "approved",
                      confirmations=CRM_CONFIRMATIONS)
    )  # fmt: skip
    assert stale.kind == RefusalKind.NOT_WAITING and "finished" in stale.message


async def test_crm_preview_of_a_returning_customer_shows_old_and_new_values(
    engine: Engine,
) -> None:
    from datetime import UTC, datetime

    await DemoContact.insert(
        DemoContact(email="john@example.com", name="John Doe", tier="basic",
                    credit_limit=1000, created_at=datetime.now(UTC))
    )  # fmt: skip
    execution_id = await engine.start("customer_onboarding", PREMIUM, BOB)
    timeline = await waiting_at(engine, execution_id, "create_crm_record")

    assert (
        step(timeline, "check_duplicates").summary == "1 existing contact(s) with john@example.com"
    )
    preview = step(timeline, "create_crm_record").preview
    assert preview is not None and preview.operation == "UPDATE"
    changes = {f.name: (f.old, f.new, f.changed) for f in preview.fields}
    assert changes["tier"] == ("basic", "premium", True)
    assert changes["credit_limit"] == (1000, 5000, True)
    assert changes["name"] == ("John Doe", "John Doe", False)
    await engine.cancel(execution_id)


async def test_rejection_with_reason_stops_the_execution_and_writes_nothing(
    engine: Engine,
) -> None:
    execution_id = await engine.start("customer_onboarding", PREMIUM, BOB)
    await waiting_at(engine, execution_id, "create_crm_record")

    no_reason = await refused(
        engine.decide(execution_id, "create_crm_record", CAROL, "rejected", reason="  ")
    )
    assert no_reason.kind == RefusalKind.INCOMPLETE and "reason" in no_reason.message
    outcome = await engine.decide(
        execution_id, "create_crm_record", CAROL, "rejected", reason="Wrong tier"
    )
    assert outcome.step_status == "rejected"

    timeline = await finished(engine, execution_id)
    assert timeline.status == "rejected"
    assert timeline.outcome == "Create CRM Record rejected by carol: Wrong tier"
    assert [s.status for s in timeline.steps] == ["completed", "completed", "rejected",
                                                  "pending", "pending"]  # fmt: skip
    assert await DemoContact.count() == 0 and await DemoBillingAccount.count() == 0
    assert await DemoOutboxMessage.count() == 0
    run = await StepRun.objects().get(StepRun.run_key == f"{execution_id}/create_crm_record")
    assert run is not None and run.status == "rejected" and run.mode == "validation_required"
    decision = await ApprovalDecision.objects().get(ApprovalDecision.execution_id == execution_id)
    assert decision is not None and (decision.action, decision.reason) == ("rejected", "Wrong tier")

    duplicate = await refused(
        engine.decide(execution_id, "create_crm_record", BOB, "rejected", reason="again")
    )
    assert duplicate.kind == RefusalKind.NOT_WAITING


async def test_a_decision_on_a_step_that_is_not_waiting_is_refused_and_changes_nothing(
    engine: Engine,
) -> None:
    execution_id = await engine.start("customer_onboarding", PREMIUM, BOB)
    before = await waiting_at(engine, execution_id, "create_crm_record")

    early = await refused(
        engine.decide(execution_id, "setup_billing_account", CAROL, "approved",
                      typed_confirmation="CONFIRM BILLING")
    )  # fmt: skip
    assert early.kind == RefusalKind.NOT_WAITING
    assert "'setup_billing_account' is not waiting for approval (it is pending)" in early.message
    unknown = await refused(engine.decide(execution_id, "no_such_step", CAROL, "approved"))
    assert unknown.kind == RefusalKind.UNKNOWN_STEP
    after = await engine.timeline(execution_id)
    assert after.version == before.version  # refused updates never touch the workflow
    await engine.cancel(execution_id)
    assert (await finished(engine, execution_id)).status == "cancelled"


async def test_two_required_approvals_need_two_different_people(
    engine: Engine,
) -> None:
    from dataclasses import replace

    base = DEFINITIONS["customer_onboarding"]
    crm = replace(base.step("create_crm_record"), required_approvals=2)
    definition = replace(base, steps=[crm if s.id == crm.id else s for s in base.steps])
    two_person = Engine(engine.client, {base.id: definition}, engine.task_queue)
    execution_id = await two_person.start("customer_onboarding", PREMIUM, BOB)
    await waiting_at(two_person, execution_id, "create_crm_record")

    first = await two_person.decide(
        execution_id, "create_crm_record", BOB, "approved", confirmations=CRM_CONFIRMATIONS
    )
    assert (first.step_status, first.approvals, first.required_approvals) == (
        "waiting_approval", 1, 2,
    )  # fmt: skip
    again = await refused(
        two_person.decide(execution_id, "create_crm_record", BOB, "approved",
                          confirmations=CRM_CONFIRMATIONS)
    )  # fmt: skip
    assert again.kind == RefusalKind.NOT_WAITING and "already approved" in again.message
    second = await two_person.decide(
        execution_id, "create_crm_record", CAROL, "approved", confirmations=CRM_CONFIRMATIONS
    )
    assert second.step_status == "approved"
    await waiting_at(two_person, execution_id, "setup_billing_account")
    await two_person.cancel(execution_id)


async def test_switching_a_mode_while_an_execution_runs_changes_that_execution(
    engine: Engine,
) -> None:
    execution_id = await engine.start("customer_onboarding", PREMIUM, BOB)
    await waiting_at(engine, execution_id, "create_crm_record")
    # An admin lets billing run monitored (its ceiling) while this execution waits at step 3.
    await StepConfig.update({StepConfig.mode: "auto_monitored"}).where(
        (StepConfig.workflow_id == "customer_onboarding")
        & (StepConfig.step_id == "setup_billing_account")
    )
    await engine.decide(
        execution_id, "create_crm_record", BOB, "approved", confirmations=CRM_CONFIRMATIONS
    )

    timeline = await finished(engine, execution_id)
    assert timeline.status == "completed"
    billing = step(timeline, "setup_billing_account")
    assert billing.mode == "auto_monitored" and billing.approval is None
    assert await DemoBillingAccount.count() == 1


async def test_the_cli_signal_approves_and_an_invalid_signal_is_ignored_with_its_reason(
    engine: Engine, temporal_client: Client
) -> None:
    execution_id = await engine.start("customer_onboarding", PREMIUM, BOB)
    await waiting_at(engine, execution_id, "create_crm_record")
    address = temporal_client.service_client.config.target_host

    def signal(payload: dict[str, object]) -> None:
        subprocess.run(
            [str(Path(sys.executable).parent / "temporal"), "workflow", "signal",
             "--address", address, "--workflow-id", execution_id, "--name", "approve_step",
             "--input", json.dumps(payload)],
            check=True, capture_output=True, timeout=30,
        )  # fmt: skip

    signal({"step_id": "create_crm_record", "user_id": "vera", "action": "approved",
            "confirmations": CRM_CONFIRMATIONS})  # fmt: skip
    ignored = await eventually(
        lambda: engine.timeline(execution_id),
        lambda t: bool(step(t, "create_crm_record").ignored_signals),
    )
    assert step(ignored, "create_crm_record").status == "waiting_approval"
    assert "vera needs the approver role" in step(ignored, "create_crm_record").ignored_signals[0]

    signal({"step_id": "create_crm_record", "user_id": "carol", "action": "approved",
            "reason": "", "confirmations": CRM_CONFIRMATIONS, "typed_confirmation": ""})  # fmt: skip
    timeline = await waiting_at(engine, execution_id, "setup_billing_account")
    crm = step(timeline, "create_crm_record")
    assert crm.status == "completed" and crm.decisions[0].source == "cli"
    await engine.cancel(execution_id)
    await finished(engine, execution_id)
    sources = (
        await ApprovalDecision.select(
            ApprovalDecision.user_id, ApprovalDecision.accepted, ApprovalDecision.source
        )
        .where(ApprovalDecision.execution_id == execution_id)
        .order_by(ApprovalDecision.id)
    )
    assert [(d["user_id"], d["accepted"], d["source"]) for d in sources] == [
        ("vera", False, "cli"), ("carol", True, "cli"),
    ]  # fmt: skip


def signalled(user_id: str) -> Decision:
    """An approval of create_crm_record as `temporal workflow signal` sends it: no roles."""
    return Decision("create_crm_record", user_id, "approved", confirmations=CRM_CONFIRMATIONS)


async def ignored_then_accepted(
    engine: Engine, execution_id: str, temporal_client: Client, unknown: str, known: str
) -> None:
    """At create_crm_record, a signal from `unknown` is ignored with the reason under the step;
    then one from `known` is accepted (the step moves on); the execution is then cancelled."""
    await waiting_at(engine, execution_id, "create_crm_record")
    handle = temporal_client.get_workflow_handle(execution_id)
    await handle.signal(ExecutionWorkflow.approve_step, signalled(unknown))
    timeline = await eventually(
        lambda: engine.timeline(execution_id),
        lambda t: bool(step(t, "create_crm_record").ignored_signals),
    )
    assert step(timeline, "create_crm_record").status == "waiting_approval"
    [ignored] = step(timeline, "create_crm_record").ignored_signals
    assert f"unknown user {unknown!r}: name a known user or send their roles" in ignored

    await handle.signal(ExecutionWorkflow.approve_step, signalled(known))
    timeline = await waiting_at(engine, execution_id, "setup_billing_account")
    assert [d.user_id for d in step(timeline, "create_crm_record").decisions] == [known]
    await engine.cancel(execution_id)
    await finished(engine, execution_id)


async def test_a_signal_is_judged_by_the_users_the_execution_was_started_with(
    engine: Engine, temporal_client: Client
) -> None:
    dora = User("dora", "Dora Approver", with_implied([Role.APPROVER]))
    directory = Engine(engine.client, DEFINITIONS, engine.task_queue, users={"dora": dora})
    execution_id = await directory.start("customer_onboarding", PREMIUM, BOB)
    # Carol is a demo user, but not one this execution was given: the workflow consults no
    # table of its own, so her signal is ignored and the timeline says why.
    await ignored_then_accepted(directory, execution_id, temporal_client, "carol", "dora")


async def test_an_execution_started_before_known_users_knows_the_users_of_then(
    engine: Engine, temporal_client: Client
) -> None:
    # Its input has no known_users (as executions started by an older web process): signals
    # are judged by the engine's frozen copy of the users known then — the demo users.
    execution_id = f"before-known-users-{uuid.uuid4().hex[:8]}"
    await temporal_client.start_workflow(
        ExecutionWorkflow.run,
        ExecutionInput(execution_id, DEFINITIONS["customer_onboarding"], PREMIUM, "bob"),
        id=execution_id,
        task_queue=engine.task_queue,
    )
    await ignored_then_accepted(engine, execution_id, temporal_client, "dora", "carol")

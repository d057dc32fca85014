"""The action activities' contract with the workflow (`step_action`): asked to check the mode,
an activity reads it from PostgreSQL and runs the action only when the mode is automatic, and
reports the mode it ran in on success and on failure. Run in Temporal's ActivityEnvironment
against the real database."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from app.db.demo import DemoSystems
from app.db.records import Records
from app.db.tables import DemoContact, FaultInjection, StepConfig
from app.steps.seeding import seed_step_configs
from app.temporal.actions import ActionActivities, FaultSwitch, mode_of_failure
from app.temporal.contracts import ActionInput, ActionResult, ModeLookup
from tests.helpers import DEFINITIONS

CRM_PARAMS = {"email": "ada@example.com", "name": "Ada", "tier": "basic", "credit_limit": 1000}


def actions(fault_injection: bool = True) -> ActionActivities:
    """The action activities as a worker builds them (the test session injects faults)."""
    return ActionActivities(DemoSystems(), Records(), FaultSwitch(enabled=fault_injection))


async def set_mode(step_id: str, mode: str) -> ModeLookup:
    await seed_step_configs(DEFINITIONS.values())
    await StepConfig.update({StepConfig.mode: mode}).where(StepConfig.step_id == step_id)
    return ModeLookup("customer_onboarding", step_id, default_mode="always_auto")


def action_input(step_id: str, params: dict[str, object], lookup: ModeLookup | None) -> ActionInput:
    return ActionInput("exec-1", step_id, params, "customer_onboarding", check_mode=lookup)


async def test_an_automatic_mode_runs_the_action_and_reports_the_mode(database_url: str) -> None:
    lookup = await set_mode("create_crm_record", "auto_monitored")
    result: ActionResult = await ActivityEnvironment().run(
        actions().create_crm_record, action_input("create_crm_record", CRM_PARAMS, lookup)
    )
    assert (result.ran, result.mode) == (True, "auto_monitored")
    assert await DemoContact.count() == 1


@pytest.mark.parametrize("mode", ["validation_required", "always_manual"])
async def test_an_approval_mode_returns_before_the_action_touches_anything(
    database_url: str, mode: str
) -> None:
    lookup = await set_mode("create_crm_record", mode)
    result: ActionResult = await ActivityEnvironment().run(
        actions().create_crm_record, action_input("create_crm_record", CRM_PARAMS, lookup)
    )
    assert (result.ran, result.mode) == (False, mode)
    assert await DemoContact.count() == 0


async def test_without_a_mode_check_the_action_just_runs(database_url: str) -> None:
    # After an approval the workflow knows the mode: the activity does not read it again.
    await set_mode("create_crm_record", "validation_required")
    result: ActionResult = await ActivityEnvironment().run(
        actions().create_crm_record, action_input("create_crm_record", CRM_PARAMS, None)
    )
    assert (result.ran, result.mode) == (True, "")
    assert await DemoContact.count() == 1


async def test_a_failure_keeps_its_message_and_retry_flag_and_names_the_mode(
    database_url: str,
) -> None:
    lookup = await set_mode("validate_email", "always_auto")
    with pytest.raises(ApplicationError) as failure:
        await ActivityEnvironment().run(
            actions().validate_email,
            action_input("validate_email", {"email": "not an address"}, lookup),
        )
    assert failure.value.message == "'not an address' is not a valid email address"
    assert failure.value.non_retryable
    assert mode_of_failure(failure.value) == "always_auto"


async def test_an_unexpected_exception_becomes_an_error_of_its_type_with_the_mode(
    database_url: str,
) -> None:
    lookup = await set_mode("create_crm_record", "always_auto")
    with pytest.raises(ApplicationError) as failure:
        # No "tier": the action's own KeyError, reported as Temporal would, plus the mode.
        await ActivityEnvironment().run(
            actions().create_crm_record,
            action_input("create_crm_record", {"email": "x@y.z", "name": "X"}, lookup),  # fmt: skip
        )
    assert failure.value.type == "KeyError" and not failure.value.non_retryable
    assert mode_of_failure(failure.value) == "always_auto"


@pytest.mark.parametrize("enabled", [True, False])
async def test_injected_faults_apply_only_where_fault_injection_is_on(
    database_url: str, enabled: bool
) -> None:
    lookup = await set_mode("validate_email", "always_auto")
    await FaultInjection.insert(
        FaultInjection(workflow_id="customer_onboarding", step_id="validate_email",
                       failure_rate=1.0, set_by="ada", set_at=datetime.now(UTC))
    )  # fmt: skip
    run = ActivityEnvironment().run(
        actions(enabled).validate_email,
        action_input("validate_email", {"email": "a@b.co"}, lookup),
    )
    if enabled:
        with pytest.raises(ApplicationError, match="injected fault"):
            await run
    else:
        assert (await run).ran  # production: the table is not even read


async def test_without_a_mode_check_a_failure_is_the_actions_own(database_url: str) -> None:
    with pytest.raises(ApplicationError) as failure:
        await ActivityEnvironment().run(
            actions().validate_email, action_input("validate_email", {"email": "nope"}, None)
        )
    assert mode_of_failure(failure.value) == ""

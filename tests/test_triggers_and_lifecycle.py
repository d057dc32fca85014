"""Definitions' `triggers:` and `key_input`, and the lifecycle check every start passes."""

from __future__ import annotations

import copy
from typing import Any

import httpx
import pytest
from temporalio.client import Client

from app.definitions.lifecycle import WorkflowLifecycle, WorkflowNotAccepting
from app.domain.definitions import DefinitionError, parse_definition
from app.domain.identity import DEMO_USERS
from app.domain.statuses import WorkflowState
from app.domain.triggers import seconds_of
from app.executions.service import ExecutionService
from app.settings import Settings
from app.temporal.actions import ACTION_NAMES
from tests.conftest import signed_in
from tests.test_definitions import onboarding
from tests.test_web import HTML


def with_triggers(triggers: Any, **top: Any) -> dict[str, Any]:
    raw = copy.deepcopy(onboarding())
    raw["triggers"] = triggers
    raw.update(top)
    return raw


def test_schedule_and_webhook_triggers_parse_with_defaults() -> None:
    raw = with_triggers(
        [
            {"type": "schedule", "id": "nightly", "cron": "0 2 * * *", "time_zone": "Europe/Paris",
             "input": {"name": "Nightly", "email": "n@example.com"}},
            {"type": "schedule", "interval": "2s", "input": {"name": "E", "email": "e@example.com"}},
            {"type": "webhook", "event": "customer.created",
             "input": {"email": "{{ trigger.email }}"}},
        ],
        key_input="name",
    )  # fmt: skip
    definition = parse_definition(raw, "x.yaml", ACTION_NAMES)
    nightly, every = definition.schedules
    assert nightly.cron == ["0 2 * * *"] and nightly.time_zone == "Europe/Paris"
    assert nightly.overlap == "skip" and nightly.catchup_window_seconds == 300
    assert every.id == "schedule-2" and every.interval_seconds == 2
    [hook] = definition.webhooks
    assert hook.events == ["customer.created"]
    assert hook.secret_env == "STEPLADDER_WEBHOOK_SECRET_CUSTOMER_ONBOARDING"
    assert hook.tolerance_seconds == 300
    assert definition.key_of({"name": "Ada"}) == "Ada"


@pytest.mark.parametrize(
    ("triggers", "problem"),
    [
        ([{"type": "cron"}], "needs type: schedule or type: webhook"),
        ([{"type": "schedule"}], "needs cron, interval or both"),
        ([{"type": "schedule", "interval": "soon"}], "interval must be a duration"),
        ([{"type": "schedule", "cron": "* *"}], "needs 5 fields"),
        ([{"type": "webhook", "secret": "hunter2"}], "never goes in the file"),
        ([{"type": "webhook"}, {"type": "webhook", "id": "b"}], "at most one webhook"),
        ([{"type": "schedule", "interval": 5, "colour": "red"}], "unknown key(s) colour"),
    ],
)
def test_bad_triggers_are_refused_naming_file_and_entry(triggers: Any, problem: str) -> None:
    with pytest.raises(DefinitionError) as refused:
        parse_definition(with_triggers(triggers), "orders.yaml", ACTION_NAMES)
    assert str(refused.value).startswith("orders.yaml")
    assert problem in str(refused.value)


def test_key_input_must_name_an_input_field() -> None:
    with pytest.raises(DefinitionError, match="key_input 'nope' is not an input field"):
        parse_definition(with_triggers([], key_input="nope"), "x.yaml", ACTION_NAMES)


def test_durations_read_units() -> None:
    assert seconds_of("500ms", "x") == 0.5
    assert seconds_of("5m", "x") == 300
    assert seconds_of(90, "x") == 90
    with pytest.raises(ValueError, match="more than zero"):
        seconds_of(0, "x")


async def test_a_paused_workflow_refuses_starts_and_resumes(
    database_url: str, temporal_client: Client, settings: Settings
) -> None:
    lifecycle = WorkflowLifecycle()
    definition = parse_definition(onboarding(), "x.yaml", ACTION_NAMES)
    service = ExecutionService(
        temporal_client, {definition.id: definition}, "no-worker-needed", lifecycle=lifecycle
    )
    data = {"name": "Ada", "email": "ada@example.com"}
    await lifecycle.set_state(definition.id, WorkflowState.PAUSED, "ada", "quarter close")
    with pytest.raises(WorkflowNotAccepting, match="paused by ada: quarter close"):
        await service.start(definition.id, data, DEMO_USERS["bob"])
    await lifecycle.set_state(definition.id, WorkflowState.ACTIVE, "ada")
    execution_id = await service.start(definition.id, data, DEMO_USERS["bob"], via="api")
    handle = temporal_client.get_workflow_handle(execution_id)
    await handle.terminate("test over")
    await lifecycle.set_state(definition.id, WorkflowState.ARCHIVED, "ada")
    with pytest.raises(WorkflowNotAccepting, match="archived"):
        await lifecycle.set_state(definition.id, WorkflowState.ACTIVE, "ada")
    assert (await lifecycle.states())[definition.id].state is WorkflowState.ARCHIVED


async def test_the_workflows_page_says_which_workflow_is_paused(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await WorkflowLifecycle().set_state(
        "customer_onboarding", WorkflowState.PAUSED, "ada", "quarter close"
    )
    page = await signed_in(client, settings, "vera").get("/workflows", headers=HTML)
    assert page.status_code == 200
    assert "<strong>Paused</strong> by ada: quarter close" in page.text
    await WorkflowLifecycle().set_state("customer_onboarding", WorkflowState.ACTIVE, "ada")
    again = await client.get("/workflows", headers=HTML)
    assert "Paused</strong>" not in again.text

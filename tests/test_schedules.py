"""Schedule triggers as real Temporal Schedules on the session's dev server: sync (create, update,
delete), runs recorded as executions, pause, trigger-now, and what `temporal schedule describe`
says."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client
from temporalio.worker import Replayer, Worker

from app.definitions.lifecycle import WorkflowLifecycle
from app.definitions.schedules import ScheduleSync
from app.definitions.schedules_control import ScheduleControl
from app.domain.definitions import DefinitionError, WorkflowDefinition, parse_definition
from app.domain.schedule_words import WORKFLOW_PAUSE_NOTE, schedule_id
from app.domain.statuses import WorkflowState
from app.domain.triggers import ScheduleTrigger
from app.executions.listing import ExecutionFilter, list_executions
from app.executions.service import ExecutionService
from app.settings import Settings
from app.temporal.actions import ACTION_NAMES
from app.temporal.worker import workflow_runner
from app.temporal.workflows import ExecutionWorkflow
from bench.scenarios import automate_every_step
from tests.helpers import DEFINITIONS, eventually
from tests.test_definitions import onboarding

INPUT = {"name": "Scheduled Sam", "email": "sam@example.com", "tier": "basic"}
TEMPORAL_CLI = str(Path(sys.executable).parent / "temporal")


def scheduled(interval: float = 2, **changes: Any) -> WorkflowDefinition:
    """customer_onboarding under a fresh id, with one interval schedule `tick`."""
    base = DEFINITIONS["customer_onboarding"]
    trigger = ScheduleTrigger(id="tick", interval_seconds=interval, input=dict(INPUT), **changes)
    return replace(base, id=f"sched_{uuid.uuid4().hex[:8]}", schedules=[trigger])


def services(
    temporal_client: Client, settings: Settings, *definitions: WorkflowDefinition
) -> tuple[ScheduleSync, ScheduleControl]:
    executions = ExecutionService(
        temporal_client, {d.id: d for d in definitions}, settings.task_queue
    )
    lifecycle = WorkflowLifecycle()
    return ScheduleSync(executions, lifecycle), ScheduleControl(executions, lifecycle)


async def recorded(workflow_id: str) -> int:
    return len(await list_executions(ExecutionFilter(workflow_id=workflow_id), limit=1000))


def describe_cli(settings: Settings, sid: str) -> dict[str, Any]:
    """`temporal schedule describe` against the session's server, as JSON."""
    done = subprocess.run(
        [TEMPORAL_CLI, "schedule", "describe", "--schedule-id", sid,
         "--address", settings.temporal_address, "--namespace", settings.temporal_namespace,
         "--output", "json"],
        capture_output=True, text=True, timeout=30, check=True,
    )  # fmt: skip
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def list_cli(settings: Settings) -> str:
    """`temporal schedule list` against the session's server."""
    done = subprocess.run(
        [TEMPORAL_CLI, "schedule", "list", "--address", settings.temporal_address,
         "--namespace", settings.temporal_namespace],
        capture_output=True, text=True, timeout=30, check=True,
    )  # fmt: skip
    return done.stdout


async def schedule_ids(temporal_client: Client) -> set[str]:
    return {s.id async for s in await temporal_client.list_schedules()}


async def test_an_interval_schedule_starts_executions_and_the_cli_agrees(
    temporal_client: Client, settings: Settings, worker: Worker, database_url: str
) -> None:
    definition = scheduled(interval=2)
    await automate_every_step(definition)  # runs end quickly: the overlap policy skips none
    sync, control = services(temporal_client, settings, definition)
    sid = schedule_id(definition.id, "tick")
    report = await sync.sync()
    assert sid in report.created
    try:
        await eventually(lambda: recorded(definition.id), lambda n: n >= 2, timeout=30)
        rows = await list_executions(ExecutionFilter(workflow_id=definition.id))
        assert all(row.started_by == "schedule:tick" for row in rows)
        assert all(row.execution_id.startswith(f"{definition.id}-tick-") for row in rows)
        described = describe_cli(settings, sid)
        spec = described["schedule"]["spec"]
        assert spec["interval"][0]["interval"] == "2s"
        policies = described["schedule"]["policies"]
        assert policies["overlapPolicy"] == "SCHEDULE_OVERLAP_POLICY_SKIP"
        assert policies["catchupWindow"] == "300s"
        action = described["schedule"]["action"]["startWorkflow"]
        assert action["workflowType"]["name"] == "StepladderExecution"
        assert action["taskQueue"]["name"] == settings.task_queue
        [view] = await control.views(definition.id)
        assert view.state == "running" and view.spec == "every 2 s (UTC)"
        assert len(view.next_runs) >= 2 and view.next_runs[0].tzinfo is not None
        assert view.recent_runs and view.recent_runs[0].url.startswith("/executions/")
        # Schedule-started (execution_id "" in the input): its history replays deterministically.
        run = temporal_client.get_workflow_handle(rows[-1].execution_id)
        await eventually(lambda: run.describe(), lambda d: d.close_time is not None)
        replayer = Replayer(workflows=[ExecutionWorkflow], workflow_runner=workflow_runner())
        await replayer.replay_workflow(await run.fetch_history())
        listed = await eventually(
            lambda: asyncio.to_thread(list_cli, settings), lambda out: sid in out
        )
        assert sid in listed
    finally:
        await temporal_client.get_schedule_handle(sid).delete()


async def test_pausing_a_schedule_stops_new_executions_and_trigger_now_starts_one(
    temporal_client: Client, settings: Settings, worker: Worker, database_url: str
) -> None:
    definition = scheduled(interval=1)
    await automate_every_step(definition)  # runs end quickly: the overlap policy skips none
    sync, control = services(temporal_client, settings, definition)
    sid = schedule_id(definition.id, "tick")
    await sync.sync()
    try:
        await eventually(lambda: recorded(definition.id), lambda n: n >= 1, timeout=30)
        await control.pause(definition.id, "tick", "ada")
        # A start already underway when the pause landed may still be recorded: let it settle.
        settled = await eventually(
            lambda: _stable_count(definition.id, 1.5), lambda pair: pair[0] == pair[1]
        )
        before = settled[1]
        await asyncio.sleep(3)  # three intervals: a running Schedule would start ~3 more
        assert await recorded(definition.id) == before
        assert describe_cli(settings, sid)["schedule"]["state"]["paused"] is True
        acted = await control.trigger_now(definition.id, "tick")
        assert acted.action == "triggered" and acted.state == "paused"
        await eventually(lambda: recorded(definition.id), lambda n: n == before + 1)
        resumed = await control.resume(definition.id, "tick", "ada")
        assert resumed.state == "running"
        assert describe_cli(settings, sid)["schedule"]["state"].get("paused", False) is False
    finally:
        await temporal_client.get_schedule_handle(sid).delete()


async def _stable_count(workflow_id: str, seconds: float) -> tuple[int, int]:
    first = await recorded(workflow_id)
    await asyncio.sleep(seconds)
    return first, await recorded(workflow_id)


async def test_editing_the_definition_and_resyncing_updates_the_schedule_and_removing_deletes(
    temporal_client: Client, settings: Settings, database_url: str
) -> None:
    definition = scheduled(interval=3600)
    sync, _ = services(temporal_client, settings, definition)
    sid = schedule_id(definition.id, "tick")
    assert sid in (await sync.sync()).created
    assert sid in (await sync.sync()).unchanged
    changed_input = {**INPUT, "name": "Renamed Rita"}
    tick = replace(definition.schedules[0], interval_seconds=7200, input=changed_input)
    edited = replace(definition, schedules=[tick])
    sync_edited, _ = services(temporal_client, settings, edited)
    assert sid in (await sync_edited.sync()).updated
    described = describe_cli(settings, sid)
    assert described["schedule"]["spec"]["interval"][0]["interval"] == "7200s"
    handle = temporal_client.get_schedule_handle(sid)
    action = (await handle.describe()).schedule.action
    assert "Renamed Rita" in str(action.args)  # type: ignore[attr-defined]
    gone, _ = services(temporal_client, settings)
    assert sid in (await gone.sync()).deleted
    assert sid not in await schedule_ids(temporal_client)


async def test_two_processes_syncing_at_once_both_succeed(
    temporal_client: Client, settings: Settings, database_url: str
) -> None:
    definition = scheduled(interval=3600)
    one, _ = services(temporal_client, settings, definition)
    two, _ = services(temporal_client, settings, definition)
    first, second = await asyncio.gather(one.sync(), two.sync())
    sid = schedule_id(definition.id, "tick")
    assert sid in first.created + second.created
    assert sid in first.created + first.unchanged + first.updated
    assert sid in second.created + second.unchanged + second.updated
    await temporal_client.get_schedule_handle(sid).delete()


async def test_pausing_the_workflow_pauses_its_schedules_and_resuming_restores_only_those(
    temporal_client: Client, settings: Settings, database_url: str
) -> None:
    base = scheduled(interval=3600)
    second = ScheduleTrigger(id="manual", interval_seconds=3600, input=dict(INPUT))
    definition = replace(base, schedules=[*base.schedules, second])
    sync, control = services(temporal_client, settings, definition)
    await sync.sync()
    tick, manual = (schedule_id(definition.id, t) for t in ("tick", "manual"))
    try:
        await control.pause(definition.id, "manual", "ada")  # paused by itself: stays paused
        paused = await control.set_workflow_state(definition.id, WorkflowState.PAUSED, "ada")
        assert paused.schedules == [tick]
        described = await temporal_client.get_schedule_handle(tick).describe()
        assert described.schedule.state.paused and described.schedule.state.note == (
            WORKFLOW_PAUSE_NOTE
        )
        # A sync while paused keeps it paused.
        await sync.sync()
        assert (await temporal_client.get_schedule_handle(tick).describe()).schedule.state.paused
        resumed = await control.set_workflow_state(definition.id, WorkflowState.ACTIVE, "ada")
        assert resumed.schedules == [tick]
        views = {v.trigger_id: v for v in await control.views(definition.id)}
        assert views["tick"].state == "running"
        assert views["manual"].state == "paused" and views["manual"].note == "paused by ada"
    finally:
        for sid in (tick, manual):
            await temporal_client.get_schedule_handle(sid).delete()


def test_a_schedule_whose_input_the_workflow_refuses_refuses_the_definition() -> None:
    raw = onboarding()
    raw["triggers"] = [{"type": "schedule", "id": "nightly", "cron": "0 2 * * *",
                        "input": {"name": "N", "email": "not-an-email"}}]  # fmt: skip
    with pytest.raises(DefinitionError, match=r"x\.yaml: trigger 'nightly' \(schedule\): input"):
        parse_definition(raw, "x.yaml", ACTION_NAMES)
    raw["triggers"][0]["input"] = {"name": " N ", "email": "n@example.com"}
    [nightly] = parse_definition(raw, "x.yaml", ACTION_NAMES).schedules
    assert nightly.input == {"name": "N", "email": "n@example.com", "tier": "basic"}


def test_a_schedule_in_an_unknown_time_zone_refuses_the_definition() -> None:
    raw = onboarding()
    raw["triggers"] = [{"type": "schedule", "id": "nightly", "cron": "0 2 * * *",
                        "time_zone": "Mars/Olympus", "input": INPUT}]  # fmt: skip
    with pytest.raises(DefinitionError, match=r"x\.yaml: trigger 'nightly'.*Mars/Olympus"):
        parse_definition(raw, "x.yaml", ACTION_NAMES)

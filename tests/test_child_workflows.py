"""Child workflows (`run:`, patch "child-workflows") on the real dev server: a child's approval
reaches the inbox and deciding it resumes the parent; cancelling the parent cancels the child;
a failing child fails the parent's step. At load: an unknown `run:` id and a cycle are refused,
naming file and step."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client
from temporalio.exceptions import ApplicationError
from temporalio.worker import Worker

from app.approvals.inbox import waiting_approvals
from app.db.tables import Execution
from app.definitions.loader import load_definitions
from app.domain.child_runs import link_children
from app.domain.definitions import DefinitionError, WorkflowDefinition, parse_definition
from app.domain.identity import DEMO_USERS
from app.settings import Settings
from app.steps.seeding import seed_step_configs
from app.steps.service import evaluate_after_outcome
from app.temporal.actions import ACTION_NAMES, ActionActivities, action_names, step_action
from app.temporal.children import child_execution_id
from app.temporal.contracts import ActionInput, ActionResult, StepState, Timeline
from app.temporal.worker import build_worker
from app.web.app import create_app
from tests.conftest import api_headers, http_client, signed_in
from tests.helpers import Engine, eventually, finished, waiting_at
from tests.test_web import HTML

BOB = DEMO_USERS["bob"]


class ChildTestActions(ActionActivities):
    @step_action("note")
    async def note(self, inp: ActionInput) -> ActionResult:
        return ActionResult(summary=f"noted {inp.params.get('text', '')}", data=inp.params)

    @step_action("fail")
    async def fail(self, inp: ActionInput) -> ActionResult:
        raise ApplicationError("the child's system said no", non_retryable=True)


ACTIONS = action_names(ChildTestActions)


def define(raw_steps: list[dict[str, Any]], workflow_id: str) -> dict[str, Any]:
    return {"id": workflow_id, "name": workflow_id.replace("_", " ").title(),
            "inputs": [{"name": "text", "required": False, "default": "hello"}],
            "steps": raw_steps}  # fmt: skip


def linked(*raws: dict[str, Any]) -> dict[str, WorkflowDefinition]:
    parsed = {raw["id"]: parse_definition(raw, f"{raw['id']}.yaml", ACTIONS) for raw in raws}
    return link_children(parsed, {k: f"{k}.yaml" for k in parsed})


def parent_and_child(child_steps: list[dict[str, Any]]) -> dict[str, WorkflowDefinition]:
    suffix = uuid.uuid4().hex[:6]
    child = define(child_steps, f"child_{suffix}")
    parent = define([
        {"id": "prepare", "name": "Prepare", "action": "note", "impact": "accessory",
         "params": {"text": "{{ input.text }}"}},
        {"id": "sub", "name": "Sub", "run": child["id"],
         "input": {"text": "from {{ steps.prepare.result.text }}"}},
        {"id": "after", "name": "After", "action": "note", "impact": "accessory",
         "params": {"text": "{{ steps.sub.result.status }}"}},
    ], f"parent_{suffix}")  # fmt: skip
    return linked(parent, child)


@asynccontextmanager
async def child_engine(
    temporal_client: Client, definitions: dict[str, WorkflowDefinition]
) -> AsyncIterator[Engine]:
    queue = f"child-{uuid.uuid4().hex[:8]}"
    await seed_step_configs(definitions.values())
    async with build_worker(temporal_client, queue, on_outcome=evaluate_after_outcome,
                            fault_injection=False, actions=ChildTestActions):  # fmt: skip
        yield Engine(temporal_client, definitions, queue)


def step(timeline: Timeline, step_id: str) -> StepState:
    return next(s for s in timeline.steps if s.id == step_id)


async def child_started(engine: Engine, execution_id: str, step_id: str) -> str:
    """The child execution's id, once the parent's step shows it started."""
    await eventually(
        lambda: engine.timeline(execution_id),
        lambda t: bool(step(t, step_id).child_execution_id) or t.finished,
    )
    return child_execution_id(execution_id, step_id)


def parent_id(definitions: dict[str, WorkflowDefinition]) -> str:
    return next(k for k in definitions if k.startswith("parent_"))


async def test_a_childs_approval_reaches_the_inbox_and_resumes_the_parent(
    temporal_client: Client, database_url: str
) -> None:
    definitions = parent_and_child(
        [
            {
                "id": "gate",
                "name": "Gate",
                "action": "note",
                "impact": "write",
                "params": {"text": "{{ input.text }}"},
            }
        ]  # fmt: skip
    )
    async with child_engine(temporal_client, definitions) as engine:
        execution_id = await engine.start(parent_id(definitions), {"text": "hi"}, BOB)
        child_id = await child_started(engine, execution_id, "sub")
        child = await waiting_at(engine, child_id, "gate")
        assert child.started_by == "bob"
        # The parent's step runs while the child waits, and links to it.
        parent = await engine.timeline(execution_id)
        assert step(parent, "sub").status == "running"
        assert step(parent, "sub").child_execution_id == child_id
        # The child's approval is in the inbox like any other (its own step_runs rows).
        inbox = await eventually(
            lambda: waiting_approvals(engine.definitions),
            lambda items: any(i.execution_id == child_id for i in items),
        )
        assert [i.step_id for i in inbox if i.execution_id == child_id] == ["gate"]
        await engine.decide(child_id, "gate", BOB, "approved")
        parent = await finished(engine, execution_id)
        child = await engine.timeline(child_id)
    assert child.status == "completed"
    assert step(child, "gate").result["text"] == "from hi"  # the templated input
    assert parent.status == "completed", parent.outcome
    sub = step(parent, "sub")
    assert sub.status == "completed"
    assert sub.result == {"execution_id": child_id, "workflow_id": child.workflow_id,
                          "status": "completed", "outcome": "All steps completed"}  # fmt: skip
    assert sub.summary == (
        f"Completed in child execution {child_id} ({child.workflow_name}): All steps completed"
    )
    assert step(parent, "after").result["text"] == "completed"
    rows = await Execution.select(Execution.execution_id, Execution.status).where(
        Execution.execution_id.is_in([execution_id, child_id])
    )
    assert {r["execution_id"]: r["status"] for r in rows} == {
        execution_id: "completed", child_id: "completed"
    }  # fmt: skip


async def test_cancelling_the_parent_cancels_the_child(
    temporal_client: Client, database_url: str
) -> None:
    definitions = parent_and_child(
        [{"id": "gate", "name": "Gate", "action": "note", "impact": "write"}]
    )
    async with child_engine(temporal_client, definitions) as engine:
        execution_id = await engine.start(parent_id(definitions), {}, BOB)
        child_id = await child_started(engine, execution_id, "sub")
        await waiting_at(engine, child_id, "gate")
        await engine.cancel(execution_id)
        parent = await finished(engine, execution_id)
        child = await finished(engine, child_id)
    assert parent.status == "cancelled"
    assert step(parent, "sub").status == "cancelled"
    assert step(parent, "after").status == "pending"
    assert child.status == "cancelled"
    assert step(child, "gate").status == "cancelled"


async def test_a_failing_child_fails_the_parents_step(
    temporal_client: Client, database_url: str
) -> None:
    definitions = parent_and_child(
        [{"id": "boom", "name": "Boom", "action": "fail", "impact": "accessory"}]
    )
    async with child_engine(temporal_client, definitions) as engine:
        execution_id = await engine.start(parent_id(definitions), {}, BOB)
        parent = await finished(engine, execution_id)
        child = await engine.timeline(child_execution_id(execution_id, "sub"))
    assert child.status == "failed"
    assert step(child, "boom").error == "the child's system said no"
    assert parent.status == "failed"
    sub = step(parent, "sub")
    assert sub.status == "failed"
    assert sub.error == (
        f"Failed in child execution {child.execution_id} ({child.workflow_name}): "
        "Boom failed: the child's system said no"
    )
    assert step(parent, "after").status == "pending"


def test_an_unknown_run_id_is_refused_naming_file_and_step() -> None:
    parent = define([{"id": "sub", "name": "Sub", "run": "nowhere"}], "lonely")
    with pytest.raises(DefinitionError, match=r"lonely\.yaml, step 'sub': run 'nowhere'"):
        linked(parent)


def test_a_cycle_of_run_steps_is_refused() -> None:
    a = define([{"id": "to_b", "name": "To B", "run": "wf_b"}], "wf_a")
    b = define([{"id": "to_a", "name": "To A", "run": "wf_a"}], "wf_b")
    with pytest.raises(DefinitionError, match=r"step 'to_\w': run: steps form a cycle"):
        linked(a, b)
    selfish = define([{"id": "me", "name": "Me", "run": "wf_self"}], "wf_self")
    with pytest.raises(DefinitionError, match="cycle"):
        linked(selfish)


def test_run_input_must_name_the_childs_inputs_and_action_is_not_allowed_beside_run() -> None:
    child = define([{"id": "x", "name": "X", "action": "note", "impact": "read"}], "kid")
    parent = define([{"id": "sub", "name": "Sub", "run": "kid", "input": {"colour": "red"}}], "p")
    with pytest.raises(DefinitionError, match=r"p\.yaml, step 'sub': input colour"):
        linked(parent, child)
    both = define([{"id": "sub", "name": "Sub", "run": "kid", "action": "note"}], "q")
    with pytest.raises(DefinitionError, match="either 'action' or 'run'"):
        parse_definition(both, "q.yaml", ACTIONS)


def test_the_loader_embeds_children_and_refuses_an_unknown_one(tmp_path: Path) -> None:
    (tmp_path / "kid.yaml").write_text(
        "id: kid\nname: Kid\nsteps:\n  - {id: x, name: X, action: note, impact: read}\n"
    )
    (tmp_path / "mum.json").write_text(
        '{"id": "mum", "name": "Mum", "steps": [{"id": "s", "name": "S", "run": "kid"}]}'
    )
    loaded = load_definitions(tmp_path, ACTIONS)
    assert list(loaded["mum"].children) == ["kid"]
    assert loaded["mum"].steps[0].impact == "read"
    (tmp_path / "kid.yaml").unlink()
    with pytest.raises(DefinitionError, match=r"mum\.json, step 's': run 'kid'"):
        load_definitions(tmp_path, ACTIONS)


async def test_the_parents_timeline_page_links_to_the_child(
    settings: Settings, temporal_client: Client, worker: Worker, tmp_path: Path
) -> None:
    # Through the app: a folder of two files, started from the JSON API on the session worker.
    (tmp_path / "greet.yaml").write_text(
        "id: greet\nname: Greet\ninputs: [{name: email, type: email}]\nsteps:\n"
        "  - {id: mail, name: Mail, action: send_email, impact: accessory,"
        " params: {to: '{{ input.email }}', subject: Hello}}\n"
    )
    (tmp_path / "outer.yaml").write_text(
        "id: outer\nname: Outer\ninputs: [{name: email, type: email}]\nsteps:\n"
        "  - {id: greet_them, name: Greet them, run: greet, input: {email: '{{ input.email }}'}}\n"
    )
    app = create_app(replace(settings, definitions_dir=tmp_path, start_rate_limit=None))
    definitions = load_definitions(tmp_path, ACTION_NAMES)
    await seed_step_configs(definitions.values())
    body = {"workflow_id": "outer", "workflow_data": {"email": "o@example.com"}}
    async with http_client(app) as client:
        started = await client.post("/api/workflows/executions/start", json=body,
                                    headers=api_headers("carol"))  # fmt: skip
        assert started.status_code == 201, started.text
        execution_id = started.json()["execution_id"]
        engine = Engine(temporal_client, definitions, settings.task_queue)
        assert (await finished(engine, execution_id)).status == "completed"
        child_id = child_execution_id(execution_id, "greet_them")
        signed_in(client, settings, "vera")
        page = await client.get(f"/executions/{execution_id}", headers=HTML)
        assert page.status_code == 200, page.text
        assert f'href="/executions/{child_id}"' in page.text
        assert "Child workflow greet" in page.text and "(completed)" in page.text
        outer = await client.get("/workflows/outer", headers=HTML)
        assert 'runs <a href="/workflows/greet">greet</a> (child workflow)' in outer.text
        api = await client.get(f"/api/workflows/executions/{execution_id}",
                               headers=api_headers("vera"))  # fmt: skip
        step_json = api.json()["steps"][0]
        assert (step_json["child_execution_id"], step_json["child_workflow_id"]) == (
            child_id,
            "greet",
        )
        child = await client.get(
            f"/api/workflows/executions/{child_id}", headers=api_headers("vera")
        )
        assert child.status_code == 200 and child.json()["status"] == "completed"


async def test_a_failing_branch_cancels_a_child_running_beside_it(
    temporal_client: Client, database_url: str
) -> None:
    # Side by side (depends_on): a branch that fails stops the execution; the `run:` branch
    # waiting in its child ends cancelled, and so does the child.
    suffix = uuid.uuid4().hex[:6]
    child = define([{"id": "gate", "name": "Gate", "action": "note", "impact": "write"}],
                   f"child_{suffix}")  # fmt: skip
    parent = define([
        {"id": "sub", "name": "Sub", "run": child["id"], "depends_on": []},
        {"id": "boom", "name": "Boom", "action": "fail", "impact": "accessory",
         "depends_on": ["wait_a_moment"]},
        {"id": "wait_a_moment", "name": "Wait", "action": "note", "impact": "write",
         "depends_on": []},
    ], f"parent_{suffix}")  # fmt: skip
    definitions = linked(parent, child)
    async with child_engine(temporal_client, definitions) as engine:
        execution_id = await engine.start(parent["id"], {}, BOB)
        child_id = await child_started(engine, execution_id, "sub")
        await waiting_at(engine, child_id, "gate")
        await waiting_at(engine, execution_id, "wait_a_moment")
        await engine.decide(execution_id, "wait_a_moment", BOB, "approved")
        timeline = await finished(engine, execution_id)
        child_timeline = await finished(engine, child_id)
    assert timeline.status == "failed", timeline.outcome
    assert step(timeline, "sub").status == "cancelled"
    assert step(timeline, "sub").summary == "Cancelled: Boom failed"
    assert child_timeline.status == "cancelled"

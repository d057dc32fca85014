"""The seeds' API paths and bodies, exactly as they wrote them, against the real PostgreSQL and
Temporal dev server: execute with parameters, the timeline as JSON when asked, the workflows
list and detail, and `run/` with trigger_data."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

import httpx
import pytest
from litestar import Litestar
from temporalio.client import Client
from temporalio.worker import Worker

from app.definitions.lifecycle import WorkflowLifecycle
from app.domain.definitions import parse_definition
from app.domain.statuses import WorkflowState
from app.settings import Settings
from app.temporal.actions import ACTION_NAMES
from app.temporal.contracts import ExecutionInput
from app.web.app import create_app
from tests.conftest import api_headers, http_client, signed_in
from tests.helpers import eventually
from tests.test_definitions import onboarding

JOHN = {"name": "John Doe", "email": "john@example.com", "tier": "premium"}
JSON = {**api_headers("bob"), "accept": "application/json"}


@asynccontextmanager
async def own_workflow(
    settings: Settings, **top: Any
) -> AsyncIterator[tuple[str, httpx.AsyncClient]]:
    """An app serving customer onboarding under a workflow id of this test's own (counts and
    recent executions see no other test's executions, some of which still run), and its client."""
    raw = {**onboarding(), "id": f"onboarding_{uuid.uuid4().hex[:8]}", **top}
    definition = parse_definition(raw, "onboarding.yaml", ACTION_NAMES)
    app = create_app(settings, definitions={definition.id: definition})
    async with http_client(app) as client:
        yield definition.id, client


async def started_input(temporal_client: Client, execution_id: str) -> ExecutionInput:
    """What the execution's workflow was started with (its first history event)."""
    history = await temporal_client.get_workflow_handle(execution_id).fetch_history()
    started = history.events[0].workflow_execution_started_event_attributes
    [value] = await temporal_client.data_converter.decode(
        list(started.input.payloads), [ExecutionInput]
    )
    assert isinstance(value, ExecutionInput)
    return value


@pytest.mark.parametrize("slash", ["", "/"])
async def test_execute_with_parameters_starts_and_the_timeline_reads_as_json(
    client: httpx.AsyncClient, temporal_client: Client, settings: Settings, slash: str
) -> None:
    response = await client.post(
        f"/executions/workflows/customer_onboarding/execute{slash}",
        json={"parameters": JOHN},
        headers=api_headers("bob"),
    )
    assert response.status_code == 202, response.text
    body = response.json()
    execution_id = body["execution_id"]
    assert execution_id.startswith("customer_onboarding-")
    assert body["status"] == "running"
    assert body["timeline_url"] == f"/executions/{execution_id}"
    started = await started_input(temporal_client, execution_id)
    assert started.started_via == "api" and started.input["email"] == "john@example.com"

    as_json = await client.get(f"/executions/{execution_id}{slash}", headers=JSON)
    assert as_json.status_code == 200, as_json.text
    assert as_json.headers["content-type"].startswith("application/json")
    timeline = as_json.json()
    api = (await client.get(f"/api/workflows/executions/{execution_id}", headers=JSON)).json()
    assert set(timeline) == set(api)  # the same Timeline schema as the executions API
    assert timeline["execution_id"] == execution_id
    assert [s["id"] for s in timeline["steps"]] == [s["id"] for s in api["steps"]]
    # JSON preferred over HTML by quality: still JSON.
    weighted = {**JSON, "accept": "text/html;q=0.5, application/json"}
    assert (await client.get(f"/executions/{execution_id}", headers=weighted)).json()

    page = await signed_in(client, settings, "bob").get(
        f"/executions/{execution_id}", headers={"accept": "text/html,*/*;q=0.8"}
    )
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "John Doe" in page.text or execution_id in page.text


async def test_execute_refuses_bad_bodies_naming_the_field(client: httpx.AsyncClient) -> None:
    path = "/executions/workflows/customer_onboarding/execute"
    missing = await client.post(path, json={"name": "x"}, headers=api_headers("bob"))
    assert missing.status_code == 400 and "parameters" in missing.text
    invalid = await client.post(
        path,
        json={"parameters": {"name": "Jo", "email": "not-an-email"}},
        headers=api_headers("bob"),
    )
    assert invalid.status_code == 400
    assert "email" in invalid.json()["extra"]["errors"]
    unknown = await client.post(
        "/executions/workflows/nope/execute", json={"parameters": JOHN}, headers=api_headers("bob")
    )
    assert unknown.status_code == 404 and "nope" in unknown.json()["detail"]
    viewer = await client.post(path, json={"parameters": JOHN}, headers=api_headers("vera"))
    assert viewer.status_code == 403
    nobody = await client.post(path, json={"parameters": JOHN})
    assert nobody.status_code == 401
    assert nobody.headers["content-type"].startswith("application/json")
    absent = await client.get("/executions/customer_onboarding-000000000000", headers=JSON)
    assert absent.status_code == 404


@pytest.mark.parametrize("slash", ["", "/"])
async def test_run_with_trigger_data_answers_202_and_the_data_is_input_and_trigger(
    client: httpx.AsyncClient, temporal_client: Client, slash: str
) -> None:
    response = await client.post(
        f"/api/workflows/customer_onboarding/run{slash}",
        json={"trigger_data": JOHN},
        headers=api_headers("bob"),
    )
    assert response.status_code == 202, response.text
    execution_id = response.json()["execution_id"]
    started = await started_input(temporal_client, execution_id)
    assert started.started_via == "run"
    assert started.trigger == JOHN
    assert started.input["name"] == "John Doe"


async def test_run_refuses_bad_input_unknown_workflows_and_paused_ones(
    client: httpx.AsyncClient,
) -> None:
    path = "/api/workflows/customer_onboarding/run/"
    missing = await client.post(path, json={"parameters": JOHN}, headers=api_headers("bob"))
    assert missing.status_code == 400 and "trigger_data" in missing.text
    invalid = await client.post(
        path, json={"trigger_data": {"name": "Jo"}}, headers=api_headers("bob")
    )
    assert invalid.status_code == 400 and "email" in invalid.json()["extra"]["errors"]
    unknown = await client.post(
        "/api/workflows/nope/run/", json={"trigger_data": JOHN}, headers=api_headers("bob")
    )
    assert unknown.status_code == 404
    await WorkflowLifecycle().set_state(
        "customer_onboarding", WorkflowState.PAUSED, "ada", "quarter close"
    )
    paused = await client.post(path, json={"trigger_data": JOHN}, headers=api_headers("bob"))
    assert paused.status_code == 409 and "quarter close" in paused.json()["detail"]


async def test_the_workflows_list_has_status_execution_count_and_last_run(
    settings: Settings, worker: Worker, database_url: str
) -> None:
    async with own_workflow(settings) as (workflow_id, client):

        async def row_of_it() -> dict[str, Any]:
            listed = await client.get("/api/workflows/", headers=api_headers("vera"))
            assert listed.status_code == 200
            [row] = [w for w in listed.json() if w["id"] == workflow_id]
            return row

        row = await row_of_it()
        assert row["status"] == "active"
        assert row["execution_count"] == 0 and row["last_executed_at"] is None
        assert {"id", "name", "description", "inputs", "steps"} <= set(row)  # today's fields
        assert [f["name"] for f in row["inputs"]] == ["name", "email", "tier"]
        for _ in range(2):
            started = await client.post(
                f"/api/workflows/{workflow_id}/run/",
                json={"trigger_data": JOHN},
                headers=api_headers("bob"),
            )
            assert started.status_code == 202
        row = await eventually(row_of_it, lambda r: r["execution_count"] == 2)
        assert row["last_executed_at"] is not None
        no_slash = await client.get("/api/workflows", headers=api_headers("vera"))
        assert no_slash.json()[0]["execution_count"] == 2
        await WorkflowLifecycle().set_state(workflow_id, WorkflowState.PAUSED, "ada")
        assert (await row_of_it())["status"] == "paused"


async def test_a_workflows_detail_has_definition_recent_executions_and_triggers(
    settings: Settings, worker: Worker, database_url: str
) -> None:
    async with own_workflow(settings) as (workflow_id, client):
        started = await client.post(
            f"/api/workflows/{workflow_id}/run/",
            json={"trigger_data": JOHN},
            headers=api_headers("bob"),
        )
        execution_id = started.json()["execution_id"]

        async def detail() -> dict[str, Any]:
            response = await client.get(f"/api/workflows/{workflow_id}/", headers=JSON)
            assert response.status_code == 200, response.text
            body: dict[str, Any] = response.json()
            return body

        body = await eventually(detail, lambda b: b["execution_count"] == 1)
        assert body["id"] == workflow_id and body["status"] == "active"
        assert [s["id"] for s in body["steps"]][0] == "validate_email"
        [recent] = body["recent_executions"]
        assert recent["execution_id"] == execution_id
        assert recent["timeline_url"] == f"/executions/{execution_id}"
        # The onboarding's copy keeps its webhook trigger (definitions/customer_onboarding.yaml).
        [hook] = body["triggers"]
        assert hook["type"] == "webhook"
        assert hook["webhook_url"].endswith(f"/api/workflows/webhooks/{workflow_id}/")
        no_slash = await client.get(f"/api/workflows/{workflow_id}", headers=JSON)
        assert no_slash.json()["id"] == workflow_id
        assert (await client.get("/api/workflows/nope/", headers=JSON)).status_code == 404
        # The routes beside {id} are not swallowed by it.
        executions = await client.get(
            f"/api/workflows/executions?workflow_id={workflow_id}", headers=JSON
        )
        assert executions.status_code == 200
        assert [e["execution_id"] for e in executions.json()] == [execution_id]
        assert (await client.get("/api/workflows/approvals", headers=JSON)).status_code == 200
        steps = await client.get(f"/api/workflows/{workflow_id}/steps", headers=JSON)
        assert steps.status_code == 200


async def test_triggers_show_the_webhook_url_and_the_schedule_spec(
    settings: Settings, worker: Worker, database_url: str
) -> None:
    raw = onboarding()
    raw["triggers"] = [
        {"type": "schedule", "id": "nightly", "cron": "0 2 * * *", "time_zone": "Europe/Paris",
         "input": {"name": "Nightly", "email": "n@example.com"}},
        {"type": "webhook", "events": ["customer.created"]},
    ]  # fmt: skip
    definition = parse_definition(raw, "onboarding.yaml", ACTION_NAMES)
    app: Litestar = create_app(
        replace(settings, path_prefix="/stepladder"), definitions={definition.id: definition}
    )
    async with http_client(app) as client:
        response = await client.get(f"/api/workflows/{definition.id}/", headers=JSON)
    assert response.status_code == 200, response.text
    schedule, webhook = response.json()["triggers"]
    assert schedule == {
        "type": "schedule", "id": "nightly", "webhook_url": None, "events": [],
        "cron": ["0 2 * * *"], "interval_seconds": None, "time_zone": "Europe/Paris",
        "overlap": "skip", "paused": False,
        # Validated and normalised at load: the input's defaults filled in.
        "input": {"name": "Nightly", "email": "n@example.com", "tier": "basic"},
    }  # fmt: skip
    assert webhook["type"] == "webhook" and webhook["events"] == ["customer.created"]
    assert webhook["webhook_url"] == (
        f"http://testserver.local/stepladder/api/workflows/webhooks/{definition.id}/"
    )


async def test_the_openapi_documents_the_seeds_paths_with_examples(app: Litestar) -> None:
    async with http_client(app) as client:
        schema = (await client.get("/schema/openapi.json")).json()
    paths = schema["paths"]
    execute = paths["/executions/workflows/{workflow_id}/execute"]["post"]
    body = execute["requestBody"]["content"]["application/json"]["schema"]
    assert body["examples"][0]["parameters"]["email"] == "john@example.com"
    accepted = execute["responses"]["202"]["content"]["application/json"]
    assert accepted["schema"] == {"$ref": "#/components/schemas/WorkflowStarted"}
    assert any(e["value"]["status"] == "running" for e in accepted["examples"].values())
    run = paths["/api/workflows/{workflow_id}/run"]["post"]
    assert (
        "trigger_data" in run["requestBody"]["content"]["application/json"]["schema"]["examples"][0]
    )
    assert {"202", "400", "404", "409"} <= set(run["responses"])
    detail = paths["/api/workflows/{workflow_id}"]["get"]["responses"]["200"]
    assert detail["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/WorkflowDetail"
    }
    listed = paths["/api/workflows"]["get"]["responses"]["200"]["content"]["application/json"]
    assert listed["schema"]["items"] == {"$ref": "#/components/schemas/WorkflowSummary"}
    summary = schema["components"]["schemas"]["WorkflowSummary"]["properties"]
    assert {"status", "execution_count", "last_executed_at", "inputs", "steps"} <= set(summary)
    timeline = paths["/executions/{execution_id}"]["get"]["responses"]["200"]
    assert timeline["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Timeline"
    }


async def test_a_bearer_token_executes_and_reads_the_timeline_as_json(
    client: httpx.AsyncClient,
) -> None:
    created = await client.post(
        "/api/tokens", json={"user": "seed-bot", "role": "approver"}, headers=api_headers("ada")
    )
    token = {"authorization": f"Bearer {created.json()['secret']}"}
    started = await client.post(
        "/executions/workflows/customer_onboarding/execute/",
        json={"parameters": JOHN},
        headers=token,
    )
    assert started.status_code == 202, started.text
    execution_id = started.json()["execution_id"]
    read = await client.get(
        f"/executions/{execution_id}", headers={**token, "accept": "application/json"}
    )
    assert read.status_code == 200 and read.json()["started_by"] == "seed-bot"
    run = await client.post(
        "/api/workflows/customer_onboarding/run/", json={"trigger_data": JOHN}, headers=token
    )
    assert run.status_code == 202

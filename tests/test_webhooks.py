"""Signed webhooks (issue 13): the raw body's HMAC-SHA256 is verified, a stale timestamp and a
bad signature get 401, the same event twice starts one execution, the event filter ignores
other events, a paused workflow answers 409 — against the session's real Temporal and worker."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import httpx
import pytest
from temporalio.client import Client
from temporalio.worker import Worker

from app.definitions.lifecycle import WorkflowLifecycle
from app.domain import webhooks
from app.domain.definitions import parse_definition
from app.domain.statuses import WorkflowState
from app.settings import Settings
from app.temporal.actions import ACTION_NAMES
from app.web.app import create_app
from tests.conftest import http_client
from tests.helpers import eventually
from tests.test_definitions import onboarding

WORKFLOW = "hooked_onboarding"
SECRET = "whsec-test-0123456789abcdef"
URL = f"/api/workflows/webhooks/{WORKFLOW}/"


def hooked_definition() -> Any:
    raw = onboarding()
    raw["id"] = WORKFLOW
    raw["triggers"] = [
        {
            "type": "webhook",
            "events": ["customer.created"],
            "input": {
                "name": "{{ trigger.customer.name }}",
                "email": "{{ trigger.customer.email }}",
                "tier": "premium",
            },
            "tolerance": "5m",
        }
    ]
    return parse_definition(raw, "hooked.yaml", ACTION_NAMES)


@pytest.fixture
async def hooks(settings: Settings, worker: Worker) -> AsyncIterator[httpx.AsyncClient]:
    """The app with a webhook-triggered workflow whose secret comes from settings."""
    app = create_app(
        replace(settings, webhook_secrets={WORKFLOW: SECRET}),
        definitions={WORKFLOW: hooked_definition()},
    )
    async with http_client(app) as client:
        yield client


def delivery(
    payload: Any, *, secret: str = SECRET, sent_at: float | None = None, event_id: str = ""
) -> tuple[bytes, dict[str, str]]:
    """A body and the headers a sender signs it with (the README's recipe)."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    headers = {
        "content-type": "application/json",
        "X-Timestamp": str(int(sent_at if sent_at is not None else time.time())),
        "X-Signature": "sha256=" + webhooks.sign(secret, body),
    }
    if event_id:
        headers["X-Event-Id"] = event_id
    return body, headers


def order(event_id: str, name: str = "Grace Hopper") -> dict[str, Any]:
    return {
        "id": event_id,
        "type": "customer.created",
        "data": {"customer": {"name": name, "email": "grace@example.com"}},
    }


async def test_a_signed_webhook_starts_one_execution_with_the_trigger_data(
    hooks: httpx.AsyncClient, temporal_client: Client
) -> None:
    body, headers = delivery(order("evt-1"))
    response = await hooks.post(URL, content=body, headers=headers)
    assert response.status_code == 202, response.text
    answer = response.json()
    assert answer["status"] == "started" and answer["duplicate"] is False
    execution_id = answer["execution_id"]
    assert execution_id == webhooks.execution_id_for(WORKFLOW, "evt-1")

    timeline = await eventually(
        lambda: hooks.get(f"/api/workflows/executions/{execution_id}", headers={
            "X-Stepladder-User": "vera"}),
        lambda r: r.status_code == 200
        and any(s["status"] == "completed" for s in r.json()["steps"]),
    )  # fmt: skip
    assert timeline.json()["started_by"] == "webhook"
    assert "grace@example.com" in timeline.text, "the trigger's data reaches the steps"
    # The trigger's `input:` mapping rendered {{ trigger.customer.* }} into the input.
    history = await temporal_client.get_workflow_handle(execution_id).fetch_history()
    started = history.events[0].workflow_execution_started_event_attributes
    [payload] = started.input.payloads
    sent = json.loads(payload.data)
    assert sent["input"] == {
        "name": "Grace Hopper",
        "email": "grace@example.com",
        "tier": "premium",
    }
    assert sent["started_via"] == "webhook"
    assert sent["trigger"] == {"customer": {"name": "Grace Hopper", "email": "grace@example.com"}}
    await temporal_client.get_workflow_handle(execution_id).terminate("test over")


async def test_the_same_event_resent_starts_no_second_execution(
    hooks: httpx.AsyncClient, temporal_client: Client
) -> None:
    body, headers = delivery(order("evt-dup"))
    first = await hooks.post(URL, content=body, headers=headers)
    assert first.status_code == 202, first.text
    execution_id = first.json()["execution_id"]
    # Even once the first run is over, the event id is never started again.
    await temporal_client.get_workflow_handle(execution_id).terminate("test over")
    again_body, again_headers = delivery(order("evt-dup", name="Someone Else"))
    again = await hooks.post(URL.rstrip("/"), content=again_body, headers=again_headers)
    assert again.status_code == 202, again.text
    assert again.json()["execution_id"] == execution_id
    assert again.json()["duplicate"] is True
    runs = [run async for run in temporal_client.list_workflows(f"WorkflowId = '{execution_id}'")]
    assert len(runs) == 1


async def test_the_event_id_header_is_the_idempotency_key_too(hooks: httpx.AsyncClient) -> None:
    payload = {"type": "customer.created", "data": order("")["data"]}
    body, headers = delivery(payload, event_id="hdr-7")
    first = await hooks.post(URL, content=body, headers=headers)
    assert first.json()["execution_id"] == webhooks.execution_id_for(WORKFLOW, "hdr-7")


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"sent_at": time.time() - 3600}, "replayed or stale"),
        ({"sent_at": time.time() + 3600}, "replayed or stale"),
        ({"secret": "not-the-secret"}, "missing or wrong signature"),
    ],
)
async def test_a_stale_timestamp_or_a_bad_signature_gets_401(
    hooks: httpx.AsyncClient, change: dict[str, Any], why: str
) -> None:
    body, headers = delivery(order("evt-401"), **change)
    response = await hooks.post(URL, content=body, headers=headers)
    assert response.status_code == 401
    assert why in response.json()["detail"]


async def test_a_missing_signature_gets_401_and_a_tampered_body_too(
    hooks: httpx.AsyncClient,
) -> None:
    body, headers = delivery(order("evt-x"))
    unsigned = {k: v for k, v in headers.items() if k != "X-Signature"}
    assert (await hooks.post(URL, content=body, headers=unsigned)).status_code == 401
    tampered = body.replace(b"Grace", b"Grack")
    assert (await hooks.post(URL, content=tampered, headers=headers)).status_code == 401


async def test_a_timestamp_bound_signature_is_accepted(hooks: httpx.AsyncClient) -> None:
    body = json.dumps(order("evt-bound")).encode()
    sent_at = str(int(time.time()))
    headers = {"X-Timestamp": sent_at, "X-Signature": webhooks.sign(SECRET, body, sent_at)}
    response = await hooks.post(URL, content=body, headers=headers)
    assert response.status_code == 202, response.text


async def test_a_body_that_is_not_json_gets_400(hooks: httpx.AsyncClient) -> None:
    for bad in (b"not json {", b"[1, 2]"):
        body, headers = delivery(bad)
        response = await hooks.post(URL, content=body, headers=headers)
        assert response.status_code == 400, response.text


async def test_another_event_type_is_ignored_with_the_reason(hooks: httpx.AsyncClient) -> None:
    payload = {**order("evt-other"), "type": "customer.deleted"}
    body, headers = delivery(payload)
    response = await hooks.post(URL, content=body, headers=headers)
    assert response.status_code == 202
    assert response.json()["status"] == "ignored"
    assert response.json()["reason"] == ("event 'customer.deleted' is not one of customer.created")
    assert response.json()["execution_id"] == ""


async def test_input_the_trigger_cannot_make_gets_422_naming_the_field(
    hooks: httpx.AsyncClient,
) -> None:
    payload = order("evt-422")
    payload["data"]["customer"]["email"] = "not-an-email"
    body, headers = delivery(payload)
    response = await hooks.post(URL, content=body, headers=headers)
    assert response.status_code == 422, response.text
    assert "email" in response.json()["extra"]["errors"]


async def test_a_paused_workflow_answers_409(hooks: httpx.AsyncClient) -> None:
    await WorkflowLifecycle().set_state(WORKFLOW, WorkflowState.PAUSED, "ada", "migration")
    body, headers = delivery(order("evt-paused"))
    response = await hooks.post(URL, content=body, headers=headers)
    assert response.status_code == 409
    assert "paused" in response.json()["detail"]


async def test_unknown_workflows_and_workflows_without_a_webhook_get_404(
    settings: Settings, worker: Worker
) -> None:
    plain = onboarding()
    plain["id"] = "no_hooks"
    plain.pop("triggers", None)
    app = create_app(
        replace(settings, webhook_secrets={"no_hooks": SECRET}),
        definitions={"no_hooks": parse_definition(plain, "plain.yaml", ACTION_NAMES)},
    )
    body, headers = delivery(order("evt-404"))
    async with http_client(app) as sender:
        for path in ("/api/workflows/webhooks/nope/", "/api/workflows/webhooks/no_hooks/"):
            assert (await sender.post(path, content=body, headers=headers)).status_code == 404


async def test_a_webhook_without_a_secret_on_the_server_answers_503(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The shipped customer_onboarding has a webhook; its secret variable is not set here.
    monkeypatch.delenv("STEPLADDER_WEBHOOK_SECRET_CUSTOMER_ONBOARDING", raising=False)
    body, headers = delivery(order("evt-503"))
    response = await client.post(
        "/api/workflows/webhooks/customer_onboarding/", content=body, headers=headers
    )
    assert response.status_code == 503
    assert "not configured" in response.json()["detail"]
    assert "STEPLADDER_WEBHOOK" not in response.text, "the server's set-up is not the caller's"


async def test_the_shipped_workflow_starts_from_a_webhook_signed_with_its_environment_secret(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch, temporal_client: Client
) -> None:
    monkeypatch.setenv("STEPLADDER_WEBHOOK_SECRET_CUSTOMER_ONBOARDING", "env-secret-42")
    payload = {"id": "crm-1", "data": {"name": "Env Hook", "email": "env@example.com"}}
    body, headers = delivery(payload, secret="env-secret-42")
    response = await client.post(
        "/api/workflows/webhooks/customer_onboarding", content=body, headers=headers
    )
    assert response.status_code == 202, response.text
    execution_id = response.json()["execution_id"]
    timeline = await client.get(
        f"/api/workflows/executions/{execution_id}", headers={"X-Stepladder-User": "vera"}
    )
    assert timeline.json()["started_by"] == "webhook"
    await temporal_client.get_workflow_handle(execution_id).terminate("test over")


@pytest.mark.parametrize(
    "header",
    [
        webhooks.sign(SECRET, b'{"a":1}'),
        "sha256=" + webhooks.sign(SECRET, b'{"a":1}'),
        "SHA256=" + webhooks.sign(SECRET, b'{"a":1}').upper(),
    ],
)
def test_the_signature_is_hex_with_or_without_the_sha256_prefix(header: str) -> None:
    assert webhooks.signature_valid(SECRET, b'{"a":1}', header)
    assert not webhooks.signature_valid(SECRET, b'{"a":2}', header)
    assert not webhooks.signature_valid("other", b'{"a":1}', header)


def test_timestamps_read_seconds_milliseconds_and_iso() -> None:
    assert webhooks.timestamp_seconds("1800000000") == 1_800_000_000
    assert webhooks.timestamp_seconds("1800000000000") == 1_800_000_000
    assert webhooks.timestamp_seconds("2027-01-15T08:00:00Z") == 1_800_000_000
    assert webhooks.timestamp_seconds("2027-01-15T08:00:00") is None, "a zone is needed"
    assert webhooks.timestamp_seconds("yesterday") is None
    assert webhooks.within_tolerance(1000.0, 1299.0, 300) and not webhooks.within_tolerance(
        1000.0, 1301.0, 300
    )


def test_the_event_id_comes_from_the_header_then_the_payload_then_the_body() -> None:
    assert webhooks.event_id_of({"x-event-id": "h"}, {"id": "p"}, b"") == "h"
    assert webhooks.event_id_of({}, {"id": 7}, b"") == "7"
    assert webhooks.event_id_of({}, {"event_id": "e"}, b"") == "e"
    assert (
        webhooks.event_id_of({}, {}, b"x")
        == webhooks.event_id_of({}, {}, b"x")
        != (webhooks.event_id_of({}, {}, b"y"))
    )


async def test_the_openapi_documents_the_webhook_and_its_errors(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/schema/openapi.json")).json()
    operation = schema["paths"]["/api/workflows/webhooks/{workflow_id}"]["post"]
    assert {"202", "400", "401", "404", "409", "422", "429", "503"} <= set(operation["responses"])
    assert operation["responses"]["202"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/WebhookResponse"
    }
    example = operation["requestBody"]["content"]["application/json"]["examples"]
    assert example, "the body has an example"
    headers = {p["name"] for p in operation["parameters"] if p["in"] == "header"}
    assert {"X-Signature", "X-Timestamp", "X-Event-Id"} <= headers
    start = schema["paths"]["/api/workflows/executions/start"]["post"]["responses"]
    assert "429" in start

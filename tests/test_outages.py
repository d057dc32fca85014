"""Dependencies down: every call from the web layer has a deadline, and the answer says which
service is not answering (503 + Retry-After), or reads what PostgreSQL recorded when no worker
answers; a decision reaching the workflow past its window is refused and shown on its step."""

from __future__ import annotations

import sys
import time
import uuid
from dataclasses import replace
from pathlib import Path

from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from app.domain.identity import DEMO_USERS
from app.settings import Settings
from app.steps.seeding import seed_step_configs
from app.temporal.contracts import Timeline
from app.web.app import create_app
from tests.conftest import api_headers, http_client, signed_in
from tests.helpers import CRM_CONFIRMATIONS, DEFINITIONS, PREMIUM, Engine, eventually, waiting_at
from tests.test_database_outage import relay_to
from tests.test_web import HTML, csrf_token
from tests.test_worker_restart import worker_process

API = "/api/workflows/executions"


def assert_unavailable(response: object, service: str) -> None:
    assert response.status_code == 503, response.text  # type: ignore[attr-defined]
    assert response.headers["retry-after"]  # type: ignore[attr-defined]
    body = response.json()  # type: ignore[attr-defined]
    assert body["extra"] == {"service": service}
    assert body["status_code"] == 503 and body["detail"]


async def test_temporal_down_answers_503_naming_temporal_within_seconds(
    settings: Settings, database_url: str
) -> None:
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(Path(sys.executable).parent / "temporal")
    )
    down = replace(
        settings,
        temporal_address=env.client.service_client.config.target_host,
        temporal_rpc_timeout=2.0,
        decision_timeout=2.0,
    )
    async with http_client(create_app(down)) as client:
        assert (await client.get("/health")).status_code == 200  # connected while it was up
        await env.shutdown()
        began = time.monotonic()
        assert_unavailable(
            await client.get(f"{API}/nope-1", headers=api_headers("bob")), "temporal"
        )
        approve = await client.post(
            f"{API}/nope-1/steps/create_crm_record/approve", json={}, headers=api_headers("bob")
        )
        assert_unavailable(approve, "temporal")
        started = await client.post(
            f"{API}/start",
            json={"workflow_id": "customer_onboarding", "workflow_data": PREMIUM},
            headers=api_headers("bob"),
        )
        assert_unavailable(started, "temporal")
        page = await signed_in(client, down, "bob").get("/executions/nope-1", headers=HTML)
        assert page.status_code == 503 and page.headers["retry-after"]
        assert "Temporal (the workflow engine) is not answering" in page.text
        assert time.monotonic() - began < 40


async def test_postgresql_down_answers_503_naming_postgresql(
    settings: Settings, database_url: str
) -> None:
    pg_port = int(database_url.rsplit(":", 1)[1].split("/", 1)[0])
    async with relay_to(pg_port) as relay:
        via_relay = database_url.replace(f":{pg_port}/", f":{relay.port}/")
        async with http_client(create_app(replace(settings, database_url=via_relay))) as client:
            listed = await client.get(f"{API}/", headers=api_headers("bob"))
            assert listed.status_code == 200, listed.text
            await relay.cut()
            assert_unavailable(
                await client.get(f"{API}/", headers=api_headers("bob")), "postgresql"
            )
            page = await signed_in(client, settings, "bob").get("/executions", headers=HTML)
            assert page.status_code == 503 and "PostgreSQL is not answering" in page.text
            await relay.restore()
            assert (await client.get(f"{API}/", headers=api_headers("bob"))).status_code == 200


async def test_without_a_worker_reads_come_from_records_and_a_late_decision_never_applies(
    temporal_client: Client, settings: Settings, database_url: str
) -> None:
    await seed_step_configs(DEFINITIONS.values())
    queue = f"noworker-{uuid.uuid4().hex[:8]}"
    engine = Engine(temporal_client, DEFINITIONS, queue)
    quiet = replace(
        settings, task_queue=queue, temporal_rpc_timeout=2.0, decision_timeout=2.0,
        decision_window=1.0,
    )  # fmt: skip
    async with http_client(create_app(quiet)) as open_page:
        async with worker_process(settings, queue):
            execution_id = await engine.start("customer_onboarding", PREMIUM, DEMO_USERS["bob"])
            await waiting_at(engine, execution_id, "create_crm_record")
            # The executions row and the first steps' records are written before the wait.
            await eventually(lambda: engine.records.execution_recorded(execution_id), bool)
            page = await signed_in(open_page, quiet, "carol").get(
                f"/executions/{execution_id}", headers=HTML
            )
            assert page.status_code == 200 and "Possibly out of date" not in page.text
        # The worker is gone. A web process that never saw the execution reads the records.
        async with http_client(create_app(quiet)) as client:
            began = time.monotonic()
            read = await client.get(f"{API}/{execution_id}", headers=api_headers("carol"))
            assert read.status_code == 200, read.text
            body = read.json()
            assert body["stale"] is True and body["source"] == "records"
            assert body["status"] == "running"
            assert [s["status"] for s in body["steps"][:2]] == ["completed", "completed"]
            stale = await signed_in(client, quiet, "carol").get(
                f"/executions/{execution_id}", headers=HTML
            )
            assert stale.status_code == 200 and "Possibly out of date" in stale.text
            assert time.monotonic() - began < 20

            began = time.monotonic()
            approve = await client.post(
                f"{API}/{execution_id}/steps/create_crm_record/approve",
                json={"confirmations": CRM_CONFIRMATIONS},
                headers=api_headers("carol"),
            )
            assert_unavailable(approve, "temporal")
            assert "not applied: the engine is not answering" in approve.json()["detail"]
            assert time.monotonic() - began < 10

        # The panel of the page opened before: not applied, and what was entered is kept.
        form = await open_page.post(
            f"/executions/{execution_id}/steps/create_crm_record/decision",
            data={"_csrf_token": csrf_token(page.text), "action": "rejected",
                  "reason": "kept while the engine is away"},
            headers={**HTML, "hx-request": "true"},
        )  # fmt: skip
        assert form.status_code == 503 and form.headers["retry-after"]
        assert "not applied: the engine is not answering" in form.text
        assert ">kept while the engine is away</textarea>" in form.text

    # The worker returns after the decisions' window: both are refused and shown on the step.
    async with worker_process(settings, queue):

        def refused_late(timeline: Timeline) -> bool:
            notes = timeline.steps[2].ignored_signals
            return sum("not applied: made at" in note for note in notes) == 2

        timeline = await eventually(lambda: engine.timeline(execution_id), refused_late, 40)
        assert timeline.steps[2].status == "waiting_approval"
        assert timeline.steps[2].decisions == []
        # A decision made now still applies.
        await engine.decide(execution_id, "create_crm_record", DEMO_USERS["carol"], "approved",
                            confirmations=CRM_CONFIRMATIONS)  # fmt: skip
        await waiting_at(engine, execution_id, "setup_billing_account")

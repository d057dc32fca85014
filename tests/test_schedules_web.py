"""The schedules and workflow lifecycle over HTTP: the JSON API (guards, paths with and without a
trailing slash, 404/409), the workflow page's Schedules section and forms, and the sync the web
process runs at start-up."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace

import httpx
import pytest
from temporalio.client import Client
from temporalio.worker import Worker

from app.domain.schedule_words import schedule_id
from app.domain.triggers import ScheduleTrigger
from app.executions.listing import ExecutionFilter, list_executions
from app.settings import Settings
from app.web.app import create_app
from tests.conftest import api_headers, http_client, signed_in
from tests.helpers import DEFINITIONS, eventually
from tests.test_schedules import INPUT, schedule_ids
from tests.test_web import HTML, csrf_token

WORKFLOW = "sched_web"
SID = schedule_id(WORKFLOW, "hourly")


@pytest.fixture
async def web(
    settings: Settings, temporal_client: Client, worker: Worker, database_url: str
) -> AsyncIterator[httpx.AsyncClient]:
    """An app whose definitions hold a workflow with an hourly schedule; its start-up sync
    creates the Schedule (waited for), deleted afterwards."""
    trigger = ScheduleTrigger(id="hourly", interval_seconds=3600, input=dict(INPUT))
    definition = replace(DEFINITIONS["customer_onboarding"], id=WORKFLOW, schedules=[trigger])
    app = create_app(settings, definitions={WORKFLOW: definition, **DEFINITIONS})
    async with http_client(app) as client:
        await eventually(lambda: schedule_ids(temporal_client), lambda ids: SID in ids)
        yield client
    await temporal_client.get_schedule_handle(SID).delete()


async def test_the_api_lists_a_workflows_schedules_with_next_runs(
    web: httpx.AsyncClient,
) -> None:
    for path in (f"/api/workflows/{WORKFLOW}/schedules", f"/api/workflows/{WORKFLOW}/schedules/"):
        answer = await web.get(path, headers=api_headers("vera"))
        assert answer.status_code == 200, answer.text
        [view] = answer.json()
        assert view["schedule_id"] == SID and view["state"] == "running"
        assert view["spec"] == "every 1 h (UTC)" and len(view["next_runs"]) >= 1
    missing = await web.get("/api/workflows/nope/schedules", headers=api_headers("vera"))
    assert missing.status_code == 404


async def test_pausing_a_schedule_is_an_admins_act_and_trigger_now_an_approvers(
    web: httpx.AsyncClient, temporal_client: Client
) -> None:
    base = f"/api/workflows/{WORKFLOW}/schedules/hourly"
    refused = await web.post(f"{base}/pause", headers=api_headers("bob"))
    assert refused.status_code == 403 and "admin" in refused.json()["detail"]
    paused = await web.post(f"{base}/pause/", headers=api_headers("ada"))
    assert paused.status_code == 200, paused.text
    assert paused.json() == {"workflow_id": WORKFLOW, "trigger_id": "hourly",
                             "schedule_id": SID, "action": "paused", "state": "paused"}  # fmt: skip
    assert (await temporal_client.get_schedule_handle(SID).describe()).schedule.state.paused
    triggered = await web.post(f"{base}/trigger", headers=api_headers("bob"))
    assert triggered.status_code == 200 and triggered.json()["action"] == "triggered"
    rows = await eventually(
        lambda: list_executions(ExecutionFilter(workflow_id=WORKFLOW)), lambda rows: len(rows) == 1
    )
    assert rows[0].started_by == "schedule:hourly"
    resumed = await web.post(f"{base}/resume", headers=api_headers("ada"))
    assert resumed.status_code == 200 and resumed.json()["state"] == "running"
    unknown = await web.post(f"/api/workflows/{WORKFLOW}/schedules/nope/pause",
                             headers=api_headers("ada"))  # fmt: skip
    assert unknown.status_code == 404 and "nope" in unknown.json()["detail"]


async def test_workflow_pause_resume_and_delete_through_the_api(
    web: httpx.AsyncClient, temporal_client: Client
) -> None:
    handle = temporal_client.get_schedule_handle(SID)
    assert (await web.post(f"/api/workflows/{WORKFLOW}/pause/",
                           headers=api_headers("bob"))).status_code == 403  # fmt: skip
    paused = await web.post(
        f"/api/workflows/{WORKFLOW}/pause/", json={"reason": "CRM maintenance"},
        headers=api_headers("ada"),
    )  # fmt: skip
    assert paused.status_code == 200, paused.text
    body = paused.json()
    assert body["state"] == "paused" and body["changed_by"] == "ada"
    assert body["reason"] == "CRM maintenance" and body["schedules"] == [SID]
    state = (await handle.describe()).schedule.state
    assert state.paused and state.note == "paused by workflow pause"
    start = await web.post(
        "/api/workflows/executions/start",
        json={"workflow_id": WORKFLOW, "workflow_data": INPUT}, headers=api_headers("bob"),
    )  # fmt: skip
    assert start.status_code == 409 and "paused by ada" in start.json()["detail"]
    trigger = await web.post(f"/api/workflows/{WORKFLOW}/schedules/hourly/trigger",
                             headers=api_headers("bob"))  # fmt: skip
    assert trigger.status_code == 409
    resumed = await web.post(f"/api/workflows/{WORKFLOW}/resume", headers=api_headers("ada"))
    assert resumed.status_code == 200 and resumed.json()["state"] == "active"
    assert not (await handle.describe()).schedule.state.paused
    archived = await web.delete(f"/api/workflows/{WORKFLOW}/", headers=api_headers("ada"))
    assert archived.status_code == 200 and archived.json()["state"] == "archived"
    assert (await handle.describe()).schedule.state.paused
    again = await web.post(f"/api/workflows/{WORKFLOW}/resume/", headers=api_headers("ada"))
    assert again.status_code == 409 and "archived" in again.json()["detail"]
    no_slash = await web.delete(f"/api/workflows/{WORKFLOW}", headers=api_headers("ada"))
    assert no_slash.status_code == 200
    unknown = await web.post("/api/workflows/nope/pause", headers=api_headers("ada"))
    assert unknown.status_code == 404


async def test_the_workflow_page_shows_schedules_and_its_forms_work_without_javascript(
    web: httpx.AsyncClient, settings: Settings, temporal_client: Client
) -> None:
    browser = signed_in(web, settings, "ada")
    page = await browser.get(f"/workflows/{WORKFLOW}", headers=HTML)
    assert page.status_code == 200
    assert "Schedules" in page.text and "every 1 h (UTC)" in page.text
    assert f'action="/workflows/{WORKFLOW}/schedules/hourly/pause"' in page.text
    assert "Run now" in page.text and "Pause workflow" in page.text
    token = csrf_token(page.text)
    paused = await browser.post(f"/workflows/{WORKFLOW}/schedules/hourly/pause",
                                data={"_csrf_token": token}, headers=HTML)  # fmt: skip
    assert paused.status_code == 303 and paused.headers["location"] == f"/workflows/{WORKFLOW}"
    after = await browser.get(f"/workflows/{WORKFLOW}", headers=HTML)
    assert "paused by ada" in after.text and ">Resume</button>" in after.text
    await browser.post(f"/workflows/{WORKFLOW}/lifecycle/pause",
                       data={"_csrf_token": token, "reason": "Audit week"}, headers=HTML)  # fmt: skip
    notice = await browser.get(f"/workflows/{WORKFLOW}", headers=HTML)
    assert "This workflow is paused</strong> by ada since" in notice.text
    assert "Audit week" in notice.text and "Execute workflow</button>" not in notice.text
    assert "Resume workflow" in notice.text
    await browser.post(f"/workflows/{WORKFLOW}/lifecycle/resume",
                       data={"_csrf_token": token}, headers=HTML)  # fmt: skip
    active = await browser.get(f"/workflows/{WORKFLOW}", headers=HTML)
    assert "Execute workflow</button>" in active.text
    # The schedule an admin paused by itself stays paused when the workflow resumes.
    assert (await temporal_client.get_schedule_handle(SID).describe()).schedule.state.paused


async def test_a_viewer_sees_schedules_without_buttons_and_a_workflow_without_any_says_so(
    web: httpx.AsyncClient, settings: Settings
) -> None:
    browser = signed_in(web, settings, "vera")
    page = await browser.get(f"/workflows/{WORKFLOW}", headers=HTML)
    assert "every 1 h (UTC)" in page.text and "Run now" not in page.text
    assert "Pause workflow" not in page.text
    plain = await browser.get("/workflows/customer_onboarding", headers=HTML)
    assert "No schedules" in plain.text


async def test_with_temporal_down_the_page_says_so_and_the_api_answers_503(
    settings: Settings, database_url: str
) -> None:
    down = replace(settings, temporal_address="127.0.0.1:1", temporal_rpc_timeout=1.0)
    trigger = ScheduleTrigger(id="hourly", interval_seconds=3600, input=dict(INPUT))
    definition = replace(DEFINITIONS["customer_onboarding"], id=WORKFLOW, schedules=[trigger])
    async with http_client(create_app(down, definitions={WORKFLOW: definition})) as client:
        page = await signed_in(client, settings, "ada").get(f"/workflows/{WORKFLOW}", headers=HTML)
        assert page.status_code == 200
        assert "The schedules cannot be shown: Temporal is not answering" in page.text
        api = await client.get(f"/api/workflows/{WORKFLOW}/schedules", headers=api_headers("ada"))
        assert api.status_code == 503 and "Temporal" in api.json()["detail"]

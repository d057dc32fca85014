"""The approvals inbox tells enough to choose: workflow, the execution's key input, the preview's
summary line, impact, waiting since (never null), expires in; sorted by expiry; filters by
workflow and impact — on the API (`GET /api/workflows/approvals`) and the page (`/approvals`)."""

from __future__ import annotations

from datetime import datetime, timedelta

import asyncpg
import httpx

from app.approvals.inbox import InboxFilter, WaitingApproval, by_expiry
from app.db.tables import StepRun
from app.domain.identity import DEMO_USERS
from app.executions.service import ExecutionService
from app.settings import Settings
from tests.conftest import api_headers, signed_in
from tests.helpers import Engine, eventually, waiting_at
from tests.sse import events
from tests.test_live import browser_client, read_until

BOB = DEMO_USERS["bob"]
CAROL = DEMO_USERS["carol"]
CRM_BASIC = ["I have reviewed the customer data", "I confirm this is for PRODUCTION"]
CUSTOMERS = [
    {"name": "Ada Lovelace", "email": "ada@example.com", "tier": "premium"},
    {"name": "Grace Hopper", "email": "grace@example.com", "tier": "basic"},
]


async def two_waiting(engine: ExecutionService) -> list[str]:
    ids = []
    for customer in CUSTOMERS:
        execution_id = await engine.start("customer_onboarding", customer, BOB)
        await waiting_at(engine, execution_id, "create_crm_record")
        ids.append(execution_id)
    return ids


async def inbox(client: httpx.AsyncClient, user: str = "carol", **params: str) -> httpx.Response:
    return await client.get("/api/workflows/approvals", params=params, headers=api_headers(user))


async def test_the_inbox_api_shows_key_input_summary_impact_waiting_since_and_expiry(
    client: httpx.AsyncClient, engine: ExecutionService
) -> None:
    first, second = await two_waiting(engine)

    async def items() -> list[dict[str, object]]:
        body: list[dict[str, object]] = (await inbox(client)).json()
        return body

    listed = await eventually(items, lambda b: len(b) == 2 and all(i["summary"] for i in b))
    assert [i["execution_id"] for i in listed] == [first, second]  # soonest expiry first
    ada = listed[0]
    assert ada["workflow_id"] == "customer_onboarding"
    assert ada["workflow_name"] == "Customer Onboarding"
    assert ada["key_input"] == "Ada Lovelace" and ada["key_label"] == "Full name"
    assert listed[1]["key_input"] == "Grace Hopper"
    assert ada["summary"] == "CREATE crm.contacts ada@example.com"
    assert ada["impact"] == "write" and ada["step_id"] == "create_crm_record"
    assert ada["waiting_since"] is not None
    since = datetime.fromisoformat(str(ada["waiting_since"]))
    expires = datetime.fromisoformat(str(ada["expires_at"]))
    assert since.tzinfo is not None
    assert expires - since == timedelta(seconds=1800)  # the step's approval_timeout_seconds
    assert 1700 < float(str(ada["expires_in_seconds"])) <= 1800
    assert 0 <= float(str(ada["waiting_seconds"])) < 100
    assert ada["bulk_approvable"] is True
    assert ada["timeline_url"] == f"/executions/{first}#step-create_crm_record"


async def test_the_inbox_api_filters_by_workflow_and_impact_and_names_allowed_impacts(
    client: httpx.AsyncClient, engine: ExecutionService
) -> None:
    ids = await two_waiting(engine)

    assert [i["execution_id"] for i in (await inbox(client, impact="write")).json()] == ids
    assert (await inbox(client, impact="critical")).json() == []
    assert len((await inbox(client, workflow_id="customer_onboarding")).json()) == 2
    assert (await inbox(client, workflow_id="another_workflow")).json() == []

    bad = await inbox(client, impact="huge")
    assert bad.status_code == 400
    assert "accessory, read, write, critical, external" in bad.json()["detail"]
    assert "impact" in bad.json()["extra"]["errors"]


async def test_the_inbox_page_shows_times_with_zone_and_relative_and_keeps_filters(
    client: httpx.AsyncClient, settings: Settings, engine: Engine
) -> None:
    first, _ = await two_waiting(engine)
    carol = signed_in(client, settings, "carol")

    page = await eventually(
        lambda: carol.get("/approvals"),
        lambda p: "CREATE crm.contacts ada@example.com" in p.text and "Grace Hopper" in p.text,
    )
    assert "Ada Lovelace" in page.text and "Grace Hopper" in page.text
    assert "write impact" in page.text
    assert "waiting <time" in page.text and "expires in <time" in page.text
    assert 'title="since ' in page.text and " UTC" in page.text
    # Soonest expiry first (both wait 30 min: the order of their recorded waits decides).
    api = (await carol.get("/api/workflows/approvals", headers=api_headers("carol"))).json()
    soonest = [item["key_input"] for item in sorted(api, key=lambda i: i["expires_at"])]
    assert page.text.index(soonest[0]) < page.text.index(soonest[1])
    assert '<label for="filter-impact">Impact</label>' in page.text
    assert '<label for="filter-workflow">Workflow</label>' in page.text
    assert f'value="{first}/create_crm_record"' in page.text  # a bulk checkbox

    critical = await carol.get("/approvals", params={"impact": "critical"})
    assert "Ada Lovelace" not in critical.text
    assert "Nothing is waiting for your approval with these filters." in critical.text
    assert 'sse-connect="/approvals/events?impact=critical"' in critical.text
    assert '<option value="critical" selected>' in critical.text

    refused = await carol.get("/approvals", params={"impact": "huge"})
    assert refused.status_code == 400


async def test_the_live_inbox_keeps_the_filters(
    web_server: str, settings: Settings, engine: Engine
) -> None:
    await two_waiting(engine)
    async with (
        browser_client(web_server, settings, "carol") as carol,
        carol.stream("GET", "/approvals/events", params={"impact": "read"}) as response,
    ):
        first = await anext(events(response))
    assert first.event == "approvals" and "Ada Lovelace" not in first.data
    assert "with these filters" in first.data
    async with (
        browser_client(web_server, settings, "carol") as carol,
        carol.stream("GET", "/approvals/events", params={"impact": "write"}) as response,
    ):
        shown = await read_until(events(response), lambda e: "Grace Hopper" in e.data)
    assert "Ada Lovelace" in shown[-1].data and "bulk-select" in shown[-1].data


def test_items_sort_by_expiry_soonest_first_whatever_they_waited() -> None:
    now = datetime.fromisoformat("2026-11-30T06:00:00+00:00")

    def item(execution_id: str, waited: int, timeout: int) -> WaitingApproval:
        since = now - timedelta(seconds=waited)
        return WaitingApproval(execution_id, "w", "W", "s", "S", "write", "", "bob", since,
                               expires_at=since + timedelta(seconds=timeout))  # fmt: skip

    long_wait = item("a", waited=600, timeout=3600)  # expires in 50 min
    short_wait = item("b", waited=60, timeout=300)  # expires in 4 min
    assert by_expiry([long_wait, short_wait]) == [short_wait, long_wait]
    assert short_wait.waiting_text(now) == "1 min" and short_wait.expires_text(now) == "4 min"
    assert InboxFilter.parse("w", "WRITE").keeps(long_wait)
    assert not InboxFilter.parse("", "read").keeps(long_wait)


async def test_the_openapi_shows_the_inbox_items_and_bulk_results_typed(
    client: httpx.AsyncClient,
) -> None:
    schema = (await client.get("/schema/openapi.json")).json()
    inbox_op = schema["paths"]["/api/workflows/approvals"]["get"]
    assert {"200", "400", "401"} <= set(inbox_op["responses"])
    assert {p["name"] for p in inbox_op["parameters"]} >= {"workflow_id", "impact"}
    item = schema["components"]["schemas"]["InboxItem"]["properties"]
    assert {"key_input", "summary", "impact", "waiting_since", "expires_at"} <= set(item)
    bulk = schema["paths"]["/api/workflows/approvals/bulk"]["post"]
    assert {"200", "400", "404", "422"} <= set(bulk["responses"])
    assert bulk["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/BulkApproveResponse"
    }


async def test_an_approved_step_whose_action_still_runs_leaves_the_inbox_and_lists(
    client: httpx.AsyncClient, engine: Engine, database_url: str
) -> None:
    """No web process was told of this decision (it went to Temporal directly), so only the
    records can say it: the step run is recorded as running when its action starts, while the
    action itself is still held (it waits on a lock on the table it writes)."""
    _, execution_id = await two_waiting(engine)  # Grace: basic tier, two confirmations
    lock = await asyncpg.connect(database_url)
    try:
        held = lock.transaction()
        await held.start()
        await lock.execute("LOCK TABLE demo_contacts IN EXCLUSIVE MODE")  # reads pass, writes wait
        await engine.decide(
            execution_id, "create_crm_record", CAROL, "approved", confirmations=CRM_BASIC
        )

        async def row_status() -> str:
            row = (
                await StepRun.select(StepRun.status)
                .where(StepRun.run_key == f"{execution_id}/create_crm_record")
                .first()
            )
            return str(row["status"]) if row else ""

        assert await eventually(row_status, lambda s: s == "running") == "running"
        crm = (await engine.timeline(execution_id)).steps[2]
        assert crm.id == "create_crm_record" and crm.status == "running", "the action still waits"
        listed = (await inbox(client)).json()
        assert execution_id not in [i["execution_id"] for i in listed]
        executions = await client.get("/api/workflows/executions", headers=api_headers("carol"))
        row = next(e for e in executions.json() if e["execution_id"] == execution_id)
        assert row["waiting"] is False
        await held.rollback()
    finally:
        await lock.close()
    assert await eventually(row_status, lambda s: s == "completed") == "completed"

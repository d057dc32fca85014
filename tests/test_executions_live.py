"""The executions list pushed, not polled: the worker's records NOTIFY `stepladder_executions`,
each web process LISTENs, and `/executions/events` streams the newest page's rows when they
change — one PostgreSQL read per filter set per change, none while nothing changes."""

from __future__ import annotations

import asyncio
import html
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import suppress

import httpx
import pytest
from playwright.async_api import Browser, expect

from app.db.inbox_channel import announce_decided, listen
from app.db.tables import StepRun
from app.domain.identity import DEMO_USERS
from app.executions.listing import ExecutionFilter, ExecutionPage, page_executions
from app.executions.service import ExecutionService
from app.live.executions_hub import ExecutionsList
from app.live.tuning import LiveTuning
from app.settings import Settings
from tests.browser import sign_in
from tests.conftest import api_headers
from tests.helpers import eventually, records_flushed, waiting_at
from tests.sse import Event, events
from tests.test_live import BASIC, browser_client
from tests.test_live_browser import remember_this_page, was_not_reloaded

BOB = DEMO_USERS["bob"]
BOUND = 2.0  # seconds from the start to the new row on an open stream
EXPENSE = {"employee": "Eve Expense", "amount": 50}

Starter = Callable[[str, dict[str, object]], Awaitable[str]]


@pytest.fixture
async def start(engine: ExecutionService) -> AsyncIterator[Starter]:
    """Starts executions as bob; each is cancelled afterwards (no approval left waiting)."""
    started: list[str] = []

    async def starter(workflow_id: str, values: dict[str, object]) -> str:
        started.append(await engine.start(workflow_id, values, BOB))
        return started[-1]

    yield starter
    for execution_id in started:
        with suppress(Exception):  # already over
            await engine.cancel(execution_id)


async def first_event_with(stream: AsyncIterator[Event], text: str) -> list[Event]:
    """Every event of `stream` up to and including the first whose data contains `text`."""
    received = []
    async for event in stream:
        received.append(event)
        if text in event.data:
            return received
    raise AssertionError("the stream ended first")


async def test_the_newest_page_connects_to_the_stream_instead_of_polling(
    web_server: str, settings: Settings, start: Starter
) -> None:
    async with browser_client(web_server, settings, "vera") as client:
        newest = await client.get("/executions?status=running")
        assert newest.status_code == 200
        assert "every 3s" not in newest.text
        assert 'sse-swap="executions"' in newest.text
        found = re.search(r'sse-connect="([^"]+)"', newest.text)
        assert found is not None
        url = html.unescape(found.group(1))
        assert url.startswith("/executions/events?status=running&") and "seen=" in url
        # The stream does not send the rows the page shows: its first event is the change.
        async with client.stream("GET", url) as response:
            stream = events(response)
            execution_id = await start("customer_onboarding", BASIC)
            first = await asyncio.wait_for(anext(stream), timeout=BOUND)

    assert first.event == "executions" and execution_id in first.data


async def test_an_execution_started_by_the_worker_reaches_an_open_stream_within_the_bound(
    engine: ExecutionService, web_server: str, settings: Settings, start: Starter
) -> None:
    async with (
        browser_client(web_server, settings, "vera") as client,
        client.stream("GET", "/executions/events") as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        stream = events(response)
        first = await anext(stream)
        assert first.event == "executions"
        started = time.monotonic()
        execution_id = await start("customer_onboarding", BASIC)
        shown = await asyncio.wait_for(first_event_with(stream, execution_id), timeout=BOUND)
        arrived = time.monotonic() - started
        # Its step then waits for approval: the row says so, pushed too.
        if "waiting for approval" not in shown[-1].data:
            shown += await asyncio.wait_for(
                first_event_with(stream, "waiting for approval"), timeout=10
            )

    assert arrived < BOUND, f"new row after {arrived:.3f}s"
    row = next(event for event in shown if execution_id in event.data)
    assert row.event == "executions"
    assert f'href="/executions/{execution_id}"' in row.data
    assert "<table" in row.data and "sse-connect" not in row.data, "the rows alone"
    assert execution_id in shown[-1].data


async def test_a_filtered_stream_gets_no_rows_outside_its_filter(
    engine: ExecutionService, web_server: str, settings: Settings, start: Starter
) -> None:
    async with (
        browser_client(web_server, settings, "vera") as client,
        client.stream("GET", "/executions/events?workflow=expense_approval") as response,
    ):
        stream = events(response)
        await anext(stream)
        other = await start("customer_onboarding", BASIC)
        mine = await start("expense_approval", EXPENSE)
        received = await asyncio.wait_for(first_event_with(stream, mine), timeout=10)

    assert all(other not in event.data for event in received), "outside the filter"
    assert "Expense Approval" in received[-1].data
    assert "Customer Onboarding" not in received[-1].data


async def test_an_idle_stream_makes_no_list_read_and_a_notification_makes_one(
    engine: ExecutionService, settings: Settings, start: Starter
) -> None:
    reads = 0

    async def counted(filters: ExecutionFilter) -> ExecutionPage:
        nonlocal reads
        reads += 1
        return await page_executions(filters)

    hub = ExecutionsList(counted, LiveTuning())
    listener = asyncio.create_task(
        listen(settings.database_url, lambda _: None, hub.set_listening, on_execution=hub.changed)
    )
    try:
        await eventually(lambda: asyncio.sleep(0, hub.listening), bool)
        execution_id = await start("customer_onboarding", BASIC)
        await waiting_at(engine, execution_id, "create_crm_record")
        await records_flushed(engine, execution_id)
        async with hub.subscribe(ExecutionFilter()) as subscription:
            page = await subscription.next()
            # Let the records settle (the waiting step's record lands after the timeline says so).
            settled = -1
            while reads != settled:
                settled = reads
                await asyncio.sleep(1.0)
            await asyncio.sleep(3.0)  # an idle interval: no read in it
            assert reads == settled, "no PostgreSQL read while nothing changes"
            version = hub.version
            other = await start("customer_onboarding", BASIC)
            changed = time.monotonic()
            while other not in {row.execution_id for row in page.rows}:
                page = await asyncio.wait_for(subscription.next(), timeout=BOUND)
            assert time.monotonic() - changed < BOUND
        assert hub.notifications > hub.version - version, "bursts of notifications were folded"
        assert reads - settled <= hub.version - version, "one read per change, not per viewer"
    finally:
        listener.cancel()
        await asyncio.gather(listener, return_exceptions=True)
        await hub.close()


async def test_the_browser_shows_a_new_execution_of_its_filter_without_a_reload(
    browser: Browser, web_server: str, start: Starter
) -> None:
    page = await sign_in(browser, web_server, "Vera Viewer")
    await page.goto("/executions?workflow=expense_approval")
    rows = page.locator("#execution-rows")
    await expect(rows).to_contain_text("No executions match these filters.")
    await remember_this_page(page)
    # The stream is open (its first event swapped the same rows in) before the starts.
    await page.wait_for_function(
        "document.querySelector('[sse-connect]')?.['htmx-internal-data']?.sseEventSource?.readyState === 1"
    )  # noqa: E501

    other = await start("customer_onboarding", BASIC)
    mine = await start("expense_approval", EXPENSE)

    await expect(rows.get_by_role("link", name=mine)).to_be_visible(timeout=5_000)
    await expect(rows.get_by_role("link", name=other)).to_have_count(0)
    assert await was_not_reloaded(page)
    await page.context.close()


async def test_without_notifications_the_list_is_polled_and_with_them_it_is_not() -> None:
    reads = 0
    empty = ExecutionPage([], None, None)

    async def counted(filters: ExecutionFilter) -> ExecutionPage:
        nonlocal reads
        reads += 1
        return empty

    hub = ExecutionsList(counted, LiveTuning(list_interval=0.05, list_debounce=0.01))
    try:
        async with hub.subscribe(ExecutionFilter(status="running")):
            # LISTEN down (never connected): polled every LIVE_LIST_INTERVAL.
            await eventually(lambda: asyncio.sleep(0, reads), lambda n: n >= 4, timeout=5)
            hub.set_listening(True)  # reads once (a notification may have been missed) ...
            await asyncio.sleep(0.2)
            listening_since = reads
            await asyncio.sleep(0.5)  # ... then only when told, or at the 30 s safety read
            assert reads == listening_since
            for _ in range(5):  # a burst of notifications: one read
                hub.changed("e1")
            await eventually(lambda: asyncio.sleep(0, reads), lambda n: n == listening_since + 1)
            await asyncio.sleep(0.2)
            assert reads == listening_since + 1 and hub.notifications == 5
    finally:
        await hub.close()


async def test_the_list_stream_needs_a_signed_in_user(
    client: httpx.AsyncClient, database_url: str
) -> None:
    response = await client.get("/executions/events", headers={"accept": "text/event-stream"})
    assert response.status_code == 401


async def test_a_step_announced_decided_leaves_the_waiting_list_while_its_records_still_wait(
    engine: ExecutionService, web_server: str, settings: Settings, start: Starter
) -> None:
    """Another web process announced the decision (NOTIFY `decided`); nothing was decided and
    the records still say waiting — so only the announcement can take the row off."""
    execution_id = await start("customer_onboarding", BASIC)
    await waiting_at(engine, execution_id, "create_crm_record")
    await records_flushed(engine, execution_id)
    async with (
        browser_client(web_server, settings, "vera") as client,
        client.stream("GET", "/executions/events?waiting=1") as response,
    ):
        stream = events(response)
        first = await asyncio.wait_for(anext(stream), timeout=BOUND)
        assert execution_id in first.data, "waiting, so listed"
        await announce_decided(execution_id, "create_crm_record")
        gone = await asyncio.wait_for(anext(stream), timeout=BOUND)
    assert gone.event == "executions" and execution_id not in gone.data
    async with httpx.AsyncClient(base_url=web_server, headers=api_headers("vera")) as api:
        rows = (await api.get("/api/workflows/executions")).json()
        waiting_only = (await api.get("/api/workflows/executions?waiting=true")).json()
    assert next(r for r in rows if r["execution_id"] == execution_id)["waiting"] is False
    assert execution_id not in [r["execution_id"] for r in waiting_only]
    row = (
        await StepRun.select(StepRun.status)
        .where(StepRun.execution_id == execution_id)
        .where(StepRun.step_id == "create_crm_record")
        .first()
    )
    assert row is not None and row["status"] == "waiting_approval", "the records still wait"

"""Pushed live updates: Temporal's history long-poll wakes timeline watchers, PostgreSQL
LISTEN/NOTIFY wakes inboxes — so a change made through one web process reaches viewers of
another at once, and an idle watcher queries nothing."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import ExitStack, asynccontextmanager, suppress
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from app.approvals.inbox import WaitingApproval
from app.db.inbox_channel import announce_decided, listen
from app.domain.identity import DEMO_USERS
from app.executions.service import ExecutionService
from app.live.history import HistoryChanges
from app.live.inbox_hub import ApprovalInbox
from app.live.timeline_hub import TimelineHub
from app.live.tuning import LiveTuning
from app.settings import Settings
from bench.stack import WebProcess, web_process
from tests.conftest import api_headers, signed_in
from tests.helpers import eventually, waiting_at
from tests.sse import Event, events
from tests.test_bulk_approve import csrf
from tests.test_live import BASIC, CRM_BASIC, browser_client, counting

BOB = DEMO_USERS["bob"]
# No polling fallback could deliver within the tests' bounds: only pushed changes can.
SLOW = LiveTuning(slow_interval=60, fast_interval=60, burst_interval=60, inbox_interval=60)
BOUND = 2.0  # seconds from the decision's answer to the viewer's event
# The inbox of another web process drops a decided step as soon as the process that made the
# decision announces it (a NOTIFY sent once Temporal accepted it): well under a second.
INBOX_BOUND = 1.0


Starter = Callable[[], Awaitable[str]]


@pytest.fixture
async def start(engine: ExecutionService) -> AsyncIterator[Starter]:
    """Starts a basic onboarding as bob; every execution it started is cancelled afterwards (so
    later tests find no approval left waiting)."""
    started: list[str] = []

    async def starter() -> str:
        started.append(await engine.start("customer_onboarding", BASIC, BOB))
        return started[-1]

    yield starter
    for execution_id in started:
        with suppress(Exception):  # already over
            await engine.cancel(execution_id)


def web_env(settings: Settings) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "TEMPORAL_ADDRESS": settings.temporal_address,
        "TEMPORAL_TASK_QUEUE": settings.task_queue,
        "LOG_LEVEL": "WARNING",
        "STEPLADDER_START_RATE_LIMIT": "off",
        # Polling alone would take a minute: what arrives sooner was pushed.
        "LIVE_SLOW_INTERVAL": "60",
        "LIVE_FAST_INTERVAL": "60",
        "LIVE_BURST_INTERVAL": "60",
        "LIVE_INBOX_INTERVAL": "60",
    }


@asynccontextmanager
async def two_web_processes(env: dict[str, str]) -> AsyncIterator[tuple[WebProcess, WebProcess]]:
    """Two `stepladder web` processes on one database and Temporal, started in threads (their
    start-up waits block; this loop runs the session worker meanwhile)."""
    with ExitStack() as stack:
        a, b = await asyncio.gather(
            asyncio.to_thread(stack.enter_context, web_process(env)),
            asyncio.to_thread(stack.enter_context, web_process(env)),
        )
        try:
            yield a, b
        finally:
            await asyncio.to_thread(stack.close)


async def first_where(
    stream: AsyncIterator[Event], done: Callable[[Event], bool], ready: asyncio.Event | None = None
) -> float:
    """The monotonic time of the first event of `stream` for which `done` holds."""
    async for event in stream:
        if ready is not None:
            ready.set()
        if done(event):
            return time.monotonic()
    raise AssertionError("the stream ended first")


async def test_a_decision_through_web_process_a_reaches_sse_viewers_of_web_process_b(
    engine: ExecutionService, settings: Settings, start: Starter
) -> None:
    env = web_env(settings)
    async with two_web_processes(env) as (a, b):
        execution_id = await start()
        await waiting_at(engine, execution_id, "create_crm_record")
        async with (
            browser_client(b.url, settings, "vera") as viewer,
            browser_client(b.url, settings, "carol") as approver,
            viewer.stream("GET", f"/executions/{execution_id}/events") as timeline_response,
            approver.stream("GET", "/approvals/events") as inbox_response,
        ):
            timeline, inbox = events(timeline_response), events(inbox_response)
            first = await anext(timeline)
            assert first.attribute("step-create_crm_record", "data-status") == "waiting_approval"
            listed = await anext(inbox)
            crm_item = f"/executions/{execution_id}#step-create_crm_record"
            assert crm_item in listed.data
            # Both streams of B are watching before the decision is made through A.
            left_waiting = asyncio.create_task(first_where(
                timeline,
                lambda e: e.attribute("step-create_crm_record", "data-status") != "waiting_approval",
            ))  # fmt: skip
            left_inbox = asyncio.create_task(first_where(inbox, lambda e: crm_item not in e.data))
            async with httpx.AsyncClient(base_url=a.url, timeout=30) as through_a:
                answer = await through_a.post(
                    f"/api/workflows/executions/{execution_id}/steps/create_crm_record/approve",
                    json={"confirmations": CRM_BASIC},
                    headers=api_headers("carol"),
                )
            decided = time.monotonic()
            assert answer.status_code == 200, answer.text
            await asyncio.wait([left_waiting, left_inbox], timeout=15)
            async with httpx.AsyncClient(base_url=b.url, headers=api_headers("ada")) as stats:
                counters = (await stats.get("/live/stats")).json()
            assert left_waiting.done() and left_inbox.done(), counters
            timeline_seen, inbox_seen = left_waiting.result(), left_inbox.result()
            queries = counters["timeline_queries"]

    assert timeline_seen - decided < BOUND, f"timeline on B after {timeline_seen - decided:.3f}s"
    assert inbox_seen - decided < INBOX_BOUND, f"inbox on B after {inbox_seen - decided:.3f}s"
    # B heard of the decision from A itself, not only from the worker's records.
    assert counters["inbox_decided_notices"] >= 1, counters
    # B queried when told of changes, not on a timer: a handful for the decision and its steps.
    assert queries < 15, queries


async def test_a_watcher_with_no_change_makes_no_query_in_an_idle_interval(
    engine: ExecutionService, temporal_client: Client, start: Starter
) -> None:
    execution_id = await start()
    await waiting_at(engine, execution_id, "create_crm_record")
    fetch, counts = counting(engine.timeline)
    hub = TimelineHub(fetch, LiveTuning(), changes=HistoryChanges(temporal_client).follow)
    try:
        seen = await hub.snapshot(execution_id)
        async with hub.subscribe(execution_id, seen=seen) as subscription:
            # After the step starts waiting the workflow still flushes its records (a timer, one
            # more workflow task): wait until the hub has been quiet for a while, under load too.
            settled = -1
            while counts[execution_id] != settled:
                settled = counts[execution_id]
                await asyncio.sleep(1.5)
            history = [
                e
                async for e in temporal_client.get_workflow_handle(
                    execution_id
                ).fetch_history_events()
            ]
            tasks = sum(
                e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED for e in history
            )
            assert settled <= tasks + 1, "at most one query per workflow task, the first included"
            await asyncio.sleep(3.0)  # an idle interval: nothing may happen in it
            assert counts[execution_id] == settled, "no query while nothing changes"
            # A change made elsewhere (not nudged through this hub) arrives pushed, at once.
            await engine.decide(
                execution_id, "create_crm_record", DEMO_USERS["carol"], "approved",
                confirmations=CRM_BASIC,
            )  # fmt: skip
            decided = time.monotonic()
            moved = await asyncio.wait_for(subscription.next(), timeout=BOUND)
            assert time.monotonic() - decided < BOUND
        crm = next(step for step in moved.steps if step.id == "create_crm_record")
        assert crm.status != "waiting_approval"
    finally:
        await hub.close()


async def test_a_history_long_poll_that_fails_falls_back_to_polling_and_never_spins(
    engine: ExecutionService, start: Starter
) -> None:
    execution_id = await start()
    await waiting_at(engine, execution_id, "create_crm_record")
    attempts = 0

    async def broken(_: str) -> AsyncIterator[float]:
        nonlocal attempts
        attempts += 1
        raise ConnectionError("Temporal unreachable")
        yield 0.0  # pragma: no cover - makes this an async generator

    tuning = LiveTuning(slow_interval=0.2, max_backoff=0.4, fast_interval=0.1)
    fetch, counts = counting(engine.timeline)
    hub = TimelineHub(fetch, tuning, changes=broken)
    try:
        seen = await hub.snapshot(execution_id)
        async with hub.subscribe(execution_id, seen=seen):
            await asyncio.sleep(2.0)
    finally:
        await hub.close()
    # Polling every 0.2 s as before, retrying the long-poll at most every 0.4 s: no hot loop.
    assert 4 <= counts[execution_id] <= 14, counts
    assert 2 <= attempts <= 8, attempts


async def test_the_records_notify_listeners_when_a_step_starts_and_stops_waiting(
    engine: ExecutionService, settings: Settings, start: Starter
) -> None:
    received: list[str] = []
    listening = asyncio.Event()
    task = asyncio.create_task(
        listen(settings.database_url, received.append, lambda on: listening.set() if on else None)
    )
    try:
        await asyncio.wait_for(listening.wait(), timeout=10)
        execution_id = await start()
        await eventually(lambda: asyncio.sleep(0, received.count(execution_id)), bool, timeout=10)
        await engine.decide(
            execution_id, "create_crm_record", DEMO_USERS["carol"], "approved",
            confirmations=CRM_BASIC,
        )  # fmt: skip
        await eventually(
            lambda: asyncio.sleep(0, received.count(execution_id)), lambda n: n >= 2, timeout=10
        )
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_decisions_through_the_form_and_bulk_approve_on_a_leave_the_inbox_of_b_at_once(
    engine: ExecutionService, settings: Settings, start: Starter
) -> None:
    """Every way to decide (the approval panel's form, bulk approve by JSON and by the review
    page's form; the JSON API's approve above) announces the step decided to every process."""
    env = web_env(settings)
    async with two_web_processes(env) as (a, b):
        by_form, by_bulk_api, by_bulk_form = [await start() for _ in range(3)]
        for execution_id in (by_form, by_bulk_api, by_bulk_form):
            await waiting_at(engine, execution_id, "create_crm_record")
        items = {e: f"/executions/{e}#step-create_crm_record" for e in (by_form, by_bulk_api,
                                                                         by_bulk_form)}  # fmt: skip
        async with (
            browser_client(b.url, settings, "carol") as watching,
            watching.stream("GET", "/approvals/events") as inbox_response,
            httpx.AsyncClient(base_url=a.url, timeout=30) as through_a,
        ):
            inbox = events(inbox_response)
            await first_where(inbox, lambda e: all(item in e.data for item in items.values()))
            carol = signed_in(through_a, settings, "carol")

            async def form() -> httpx.Response:
                page = await carol.get(f"/executions/{by_form}")
                return await carol.post(
                    f"/executions/{by_form}/steps/create_crm_record/decision",
                    data={"_csrf_token": csrf(page.text), "action": "approved",
                          "confirmation": CRM_BASIC},
                )  # fmt: skip

            async def bulk_api() -> httpx.Response:
                return await through_a.post(
                    "/api/workflows/approvals/bulk",
                    json={"workflow_id": "customer_onboarding", "step_id": "create_crm_record",
                          "execution_ids": [by_bulk_api], "confirmations": CRM_BASIC},
                    headers=api_headers("carol"),
                )  # fmt: skip

            async def bulk_form() -> httpx.Response:
                review = await carol.get(
                    "/approvals/review", params={"selected": f"{by_bulk_form}/create_crm_record"}
                )
                return await carol.post("/approvals/bulk", data={
                    "_csrf_token": csrf(review.text), "workflow_id": "customer_onboarding",
                    "step_id": "create_crm_record", "execution_id": [by_bulk_form],
                    "confirmation": CRM_BASIC,
                })  # fmt: skip

            for execution_id, decide in ((by_form, form), (by_bulk_api, bulk_api),
                                         (by_bulk_form, bulk_form)):  # fmt: skip
                item = items[execution_id]
                gone = asyncio.create_task(first_where(inbox, lambda e, i=item: i not in e.data))
                answer = await decide()
                answered = time.monotonic()
                assert answer.status_code in (200, 303), answer.text
                assert answer.status_code == 303 or (
                    '"approved":1' in answer.text or "<strong>approved</strong>" in answer.text
                ), answer.text
                seen = await asyncio.wait_for(gone, timeout=15)
                assert seen - answered < INBOX_BOUND, f"{decide.__name__}: {seen - answered:.3f}s"
                # B's pages and JSON list agree with its stream from then on.
                listed = await watching.get(
                    "/api/workflows/approvals", headers=api_headers("carol")
                )
                pairs = {(i["execution_id"], i["step_id"]) for i in listed.json()}
                assert (execution_id, "create_crm_record") not in pairs
                page = await watching.get("/approvals")
                assert item not in page.text
        async with httpx.AsyncClient(base_url=b.url, headers=api_headers("ada")) as stats:
            counters = (await stats.get("/live/stats")).json()
    assert counters["inbox_decided_notices"] >= 3, counters


def waiting_item(execution_id: str, step_id: str = "create_crm_record") -> WaitingApproval:
    return WaitingApproval(
        execution_id=execution_id, workflow_id="customer_onboarding",
        workflow_name="Customer Onboarding", step_id=step_id, step_name="Create CRM Record",
        impact="high", approvers_group="", started_by="bob", waiting_since=None,
    )  # fmt: skip


async def test_the_inbox_hub_drops_a_decided_step_without_a_read_and_shows_it_again_after_the_ttl() -> (
    None
):
    """The records still say the step waits (the worker has not written it yet, or the notice
    was wrong): hidden at once, with no read; shown again, from a fresh read, after the TTL."""
    decided, other = waiting_item("onboarding-1"), waiting_item("onboarding-2")
    reads = 0

    async def records_say() -> list[WaitingApproval]:
        nonlocal reads
        reads += 1
        return [decided, other]

    inbox = ApprovalInbox(records_say, LiveTuning(safety_interval=60, decided_ttl=0.5))
    inbox.set_listening(True)
    try:
        async with inbox.subscribe() as subscription:
            assert await asyncio.wait_for(subscription.next(), 5) == [decided, other]
            before = reads
            hidden_at = time.monotonic()
            inbox.decided("onboarding-1", "create_crm_record")
            assert await asyncio.wait_for(subscription.next(), 1) == [other]
            assert reads == before, "dropped from the list it had, without reading PostgreSQL"
            assert await inbox.snapshot() == [other], "pages reading through the hub agree"
            back = await asyncio.wait_for(subscription.next(), 5)
            assert back == [decided, other]
            assert time.monotonic() - hidden_at >= 0.5
    finally:
        await inbox.close()


async def test_a_decided_announcement_reaches_every_listener_with_its_step(
    settings: Settings, engine: ExecutionService
) -> None:
    changed: list[str] = []
    decided: list[tuple[str, str]] = []
    listening = asyncio.Event()
    task = asyncio.create_task(
        listen(
            settings.database_url, changed.append, lambda on: listening.set() if on else None,
            on_decided=lambda e, s: decided.append((e, s)),
        )
    )  # fmt: skip
    try:
        await asyncio.wait_for(listening.wait(), timeout=10)
        await announce_decided("onboarding-1", "create_crm_record")
        await eventually(lambda: asyncio.sleep(0, list(decided)), bool, timeout=10)
        assert decided == [("onboarding-1", "create_crm_record")]
        assert changed == [], "an announcement is not a change of the records"
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_a_pushed_change_is_queried_at_once_even_while_an_older_query_is_in_flight() -> None:
    """Temporal holds a `timeline` query while a workflow task runs: the watcher's query sent
    before a change can still be in flight when the history reports the change. The query that
    will show the change starts at once (the watcher joins it next) instead of after the older
    one returns — and it stays one query for the change."""
    changed, older_released, second_started = asyncio.Event(), asyncio.Event(), asyncio.Event()
    calls: list[float] = []

    async def fetch(execution_id: str) -> Any:
        calls.append(time.time())
        if len(calls) == 1:
            await older_released.wait()  # held as Temporal holds it during a workflow task
        else:
            second_started.set()
        return SimpleNamespace(version=len(calls), status="running", finished=False, stale=False,
                               steps=[])  # fmt: skip

    async def pushed(execution_id: str) -> AsyncIterator[float]:
        await changed.wait()
        yield time.time()  # a workflow task completed after the first query started
        await asyncio.Event().wait()  # then nothing more

    hub = TimelineHub(fetch, LiveTuning(), changes=pushed)
    try:
        async with hub.subscribe("execution-1") as viewer:
            await eventually(lambda: asyncio.sleep(0, len(calls)), lambda n: n == 1)
            changed.set()
            await asyncio.wait_for(second_started.wait(), timeout=5)
            assert not older_released.is_set() and len(calls) == 2
            older_released.set()
            # The viewer ends on the version that query read (an older one may show first).
            while (await asyncio.wait_for(viewer.next(), 5)).version != 2:
                pass
            await asyncio.sleep(0.3)  # an extra query would start within this: none may
    finally:
        await hub.close()
    assert len(calls) == 2, "one query for the change, not one more once the older returned"

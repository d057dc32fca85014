"""Live updates: the per-process timeline hub on the real Temporal dev server, and the SSE
streams of a real `stepladder web` process (streams never end in an in-process client)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from app.db.tables import StepConfig
from app.domain.identity import DEMO_USERS
from app.executions.service import ExecutionService, UnknownExecution
from app.live.timeline_hub import TimelineHub, timeline_delay
from app.live.tuning import LiveTuning
from app.settings import Settings
from app.temporal.contracts import Timeline
from app.web.app import create_app
from app.web.identity import SESSION_COOKIE, SessionSigner
from tests.conftest import http_client, signed_in
from tests.helpers import eventually, finished, records_flushed, waiting_at
from tests.sse import Event, events
from tests.test_web import HTML, api_start, csrf_token, start_from_form

BOB, CAROL = DEMO_USERS["bob"], DEMO_USERS["carol"]
BASIC = {"name": "Ada Lovelace", "email": "ada@example.com", "tier": "basic"}
CRM_BASIC = ["I have reviewed the customer data", "I confirm this is for PRODUCTION"]


async def run_all_steps_automatically() -> None:
    """Modes as an admin could set them: no step waits, the execution runs straight through."""
    await StepConfig.update({StepConfig.mode: "auto_monitored"}).where(
        StepConfig.step_id.is_in(["create_crm_record", "setup_billing_account"])
    )


def counting(fetch: Callable[..., Awaitable[Timeline]]) -> tuple[Any, dict[str, int]]:
    """`fetch`, counting its calls per execution (the last argument; a method works too)."""
    counts: dict[str, int] = {}

    async def counted(*args: Any) -> Timeline:
        counts[args[-1]] = counts.get(args[-1], 0) + 1
        return await fetch(*args)

    return counted, counts


async def follow(hub: TimelineHub, execution_id: str, seen: Timeline) -> list[Timeline]:
    """Every version one viewer receives until the execution finishes."""
    received = []
    async with hub.subscribe(execution_id, seen=seen) as subscription:
        while not received or not received[-1].finished:
            received.append(await subscription.next())
    return received


async def approve_crm(engine: ExecutionService, execution_id: str) -> None:
    await waiting_at(engine, execution_id, "create_crm_record")
    await engine.decide(
        execution_id, "create_crm_record", CAROL, "approved", confirmations=CRM_BASIC
    )


# --- the hub --------------------------------------------------------------------------------


async def test_one_watcher_serves_every_viewer_so_queries_do_not_grow_with_viewers(
    engine: ExecutionService,
) -> None:
    await run_all_steps_automatically()
    fetch, counts = counting(engine.timeline)
    hub = TimelineHub(fetch, LiveTuning())
    alone = await engine.start("customer_onboarding", BASIC, BOB)
    crowded = await engine.start("customer_onboarding", {**BASIC, "email": "b@example.com"}, BOB)
    first_alone, first_crowded = await hub.snapshot(alone), await hub.snapshot(crowded)

    results = await asyncio.gather(
        follow(hub, alone, first_alone), *(follow(hub, crowded, first_crowded) for _ in range(50))
    )

    for received in results:
        assert received[-1].status == "completed"
        versions = [t.version for t in received]
        assert versions == sorted(set(versions)), "each viewer sees versions in order, once"
    # 50 viewers cost what one viewer costs (give or take a poll), not 50 times as much.
    assert counts[crowded] <= counts[alone] + 3, counts
    await eventually(lambda: asyncio.sleep(0, hub.watched), lambda n: n == 0)


async def test_a_slow_viewer_gets_only_the_latest_version_and_never_holds_up_others(
    engine: ExecutionService,
) -> None:
    await run_all_steps_automatically()
    hub = TimelineHub(engine.timeline, LiveTuning())
    execution_id = await engine.start("customer_onboarding", BASIC, BOB)
    first = await hub.snapshot(execution_id)

    async with hub.subscribe(execution_id, seen=first) as slow:
        fast = await follow(hub, execution_id, first)  # runs to the end while `slow` reads nothing
        caught_up = await slow.next()

    assert fast[-1].finished
    assert caught_up.version == fast[-1].version and caught_up.finished


async def test_concurrent_first_viewers_share_one_query(engine: ExecutionService) -> None:
    fetch, counts = counting(engine.timeline)
    hub = TimelineHub(fetch, LiveTuning())
    execution_id = await engine.start("customer_onboarding", BASIC, BOB)
    await waiting_at(engine, execution_id, "create_crm_record")

    snapshots = await asyncio.gather(*(hub.snapshot(execution_id) for _ in range(20)))

    assert counts[execution_id] == 1
    assert len({t.version for t in snapshots}) == 1


async def test_a_nudge_shows_a_change_at_once_even_while_polling_slowly(
    engine: ExecutionService,
) -> None:
    # Polls 60 s apart: only the nudge can explain a prompt update.
    slow = LiveTuning(fast_interval=60, slow_interval=60, burst_interval=0.05)
    hub = TimelineHub(engine.timeline, slow)
    execution_id = await engine.start("customer_onboarding", BASIC, BOB)
    seen = await waiting_at(engine, execution_id, "create_crm_record")

    async with hub.subscribe(execution_id, seen=seen) as subscription:
        await approve_crm(engine, execution_id)
        hub.nudge(execution_id)
        updated = await asyncio.wait_for(subscription.next(), timeout=5)

    crm = next(s for s in updated.steps if s.id == "create_crm_record")
    assert crm.status != "waiting_approval"


async def test_waiting_executions_are_polled_slowly_and_running_ones_fast(
    engine: ExecutionService,
) -> None:
    tuning = LiveTuning()
    hub = TimelineHub(engine.timeline, tuning)
    execution_id = await engine.start("customer_onboarding", BASIC, BOB)
    waiting = await waiting_at(engine, execution_id, "create_crm_record")

    async with hub.subscribe(execution_id, seen=waiting):
        feed = hub._feeds[execution_id]
        assert timeline_delay(tuning)(feed, waiting) == tuning.slow_interval
        running = Timeline(**{**waiting.__dict__, "steps": waiting.steps[:2]})
        feed.last_change = asyncio.get_running_loop().time()
        assert timeline_delay(tuning)(feed, running) == tuning.fast_interval
        hub.nudge(execution_id)
        assert timeline_delay(tuning)(feed, waiting) == tuning.burst_interval
        # Followed by the history long-poll: only the rare safety query, running or waiting.
        feed.pushed = True
        for timeline in (waiting, running):
            assert timeline_delay(tuning)(feed, timeline) == tuning.timeline_safety_interval
        assert tuning.timeline_safety_interval > tuning.safety_interval


async def test_query_failures_back_off_and_keep_the_viewers(engine: ExecutionService) -> None:
    failures_left = 3

    async def flaky(execution_id: str) -> Timeline:
        nonlocal failures_left
        if failures_left:
            failures_left -= 1
            raise RuntimeError("Temporal is unavailable")
        return await engine.timeline(execution_id)

    hub = TimelineHub(flaky, LiveTuning(fast_interval=0.02, max_backoff=0.2))
    execution_id = await engine.start("customer_onboarding", BASIC, BOB)
    await waiting_at(engine, execution_id, "create_crm_record")

    async with hub.subscribe(execution_id) as subscription:
        timeline = await asyncio.wait_for(subscription.next(), timeout=10)
        assert hub.subscribers == 1

    assert timeline.execution_id == execution_id
    assert hub.query_errors == 3


async def test_the_watcher_stops_when_the_last_viewer_leaves(engine: ExecutionService) -> None:
    hub = TimelineHub(engine.timeline, LiveTuning(linger=0.1))
    execution_id = await engine.start("customer_onboarding", BASIC, BOB)
    await waiting_at(engine, execution_id, "create_crm_record")

    async with hub.subscribe(execution_id) as subscription:
        await subscription.next()
        assert hub.watched == 1
    await eventually(lambda: asyncio.sleep(0, hub.watched), lambda n: n == 0)
    await hub.close()


async def test_an_unknown_execution_is_refused(engine: ExecutionService) -> None:
    hub = TimelineHub(engine.timeline, LiveTuning())
    with pytest.raises(UnknownExecution):
        await hub.snapshot("customer_onboarding-doesnotexist")


# --- the hub in the app: one reader for the page, the htmx answer and the streams -------------

# Polls a minute apart: whatever is read promptly below, a start or a decision caused.
MINUTE = LiveTuning(fast_interval=60, slow_interval=60, burst_interval=60, inbox_interval=60)


async def test_a_decision_costs_one_query_shared_by_its_htmx_answer_and_the_watcher(
    settings: Settings, engine: ExecutionService, monkeypatch: pytest.MonkeyPatch
) -> None:
    execution_id = await engine.start("customer_onboarding", BASIC, BOB)
    await waiting_at(engine, execution_id, "create_crm_record")
    # Watchers query once per workflow task Temporal's history reports: let the records' flush
    # after the wait (one more workflow task) pass first, so only the click's own reads count.
    await records_flushed(engine, execution_id)
    # Every timeline read of the app from here on, through the hub or not.
    read, counts = counting(ExecutionService.timeline)
    monkeypatch.setattr(ExecutionService, "timeline", read)
    app = create_app(settings, live_tuning=MINUTE)
    async with http_client(app) as client:
        hub = app.state.live.timelines
        seen = await hub.snapshot(execution_id)
        async with hub.subscribe(execution_id, seen=seen) as viewer:
            page = await signed_in(client, settings, "carol").get(
                f"/executions/{execution_id}", headers=HTML
            )
            page_queries = counts[execution_id]
            answer = await client.post(
                f"/executions/{execution_id}/steps/create_crm_record/decision",
                data={"_csrf_token": csrf_token(page.text), "action": "approved",
                      "confirmation": CRM_BASIC},
                headers={**HTML, "hx-request": "true"},
            )  # fmt: skip
            pushed = await asyncio.wait_for(viewer.next(), timeout=10)
            queries = counts[execution_id]

    assert page_queries == 1, "the page is served from the watcher's latest timeline"
    assert answer.status_code == 200 and "<html" not in answer.text
    # One query after the decision serves the answer and the watcher alike; more can only come
    # from later workflow tasks of their own (the step's activity done, its records flushed by
    # their timer), each pushed while that query was still in flight on a loaded machine, whose
    # query starts at once — never one per reader.
    assert queries - page_queries in (1, 2, 3), "one query for the answer and the watcher alike"
    assert f'data-version="{pushed.version}"' in answer.text
    crm = next(s for s in pushed.steps if s.id == "create_crm_record")
    assert crm.status != "waiting_approval"
    await engine.cancel(execution_id)


async def test_starts_from_the_form_and_the_api_make_open_inboxes_read_at_once(
    settings: Settings, engine: ExecutionService
) -> None:
    app = create_app(settings, live_tuning=MINUTE)
    async with http_client(app) as client:
        inbox = app.state.live.inbox
        async with inbox.subscribe() as subscription:
            await subscription.next()
            before = inbox.polls
            form = await start_from_form(client, settings, "bob", BASIC)
            assert form.status_code == 303
            await eventually(lambda: asyncio.sleep(0, inbox.polls), lambda n: n > before, 5)
            before = inbox.polls
            api = await api_start(client, BASIC)
            await eventually(lambda: asyncio.sleep(0, inbox.polls), lambda n: n > before, 5)

    await engine.cancel(form.headers["location"].rsplit("/", 1)[-1])
    await engine.cancel(api.json()["execution_id"])


# --- the SSE streams of a real web process --------------------------------------------------


@asynccontextmanager
async def browser_client(
    base_url: str, settings: Settings, user: str
) -> AsyncIterator[httpx.AsyncClient]:
    cookies = {SESSION_COOKIE: SessionSigner.from_settings(settings).sign(user)}
    timeout = httpx.Timeout(30, read=60)
    async with httpx.AsyncClient(base_url=base_url, cookies=cookies, timeout=timeout) as client:
        yield client


async def read_until(stream: AsyncIterator[Event], done: Callable[[Event], bool]) -> list[Event]:
    received = []
    async for event in stream:
        received.append(event)
        if done(event):
            break
    return received


async def test_timeline_stream_sends_now_then_each_change_and_ends_with_the_execution(
    engine: ExecutionService, web_server: str, settings: Settings
) -> None:
    execution_id = await engine.start("customer_onboarding", BASIC, BOB)
    await waiting_at(engine, execution_id, "create_crm_record")

    async with (
        browser_client(web_server, settings, "carol") as client,
        client.stream("GET", f"/executions/{execution_id}/events") as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        stream = events(response)
        first = await anext(stream)
        assert first.event == "timeline"
        assert first.attribute("step-create_crm_record", "data-status") == "waiting_approval"
        assert 'id="timeline"' in first.data and "<html" not in first.data
        # Rendered for this viewer like the page: carol may decide, with her CSRF token.
        assert 'class="decision-form"' in first.data
        assert 'name="_csrf_token" value="' in first.data
        assert 'name="_csrf_token" value=""' not in first.data

        await approve_crm(engine, execution_id)
        moved_on = await read_until(
            stream, lambda e: e.attribute("step-create_crm_record", "data-status") == "completed"
        )
        billing = await waiting_at(engine, execution_id, "setup_billing_account")
        step = next(s for s in billing.steps if s.id == "setup_billing_account")
        assert step.approval is not None
        await engine.decide(
            execution_id, "setup_billing_account", CAROL, "approved",
            confirmations=step.approval.confirmations,
            typed_confirmation=step.approval.typed_phrase,
        )  # fmt: skip
        rest = [event async for event in stream]  # the server ends the stream itself

    assert all(e.event == "timeline" for e in moved_on)
    assert [e.event for e in rest][-1] == "end"
    final = [e for e in rest if e.event == "timeline"][-1]
    assert final.attribute("timeline", "data-status") == "completed"
    versions = [int(e.id) for e in [first, *moved_on, *rest] if e.event == "timeline"]
    assert versions == sorted(set(versions))


async def test_a_stream_skips_the_version_the_page_already_shows_and_sends_the_next(
    engine: ExecutionService, web_server: str, settings: Settings
) -> None:
    execution_id = await engine.start("customer_onboarding", BASIC, BOB)
    shown = await waiting_at(engine, execution_id, "create_crm_record")

    async with (
        browser_client(web_server, settings, "carol") as client,
        client.stream("GET", f"/executions/{execution_id}/events?seen={shown.version}") as response,
    ):
        stream = events(response)
        await approve_crm(engine, execution_id)
        first = await anext(stream)
        # Not the copy the page already shows: the first event is a newer version.
        assert first.event == "timeline" and int(first.id) > shown.version
        assert first.attribute("step-create_crm_record", "data-status") != "waiting_approval"

    # A browser reconnecting says what it got last (Last-Event-ID): nothing older comes again.
    await waiting_at(engine, execution_id, "setup_billing_account")
    await records_flushed(engine, execution_id, "setup_billing_account")
    latest = await engine.timeline(execution_id)
    headers = {"last-event-id": str(latest.version)}
    async with (
        browser_client(web_server, settings, "carol") as client,
        client.stream(
            "GET", f"/executions/{execution_id}/events?seen=1", headers=headers
        ) as response,
    ):
        stream = events(response)
        await engine.cancel(execution_id)
        # Pushed changes: each version the cancellation goes through, all newer than `latest`.
        received = await read_until(
            stream, lambda e: e.attribute("timeline", "data-status") == "cancelled"
        )
        assert all(e.event == "timeline" and int(e.id) > latest.version for e in received)


async def test_a_reconnect_after_the_end_gets_the_final_timeline_and_end_at_once(
    engine: ExecutionService, web_server: str, settings: Settings
) -> None:
    await run_all_steps_automatically()
    execution_id = await engine.start("customer_onboarding", BASIC, BOB)
    await finished(engine, execution_id)

    async with (
        browser_client(web_server, settings, "vera") as client,
        client.stream("GET", f"/executions/{execution_id}/events") as response,
    ):
        received = [event async for event in events(response)]

    assert [e.event for e in received] == ["timeline", "end"]
    assert received[0].attribute("timeline", "data-status") == "completed"


async def test_a_stream_for_an_unknown_execution_is_404(
    web_server: str, settings: Settings, database_url: str
) -> None:
    async with browser_client(web_server, settings, "bob") as client:
        response = await client.get("/executions/customer_onboarding-nope/events")
    assert response.status_code == 404


async def test_streams_need_a_signed_in_user(web_server: str, database_url: str) -> None:
    async with httpx.AsyncClient(base_url=web_server) as client:
        response = await client.get("/approvals/events", headers={"accept": "text/event-stream"})
    assert response.status_code == 401


async def test_many_viewers_of_one_execution_share_one_watcher_and_all_get_each_change(
    engine: ExecutionService, web_server: str, settings: Settings
) -> None:
    execution_id = await engine.start("customer_onboarding", BASIC, BOB)
    await waiting_at(engine, execution_id, "create_crm_record")
    viewers = 10

    async def watch(client: httpx.AsyncClient, opened: asyncio.Event) -> str:
        async with client.stream("GET", f"/executions/{execution_id}/events") as response:
            stream = events(response)
            await anext(stream)
            opened.set()
            changed = await read_until(
                stream,
                lambda e: e.attribute("step-create_crm_record", "data-status") == "completed",
            )
            return changed[-1].attribute("step-create_crm_record", "data-status")

    async with browser_client(web_server, settings, "vera") as client:
        opened = [asyncio.Event() for _ in range(viewers)]
        tasks = [asyncio.create_task(watch(client, ready)) for ready in opened]
        await asyncio.gather(*(ready.wait() for ready in opened))

        stats = (await client.get("/live/stats")).json()
        watcher = stats["executions"][execution_id]
        assert watcher["subscribers"] == viewers
        await approve_crm(engine, execution_id)
        statuses = await asyncio.wait_for(asyncio.gather(*tasks), timeout=30)
        queries = (await client.get("/live/stats")).json()["executions"][execution_id]["queries"]

    assert statuses == ["completed"] * viewers
    # One watcher polling a waiting execution every few seconds, however many viewers.
    assert queries < 20, queries


async def test_the_inbox_stream_shows_a_new_waiting_step_to_approvers(
    engine: ExecutionService, web_server: str, settings: Settings
) -> None:
    async with (
        browser_client(web_server, settings, "carol") as client,
        client.stream("GET", "/approvals/events") as response,
    ):
        stream = events(response)
        first = await anext(stream)
        assert first.event == "approvals"
        execution_id = await engine.start("customer_onboarding", BASIC, BOB)
        shown = await read_until(stream, lambda e: execution_id in e.data)

    item = shown[-1]
    assert f'href="/executions/{execution_id}#step-create_crm_record"' in item.data
    assert "Create CRM Record" in item.data

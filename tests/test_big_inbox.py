"""The inbox pages with a keyset cursor (issue 16): `GET /api/workflows/approvals?limit=&after=`
and /approvals' "Expiring sooner / later" links; a page boundary stays put when steps are
decided or start between requests; a cursor the inbox did not give answers 400 naming it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from app.approvals.inbox import InboxCursor, WaitingApproval, by_expiry, page_of
from app.domain.identity import DEMO_USERS
from app.executions.listing import Cursor
from app.executions.service import ExecutionService
from app.settings import Settings
from tests.conftest import api_headers, signed_in
from tests.helpers import eventually, waiting_at

BOB = DEMO_USERS["bob"]
URL = "/api/workflows/approvals"


def customer(n: int) -> dict[str, str]:
    return {"name": f"Customer {n}", "email": f"c{n}@example.com", "tier": "basic"}


async def start_waiting(engine: ExecutionService, n: int) -> str:
    execution_id = await engine.start("customer_onboarding", customer(n), BOB)
    await waiting_at(engine, execution_id, "create_crm_record")
    return execution_id


async def test_the_inbox_api_pages_by_cursor_and_a_boundary_stays_put_across_changes(
    client: httpx.AsyncClient, engine: ExecutionService
) -> None:
    ids = [await start_waiting(engine, n) for n in range(3)]
    headers = api_headers("carol")

    async def listed() -> list[str]:
        return [i["execution_id"] for i in (await client.get(URL, headers=headers)).json()]

    await eventually(listed, lambda got: got == ids)
    first = await client.get(URL, params={"limit": 2}, headers=headers)
    assert [i["execution_id"] for i in first.json()] == ids[:2]
    cursor = first.headers["X-Next-Cursor"]
    assert 'rel="next"' in first.headers["Link"] and "limit=2" in first.headers["Link"]

    # Between the two requests: the first item is decided and a new step starts waiting.
    reject = f"/api/workflows/executions/{ids[0]}/steps/create_crm_record/reject"
    assert (await client.post(reject, json={"reason": "dup"}, headers=headers)).status_code == 200
    newest = await start_waiting(engine, 3)
    await eventually(listed, lambda got: got == [*ids[1:], newest])

    second = await client.get(URL, params={"limit": 2, "after": cursor}, headers=headers)
    assert [i["execution_id"] for i in second.json()] == [ids[2], newest]  # nothing skipped
    assert "X-Next-Cursor" not in second.headers  # the last page


async def test_a_bad_inbox_cursor_answers_400_naming_the_parameter(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    for bad in ("nonsense", "2026-11-30T08:00:00,,e,s", ",,only-one"):
        response = await client.get(URL, params={"after": bad}, headers=api_headers("carol"))
        assert response.status_code == 400, bad
        assert "after" in response.text
    browser = signed_in(client, settings, "carol")
    page = await browser.get("/approvals", params={"before": "nonsense"})
    assert page.status_code == 400 and "before" in page.text
    assert (
        await client.get(URL, params={"limit": 0}, headers=api_headers("carol"))
    ).status_code == 400


def items(count: int) -> list[WaitingApproval]:
    now = datetime.fromisoformat("2026-11-30T08:00:00+00:00")
    return by_expiry(
        WaitingApproval(f"e{n:03}", "w", "W", "s", "S", "write", "", "bob",
                        now - timedelta(seconds=n % 7), expires_at=now + timedelta(seconds=n // 3))
        for n in range(count)
    )  # fmt: skip


def test_pages_walk_forward_and_back_without_gaps_or_repeats() -> None:
    everything = items(120)
    seen: list[WaitingApproval] = []
    page = page_of(everything, size=50)
    assert page.sooner is None
    while True:
        seen.extend(page.items)
        if page.later is None:
            break
        cursor = InboxCursor.parse(page.later.text)
        page = page_of(everything, after=cursor, size=50)
    assert seen == everything
    back = page_of(
        everything, before=InboxCursor.parse(page.sooner.text if page.sooner else ""), size=50
    )
    assert back.items == everything[50:100] and back.later is not None
    first = page_of(everything, before=back.sooner, size=50)
    assert first.items == everything[:50] and first.sooner is None


def test_a_page_keeps_its_place_when_its_boundary_item_is_gone() -> None:
    everything = items(10)
    page = page_of(everything, size=4)
    assert page.later is not None
    rest = [i for i in everything if i.execution_id != page.later.execution_id]
    assert page_of(rest, after=page.later, size=4).items == everything[4:8]


async def test_the_approvals_page_links_the_next_page_keeping_the_filters(
    client: httpx.AsyncClient, engine: ExecutionService, settings: Settings
) -> None:
    ids = [await start_waiting(engine, n) for n in range(2)]
    page = await eventually(
        lambda: client.get("/approvals", params={"impact": "write"}, headers=api_headers("carol")),
        lambda p: ids[1] in p.text,
    )
    assert page.status_code == 200 and ids[0] in page.text
    assert 'rel="next"' not in page.text  # one page only
    after_first = await client.get(URL, params={"limit": 1}, headers=api_headers("carol"))
    later = await client.get(
        "/approvals",
        params={"impact": "write", "after": after_first.headers["X-Next-Cursor"]},
        headers=api_headers("carol"),
    )
    assert ids[1] in later.text and ids[0] not in later.text
    assert 'rel="prev"' in later.text and "impact=write" in later.text


async def test_pages_read_from_postgresql_walk_the_same_order_as_the_whole_inbox(
    database_url: str,
) -> None:
    from app.approvals.inbox import InboxFilter, for_user, inbox_page, waiting_approvals
    from app.definitions.loader import load_definitions
    from app.settings import REPO_ROOT
    from app.temporal.actions import ACTION_NAMES
    from bench.seed_big import seed

    definitions = load_definitions(REPO_ROOT / "definitions", ACTION_NAMES)
    await seed(database_url, executions=400, step_runs=1000, waiting=230)
    carol, only = DEMO_USERS["carol"], InboxFilter()
    whole = for_user(await waiting_approvals(definitions), carol, only)
    assert len(whole) == 230
    walked: list[WaitingApproval] = []
    page = await inbox_page(definitions, carol, only, size=50)
    while True:
        walked.extend(page.items)
        if page.later is None:
            break
        page = await inbox_page(definitions, carol, only, after=page.later, size=50)
    assert walked == whole
    back = await inbox_page(definitions, carol, only, before=page.sooner, size=50)
    assert back.items == whole[150:200]
    assert (await inbox_page(definitions, DEMO_USERS["vera"], only)).items == []


async def test_pages_merge_steps_with_different_timeouts_unknown_steps_and_ties(
    database_url: str,
) -> None:
    """The page query reads each step's waiting runs apart and merges them: the walk still
    equals the whole inbox's order when steps expire after different timeouts, waiting starts
    tie, a step no definition names waits, and a finished execution still has a waiting row."""
    import dataclasses

    from app.approvals.inbox import InboxFilter, for_user, inbox_page, waiting_approvals
    from app.db.tables import Execution, StepRun
    from app.definitions.loader import load_definitions
    from app.settings import REPO_ROOT
    from app.temporal.actions import ACTION_NAMES

    loaded = load_definitions(REPO_ROOT / "definitions", ACTION_NAMES)
    onboarding = loaded["customer_onboarding"]
    timeouts = {"check_duplicates": 60, "create_crm_record": 7200, "setup_billing_account": 600}
    definitions = {
        **loaded,
        onboarding.id: dataclasses.replace(onboarding, steps=[
            dataclasses.replace(s, approval_timeout_seconds=timeouts.get(s.id, 1800))
            for s in onboarding.steps
        ]),
    }  # fmt: skip
    base = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
    steps = [*timeouts, "gone_step"]
    for n in range(60):
        workflow = "retired_workflow" if n % 13 == 0 else onboarding.id
        step = steps[n % len(steps)]
        since = base + timedelta(minutes=(n * 7) % 50)  # ties across and within steps
        await Execution.insert(
            Execution(execution_id=f"x{n:02d}", workflow_id=workflow, workflow_name="W",
                      definition_hash="h", status="completed" if n == 5 else "running",
                      input={}, started_by="bob", started_at=base)  # type: ignore[call-arg]
        )  # fmt: skip
        await StepRun.insert(
            StepRun(run_key=f"x{n:02d}/{step}", execution_id=f"x{n:02d}", workflow_id=workflow,
                    step_id=step, mode="manual", status="waiting_approval",
                    waiting_since=None if n == 7 else since)  # type: ignore[call-arg]
        )  # fmt: skip
    carol = DEMO_USERS["carol"]
    for only in (InboxFilter(), InboxFilter(workflow_id=onboarding.id)):
        whole = for_user(await waiting_approvals(definitions), carol, only)
        assert len(whole) > 40
        walked: list[WaitingApproval] = []
        page = await inbox_page(definitions, carol, only, size=7)
        while True:
            walked.extend(page.items)
            if page.later is None:
                break
            page = await inbox_page(definitions, carol, only, after=page.later, size=7)
        assert walked == whole
        backward: list[WaitingApproval] = []
        while page.sooner is not None:
            page = await inbox_page(definitions, carol, only, before=page.sooner, size=7)
            backward[:0] = page.items
        assert backward + whole[len(backward) :] == whole and backward == whole[: len(backward)]


def test_a_cursor_pasted_unencoded_still_parses_and_a_bad_one_says_what_is_expected() -> None:
    """The `+` of a cursor's time zone pasted into a URL unencoded arrives as a space."""
    moment = datetime(2026, 11, 30, 11, 42, 48, 930804, tzinfo=UTC)
    cursor = InboxCursor(moment, moment, "customer_onboarding-1", "create_crm_record")
    assert InboxCursor.parse(cursor.text.replace("+", " ")) == cursor
    with pytest.raises(ValueError, match="expected four comma-separated parts"):
        InboxCursor.parse("garbage")
    with pytest.raises(ValueError, match="is not an ISO 8601 time"):
        InboxCursor.parse("soon,later,customer_onboarding-1,create_crm_record")
    listed = Cursor(moment, 42)
    assert Cursor.parse(listed.text.replace("+", " ")) == listed
    with pytest.raises(ValueError, match="ISO 8601 time with zone"):
        Cursor.parse("garbage")

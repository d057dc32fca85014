"""The `when` time filter (zone and relative) and the executions list's keyset paging."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, timezone

import httpx

from app.db.tables import Execution, StepRun
from app.domain.decided_mask import DecidedMask
from app.executions.listing import Cursor, ExecutionFilter, page_executions
from app.settings import Settings
from app.web.presentation import since, when
from tests.conftest import api_headers, signed_in

NOW = datetime(2026, 11, 30, 14, 5, 0, tzinfo=UTC)


def test_when_shows_the_zone_and_how_long_ago() -> None:
    shown = when(datetime(2026, 11, 30, 14, 2, 0, tzinfo=UTC), "started", now=lambda: NOW)
    assert shown == (
        '<time datetime="2026-11-30T14:02:00+00:00" title="2026-11-30 14:02:00 UTC">'
        'started 14:02 UTC · <span class="relative">3 min ago</span></time>'
    )


def test_when_says_in_how_long_for_a_future_moment_and_reads_iso_strings() -> None:
    assert 'expires 14:23 UTC · <span class="relative">in 18 min</span></time>' in when(
        "2026-11-30T14:23:00+00:00", "expires", now=lambda: NOW
    )


def test_when_converts_other_zones_to_utc_and_dates_another_day() -> None:
    paris = datetime(2026, 11, 28, 16, 2, tzinfo=timezone(timedelta(hours=1)))
    shown = when(paris, now=lambda: NOW)
    assert '2026-11-28 15:02 UTC · <span class="relative">1 d 23 h ago</span>' in shown


def test_when_shows_nothing_for_no_moment_and_since_says_a_duration() -> None:
    assert when(None) == "" and when("") == ""
    assert since(NOW - timedelta(minutes=12), now=lambda: NOW) == "12 min"


async def add_executions(
    count: int, start: datetime, workflow_id: str = "customer_onboarding"
) -> None:
    for n in range(count):
        await Execution.insert(
            Execution(
                execution_id=f"page-{start.isoformat()}-{n}",
                workflow_id=workflow_id,
                workflow_name="Customer Onboarding",
                definition_hash="x",
                status="completed",
                input={"name": f"Customer {n}"},
                started_by="bob",
                # Two rows share each second: the id breaks the tie.
                started_at=start + timedelta(seconds=n // 2),
            )
        )


async def test_a_page_boundary_stays_put_when_executions_start_between_requests(
    client: httpx.AsyncClient,
) -> None:
    # A workflow id of its own: the session worker may still record executions other tests
    # started, and those would land on these pages.
    only = ExecutionFilter(workflow_id="paged")
    await add_executions(7, NOW, workflow_id="paged")
    first = await page_executions(only, size=3)
    assert first.newer is None and first.older is not None
    await add_executions(4, NOW + timedelta(hours=1), workflow_id="paged")  # started meanwhile

    second = await page_executions(only, before=first.older, size=3)
    third = await page_executions(only, before=second.older, size=3)

    seen = [r.execution_id for page in (first, second, third) for r in page.rows]
    assert seen == [f"page-{NOW.isoformat()}-{n}" for n in (6, 5, 4, 3, 2, 1, 0)]
    assert third.older is None
    back = await page_executions(only, after=second.newer, size=3)
    assert [r.execution_id for r in back.rows] == [r.execution_id for r in first.rows]


def test_a_cursor_round_trips_and_refuses_a_time_without_zone() -> None:
    cursor = Cursor(NOW, 42)
    assert Cursor.parse(cursor.text) == cursor
    try:
        Cursor.parse("2026-11-30T14:05:00,42")
    except ValueError:
        pass
    else:
        raise AssertionError("a cursor without zone was accepted")


async def test_the_executions_page_has_older_and_newer_links_and_a_bad_cursor_is_400(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await add_executions(60, NOW)
    viewer = signed_in(client, settings, "vera")
    first = await viewer.get("/executions")
    assert "Older →" in first.text and "← Newer" not in first.text
    assert "Customer 59" in first.text  # the key input (customer_onboarding: name)
    bad = await viewer.get("/executions", params={"before": "yesterday"})
    assert bad.status_code == 400 and "before" in bad.text


async def test_the_executions_api_pages_by_cursor_across_inserts_and_says_what_is_wrong(
    client: httpx.AsyncClient,
) -> None:
    await add_executions(7, NOW, workflow_id="paged")  # (see the test above)
    api, only = "/api/workflows/executions", {"workflow_id": "paged", "limit": "3"}
    vera = api_headers("vera")

    async def page(**params: str) -> httpx.Response:
        answer = await client.get(api, params={**only, **params}, headers=vera)
        assert answer.status_code == 200, answer.text
        return answer

    def ids(answer: httpx.Response) -> list[str]:
        return [row["execution_id"] for row in answer.json()]

    first = await page()
    assert "X-Prev-Cursor" not in first.headers and 'rel="next"' in first.headers["Link"]
    await add_executions(4, NOW + timedelta(hours=1), workflow_id="paged")  # started meanwhile
    second = await page(before=first.headers["X-Next-Cursor"])
    # The Link header's URL as given (the filters and the limit kept).
    next_url = second.headers["Link"].split(">;")[0].lstrip("<")
    third = await client.get(next_url, headers=vera)
    assert [*ids(first), *ids(second), *ids(third)] == [
        f"page-{NOW.isoformat()}-{n}" for n in (6, 5, 4, 3, 2, 1, 0)
    ]
    assert "X-Next-Cursor" not in third.headers
    back = await page(after=second.headers["X-Prev-Cursor"])
    assert ids(back) == ids(first)
    for bad, name in (({"limit": "0"}, "limit"), ({"limit": "501"}, "limit"),
                      ({"before": "yesterday"}, "before"), ({"after": "1,2,3"}, "after")):  # fmt: skip
        refused = await client.get(api, params=bad, headers=vera)
        assert refused.status_code == 400 and name in refused.text, (bad, refused.text)


async def test_a_row_waits_while_a_step_the_decided_mask_does_not_hide_still_waits(
    client: httpx.AsyncClient,
) -> None:
    execution_id = "masked-1"
    await Execution.insert(
        Execution(execution_id=execution_id, workflow_id="masked", workflow_name="Masked",
                  definition_hash="x", status="running", input={}, started_by="bob",
                  started_at=NOW)  # type: ignore[call-arg]
    )  # fmt: skip
    for step in ("left", "right"):  # two branches waiting side by side
        await StepRun.insert(
            StepRun(run_key=f"{execution_id}/{step}", execution_id=execution_id,
                    workflow_id="masked", step_id=step, mode="manual",
                    status="waiting_approval")  # type: ignore[call-arg]
        )  # fmt: skip
    mask = DecidedMask(ttl=30.0, clock=time.monotonic)
    only, waiting = (
        ExecutionFilter(workflow_id="masked"),
        ExecutionFilter(workflow_id="masked", waiting=True),
    )

    async def shown(filters: ExecutionFilter) -> list[tuple[str, bool]]:
        page = await page_executions(filters, decided=mask)
        return [(row.execution_id, row.waiting) for row in page.rows]

    assert await shown(waiting) == [(execution_id, True)]
    mask.hide(execution_id, "left")  # one branch announced decided: the other still waits
    assert await shown(waiting) == [(execution_id, True)]
    mask.hide(execution_id, "right")
    assert await shown(only) == [(execution_id, False)]
    assert await shown(waiting) == [], "no step left waiting: not in the waiting list"

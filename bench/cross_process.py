"""A decision through web process A → SSE viewers on web process B (issue 16, target p95 <
250 ms), with the pushed live updates: two `stepladder web` processes and a `stepladder worker`
process on one stack; B's timeline stream and inbox stream are open; the decision is the JSON
API's approve on A; times run from sending it to B's event showing the step no longer waiting
(timeline) and the item gone (inbox). Polling intervals are 60 s, so only pushes count.

The breakdown: the benchmark also LISTENs on the inbox channel itself and times A's answer, the
first `stepladder_inbox` notification of the execution from the worker's records (payload: the
execution id) and the one a web process sends once the decision is accepted (payload: JSON
naming the decided step), each from sending the decision.

Run: `.venv/bin/python -m bench.cross_process [--runs 20]`; prints a Markdown section.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime

import asyncpg
import httpx

from app.db.inbox_channel import CHANNEL
from app.domain.identity import DEMO_USERS
from app.domain.modes import DeploymentMode
from app.executions.service import ExecutionService
from app.web.identity import DEV_USER_HEADER
from bench.report import TABLE_HEAD, machine, row
from bench.scenarios import (
    CRM_CONFIRMATIONS,
    DEFINITIONS,
    PREMIUM,
    automate_every_step,
    set_mode,
    waiting_at,
)
from bench.sse import Event, events
from bench.stack import WebProcess, stack

SLOW = {f"LIVE_{name}": "60" for name in ("SLOW_INTERVAL", "FAST_INTERVAL", "BURST_INTERVAL")}


class Notices:
    """Every `stepladder_inbox` notification this benchmark receives: (perf_counter, payload)."""

    def __init__(self) -> None:
        self.seen: list[tuple[float, str]] = []

    def __call__(self, *args: object) -> None:
        self.seen.append((time.perf_counter(), str(args[3])))

    def first(self, after: float, matches: Callable[[str], bool]) -> float:
        """Milliseconds from `after` to the first notification since then whose payload matches
        (NaN: none)."""
        times = [at for at, payload in self.seen if at >= after and matches(payload)]
        return (min(times) - after) * 1000 if times else float("nan")


async def first_where(stream: AsyncIterator[Event], done: Callable[[Event], bool]) -> float:
    async for event in stream:
        if done(event):
            return time.perf_counter()
    raise RuntimeError("stream ended")


async def one_run(
    service: ExecutionService, a: WebProcess, b: WebProcess, notices: Notices
) -> dict[str, float]:
    execution_id = await service.start("customer_onboarding", PREMIUM, DEMO_USERS["bob"])
    await waiting_at(service, execution_id, "create_crm_record")
    crm_item = f"/executions/{execution_id}#step-create_crm_record"
    timeout = httpx.Timeout(30, read=60)
    async with (
        httpx.AsyncClient(base_url=b.url, headers={DEV_USER_HEADER: "vera"}, timeout=timeout) as v,
        httpx.AsyncClient(base_url=b.url, headers={DEV_USER_HEADER: "carol"}, timeout=timeout) as c,
        v.stream("GET", f"/executions/{execution_id}/events") as timeline_response,
        c.stream("GET", "/approvals/events") as inbox_response,
    ):
        timeline, inbox = events(timeline_response), events(inbox_response)
        await anext(timeline)
        await first_where(inbox, lambda e: crm_item in e.data)  # its record is in PostgreSQL
        left = asyncio.create_task(first_where(
            timeline,
            lambda e: e.attribute("step-create_crm_record", "data-status") != "waiting_approval",
        ))  # fmt: skip
        gone = asyncio.create_task(first_where(inbox, lambda e: crm_item not in e.data))
        await asyncio.sleep(0.1)
        async with httpx.AsyncClient(base_url=a.url, timeout=timeout) as through_a:
            sent = time.perf_counter()
            answer = await through_a.post(
                f"/api/workflows/executions/{execution_id}/steps/create_crm_record/approve",
                json={"confirmations": CRM_CONFIRMATIONS},
                headers={DEV_USER_HEADER: "carol"},
            )
            answered = time.perf_counter()
            answer.raise_for_status()
        seen_timeline, seen_inbox = await asyncio.wait_for(asyncio.gather(left, gone), 30)
        await asyncio.sleep(1.5)  # the worker's records land behind their flush timer
    return {
        "answer": (answered - sent) * 1000,
        "decided_notify": notices.first(sent, lambda p: p.startswith("{") and execution_id in p),
        "records_notify": notices.first(sent, lambda p: p == execution_id),
        "timeline": (seen_timeline - sent) * 1000,
        "inbox": (seen_inbox - sent) * 1000,
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    onboarding = DEFINITIONS["customer_onboarding"]
    runs: list[dict[str, float]] = []
    async with stack("cross") as bench:
        await automate_every_step(onboarding)
        await set_mode(onboarding, "create_crm_record", DeploymentMode.VALIDATION_REQUIRED)
        service = ExecutionService(bench.client, DEFINITIONS, bench.task_queue)
        notices = Notices()
        listener = await asyncpg.connect(bench.database_url)
        await listener.add_listener(CHANNEL, notices)
        with (
            bench.child("-m", "app.cli", "worker"),
            bench.web(**SLOW, LIVE_INBOX_INTERVAL="60") as a,
            bench.web(**SLOW, LIVE_INBOX_INTERVAL="60") as b,
        ):
            for index in range(args.runs + 2):
                measured = await one_run(service, a, b, notices)
                if index >= 2:
                    runs.append(measured)
        await listener.close()
    print(
        f"\n### Decision through web process A → viewers on B — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    )
    print(f"Machine: {machine()}\n")
    print(TABLE_HEAD)
    for run in runs:
        run["inbox_after_answer"] = run["inbox"] - run["answer"]
    for key, name in ROWS:
        values = [r[key] for r in runs if r[key] == r[key]]  # NaN: not seen
        if values:
            print(row(name, values, digits=0))


ROWS = (
    ("timeline", "approve on A (JSON API) → B's timeline stream shows it"),
    ("inbox", "approve on A (JSON API) → B's inbox stream drops the item"),
    ("answer", "breakdown: A answers the approve (update accepted)"),
    ("decided_notify", "breakdown: a web process's `decided` NOTIFY received"),
    ("records_notify", "breakdown: the worker's records NOTIFY received"),
    ("inbox_after_answer", "breakdown: B's inbox drops the item, after A's answer"),
)


if __name__ == "__main__":
    asyncio.run(main())

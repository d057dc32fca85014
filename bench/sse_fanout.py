"""SSE fan-out (issue 4): many browsers watching executions through one `stepladder web` process.

Viewers are real SSE clients (`GET /executions/{id}/events`, signed in like a browser) against a
real `stepladder web` process and a real worker process, on a stack of its own (bench/stack.py:
a Temporal dev server and a scratch PostgreSQL on free ports). For 1, 20 and 200 viewers over 20 executions it measures Temporal `timeline`
queries per second (read from the web process's `/live/stats`), latencies, and the web
process's memory and CPU, in two workloads:

1. running — executions whose steps run by themselves and take 2-8 s each (a `bench_work`
   activity that sleeps), so the timelines keep changing;
2. waiting — customer_onboarding executions paused at Create CRM Record (the usual state of an
   approval workflow); then, with 200 viewers, each is approved through the JSON API (a change
   made through this app, which nudges the watcher).

Latencies: *fan-out* = a viewer has the event − the web process had the new version (sent as
an SSE comment); *change → screen* = a viewer has the event showing a step completed − the
step's `ended_at` in the workflow (includes the polling interval and the query); *approve →
screen* = approve request sent → each viewer has the step shown completed.

Run: `.venv/bin/python -m bench.sse_fanout [--seconds 20]`; prints a Markdown section for
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import signal
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from temporalio.client import Client

from app.db.engine import tables_bound
from app.domain.definitions import WorkflowDefinition, parse_definition
from app.domain.identity import DEMO_USERS
from app.executions.service import ExecutionService
from app.steps.seeding import seed_step_configs
from app.temporal.actions import ACTION_NAMES, ActionActivities, step_action
from app.temporal.contracts import ActionInput, ActionResult, Timeline
from app.web.identity import SESSION_COOKIE, SessionSigner
from bench.report import machine_in_detail, note, percentile
from bench.scenarios import DEFINITIONS, waiting_at
from bench.sse import events
from bench.stack import bench_worker, stack

SECRET = "bench-secret-" + "x" * 32
STEP_STATUS = re.compile(r'data-step="([^"]+)" data-status="([^"]+)"')
CRM_CONFIRMATIONS = ["I have reviewed the customer data", "I confirm this is for PRODUCTION"]


# --- the worker process: the real worker plus one slow activity -----------------------------


class BenchActions(ActionActivities):
    """The real actions plus `bench_work`."""

    @step_action("bench_work")
    async def bench_work(self, inp: ActionInput) -> ActionResult:
        """Work that takes a while, like a call to a slow system."""
        seconds = float(inp.params.get("seconds", 1.0))
        await asyncio.sleep(seconds)
        return ActionResult(summary=f"worked {seconds:.1f}s")


async def run_worker() -> None:
    client = await Client.connect(os.environ["TEMPORAL_ADDRESS"])
    # The real worker's workflows and activities, whatever they are today, plus bench_work.
    worker = bench_worker(client, os.environ["TEMPORAL_TASK_QUEUE"], actions=BenchActions)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    async with tables_bound(os.environ["DATABASE_URL"]), worker:
        await stop.wait()


def long_definition(
    steps: int, rng: random.Random, seconds: tuple[float, float] = (2.0, 8.0)
) -> WorkflowDefinition:
    """`steps` automatic `bench_work` steps taking `seconds` (low, high; drawn by `rng`) each."""
    low, high = seconds
    raw = {
        "id": "bench_long",
        "name": "Bench Long Run",
        "description": f"Steps that take {low:g}-{high:g} s each, all automatic.",
        "inputs": [],
        "steps": [
            {"id": f"work_{n:02d}", "name": f"Work {n}", "action": "bench_work",
             "impact": "accessory", "params": {"seconds": round(rng.uniform(low, high), 2)}}
            for n in range(1, steps + 1)
        ],
    }  # fmt: skip
    return parse_definition(raw, "bench_long", {*ACTION_NAMES, "bench_work"})


# --- measuring ------------------------------------------------------------------------------


def process_sample(pid: int) -> tuple[float, float]:
    """(RSS in MiB, CPU seconds used so far) of a process, from /proc."""
    status = Path(f"/proc/{pid}/status").read_text()
    rss_kib = int(re.search(r"VmRSS:\s+(\d+)", status).group(1))  # type: ignore[union-attr]
    stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return rss_kib / 1024, (int(stat[11]) + int(stat[12])) / ticks


@dataclass
class Viewer:
    execution_id: str
    statuses: dict[str, str] = field(default_factory=dict)
    # (step_id, new status, when the event arrived, when the web process learned of it)
    changes: list[tuple[str, str, float, float]] = field(default_factory=list)
    connected: asyncio.Event = field(default_factory=asyncio.Event)


async def watch(http: httpx.AsyncClient, viewer: Viewer) -> None:
    async with http.stream("GET", f"/executions/{viewer.execution_id}/events") as response:
        response.raise_for_status()
        async for event in events(response):
            if event.event != "timeline":
                continue
            now = time.time()
            published = next(
                (float(c.split()[1]) for c in event.comments if c.startswith("published ")), now
            )
            for step_id, status in STEP_STATUS.findall(event.data):
                if viewer.connected.is_set() and viewer.statuses.get(step_id) != status:
                    viewer.changes.append((step_id, status, now, published))
                viewer.statuses[step_id] = status
            viewer.connected.set()


Placement = Callable[[int, str], httpx.AsyncClient]
"""Which web process (its client) viewer number n, watching an execution, connects to."""


@asynccontextmanager
async def viewers_on(
    http: httpx.AsyncClient | Placement, execution_ids: list[str], count: int,
    connect_within: float = 60,
) -> AsyncIterator[list[Viewer]]:  # fmt: skip
    """`count` viewers spread evenly over the executions (viewer n watches execution n mod
    len), all connected when entered; `http` is the one web process, or a placement."""
    viewers = [Viewer(execution_ids[n % len(execution_ids)]) for n in range(count)]
    place: Placement = http if callable(http) else (lambda _n, _e: http)
    tasks = [asyncio.create_task(watch(place(n, v.execution_id), v)) for n, v in enumerate(viewers)]
    try:
        connected = asyncio.gather(*(v.connected.wait() for v in viewers))
        done, _ = await asyncio.wait(
            [connected, *tasks], timeout=connect_within, return_when=asyncio.FIRST_COMPLETED
        )
        for task in done:
            task.result()  # a viewer that failed to connect stops the run with its reason
        if not connected.done():
            raised = f"{count} viewers did not all connect within {connect_within:.0f} s"
            raise TimeoutError(raised)
        yield viewers
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def stats(http: httpx.AsyncClient) -> dict[str, Any]:
    response = await http.get("/live/stats")
    response.raise_for_status()
    result: dict[str, Any] = response.json()
    return result


@dataclass
class Phase:
    workload: str
    viewers: int
    executions: int
    seconds: float
    queries: int
    rss_mib: float
    cpu_percent: float
    latencies_ms: list[float] = field(default_factory=list)
    fanout_ms: list[float] = field(default_factory=list)

    @property
    def queries_per_second(self) -> float:
        return self.queries / self.seconds


async def measure(
    http: httpx.AsyncClient, web_pid: int, workload: str, execution_ids: list[str],
    count: int, seconds: float,
) -> tuple[Phase, list[Viewer]]:  # fmt: skip
    async with viewers_on(http, execution_ids, count) as viewers:
        note(f"  {count} viewer(s) connected")
        before, (_, cpu_before), started = await stats(http), process_sample(web_pid), time.time()
        await asyncio.sleep(seconds)
        after, (rss, cpu_after), ended = await stats(http), process_sample(web_pid), time.time()
    elapsed = ended - started
    watched = {v.execution_id for v in viewers}
    phase = Phase(
        workload, count, len(watched), elapsed,
        after["timeline_queries"] - before["timeline_queries"], rss,
        100 * (cpu_after - cpu_before) / elapsed,
    )  # fmt: skip
    for viewer in viewers:  # only changes seen inside the window count
        viewer.changes = [c for c in viewer.changes if started <= c[2] <= ended]
    phase.fanout_ms = fanout(viewers)
    return phase, viewers


def fanout(viewers: list[Viewer]) -> list[float]:
    """Per event a viewer received: arrival − when the web process learned of the version."""
    arrivals = {
        (id(v), arrived, published) for v in viewers for *_, arrived, published in v.changes
    }
    return [(arrived - published) * 1000 for _, arrived, published in arrivals]


async def completion_latencies(service: ExecutionService, viewers: list[Viewer]) -> list[float]:
    """Event arrival − the workflow's `ended_at` of the step, for every completion a viewer saw."""
    timelines: dict[str, Timeline] = {}
    latencies = []
    for viewer in viewers:
        if viewer.execution_id not in timelines:
            timelines[viewer.execution_id] = await service.timeline(viewer.execution_id)
        ended = {s.id: s.ended_at for s in timelines[viewer.execution_id].steps}
        for step_id, status, arrived, _ in viewer.changes:
            if status == "completed" and ended.get(step_id):
                latencies.append(
                    (arrived - datetime.fromisoformat(ended[step_id]).timestamp()) * 1000
                )
    return latencies


# --- the run --------------------------------------------------------------------------------


async def main(seconds: float, executions: int, viewers: int) -> None:
    phases: list[Phase] = []
    async with stack("sse") as bench:
        await seed_step_configs(DEFINITIONS.values())
        with (
            bench.child("-m", "bench.sse_fanout", "--worker", SECRET_KEY=SECRET),
            bench.web(SECRET_KEY=SECRET) as web,
        ):
            cookies = {SESSION_COOKIE: SessionSigner(SECRET).sign("vera")}
            limits = httpx.Limits(
                max_connections=viewers + 20, max_keepalive_connections=viewers + 20
            )
            async with httpx.AsyncClient(
                base_url=web.url, cookies=cookies, limits=limits,
                timeout=httpx.Timeout(30, read=None),
            ) as http:  # fmt: skip
                await asyncio.sleep(1)
                idle_rss, _ = process_sample(web.pid)
                service = ExecutionService(bench.client, dict(DEFINITIONS), bench.task_queue)
                await running_phases(http, web.pid, service, seconds, executions, viewers, phases)
                waiting = await waiting_executions(service, executions)
                for count, ids in ((1, waiting[:1]), (executions, waiting)):
                    note(f"waiting: {count} viewer(s)")
                    measured, _ = await measure(http, web.pid, "waiting", ids, count, seconds)
                    phases.append(measured)
                approve_ms, api_ms, phase = await approvals_through_the_app(
                    http, web.pid, waiting, viewers, seconds
                )
                phases.append(phase)
    report(phases, idle_rss, approve_ms, api_ms)


async def running_phases(
    http: httpx.AsyncClient, web_pid: int, service: ExecutionService,
    seconds: float, executions: int, viewers: int, phases: list[Phase],
) -> None:  # fmt: skip
    """1. running: every step runs by itself, 2-8 s each.
    Long enough to outlast the three phases (a query on a closed workflow replays its whole
    history on the worker: not what this measures). Each execution gets its own step durations
    so they do not move in lockstep."""
    rng = random.Random(4)
    steps = int((3 * (seconds + 5) + 30) / 5)
    running = []
    for _ in range(executions):
        service.definitions["bench_long"] = long_definition(steps, rng)
        running.append(await service.start("bench_long", {}, DEMO_USERS["bob"]))
    for count, ids in ((1, running[:1]), (executions, running), (viewers, running)):
        note(f"running: {count} viewer(s)")
        phase, seen = await measure(http, web_pid, "running", ids, count, seconds)
        phase.latencies_ms = await completion_latencies(service, seen)
        phases.append(phase)
    for execution_id in running:
        await service.cancel(execution_id)


async def waiting_executions(service: ExecutionService, executions: int) -> list[str]:
    """2. waiting: customer_onboarding executions paused at Create CRM Record."""
    data = {"name": "Bench", "tier": "basic"}
    waiting = [
        await service.start(
            "customer_onboarding", {**data, "email": f"b{n}@example.com"}, DEMO_USERS["bob"]
        )
        for n in range(executions)
    ]
    for execution_id in waiting:
        await waiting_at(service, execution_id, "create_crm_record")
    return waiting


async def approvals_through_the_app(
    http: httpx.AsyncClient, web_pid: int, waiting: list[str], viewers: int, seconds: float
) -> tuple[list[float], list[float], Phase]:
    """200 viewers on the waiting executions for `seconds`, then each is approved through the
    JSON API while they watch; latency = request sent → each of its viewers' events."""
    note(f"waiting: {viewers} viewers, then approvals through the API")
    async with viewers_on(http, waiting, viewers) as watching:
        before, (_, cpu_before), started = await stats(http), process_sample(web_pid), time.time()
        await asyncio.sleep(seconds)
        after, (rss, cpu_after), ended = await stats(http), process_sample(web_pid), time.time()
        phase = Phase("waiting", viewers, len(waiting), ended - started,
                      after["timeline_queries"] - before["timeline_queries"], rss,
                      100 * (cpu_after - cpu_before) / (ended - started))  # fmt: skip
        headers = {"X-Stepladder-User": "carol"}
        sent: dict[str, float] = {}
        api_ms = []
        for execution_id in waiting:
            sent[execution_id] = time.time()
            response = await http.post(
                f"/api/workflows/executions/{execution_id}/steps/create_crm_record/approve",
                json={"confirmations": CRM_CONFIRMATIONS}, headers=headers,
            )  # fmt: skip
            api_ms.append((time.time() - sent[execution_id]) * 1000)
            response.raise_for_status()
            await asyncio.sleep(0.5)  # one approval at a time, like people clicking
        deadline = time.time() + 30
        while time.time() < deadline and not all(  # noqa: ASYNC110 - polling the viewers' notes
            any(s == "create_crm_record" and st == "completed" for s, st, *_ in v.changes)
            for v in watching
        ):
            await asyncio.sleep(0.1)
    approve_ms = []
    for viewer in watching:
        arrivals = [
            t for s, st, t, _ in viewer.changes if s == "create_crm_record" and st == "completed"
        ]
        if arrivals:
            approve_ms.append((arrivals[0] - sent[viewer.execution_id]) * 1000)
    phase.fanout_ms = fanout(watching)
    return approve_ms, api_ms, phase


def report(
    phases: list[Phase], idle_rss: float, approve_ms: list[float], api_ms: list[float]
) -> None:
    def p50_p95(values: list[float]) -> str:
        if not values:
            return "– | –"
        return f"{percentile(values, 50):.0f} | {percentile(values, 95):.0f}"

    print(f"\n### SSE fan-out — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC\n")
    print(f"Machine: {machine_in_detail()}\n")
    print("| workload | viewers | executions watched | Temporal queries/s | per execution | "
          "change → screen p50 ms | p95 ms | fan-out p50 ms | p95 ms | events | web RSS MiB | "
          "web CPU % |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for p in phases:
        print(f"| {p.workload} | {p.viewers} | {p.executions} | {p.queries_per_second:.1f} | "
              f"{p.queries_per_second / p.executions:.2f} | {p50_p95(p.latencies_ms)} | "
              f"{p50_p95(p.fanout_ms)} | {len(p.fanout_ms)} | {p.rss_mib:.0f} | "
              f"{p.cpu_percent:.0f} |")  # fmt: skip
    print(f"\nWeb process RSS with no viewer: {idle_rss:.0f} MiB.")
    if approve_ms:
        print(f"Approve through the JSON API → step shown completed on every viewer "
              f"({len(approve_ms)} viewers): p50 {percentile(approve_ms, 50):.0f} ms, "
              f"p95 {percentile(approve_ms, 95):.0f} ms (the API call itself: p50 "
              f"{percentile(api_ms, 50):.0f} ms).")  # fmt: skip
    fanned = [ms for p in phases for ms in p.fanout_ms]
    if fanned:
        print(f"Fan-out over all phases (web process has the version → viewer has the event): "
              f"p50 {percentile(fanned, 50):.0f} ms, p95 {percentile(fanned, 95):.0f} ms "
              f"(target p95 < 500 ms).")  # fmt: skip


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20, help="length of each measured phase")
    parser.add_argument("--executions", type=int, default=20)
    parser.add_argument("--viewers", type=int, default=200)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        asyncio.run(run_worker())
    else:
        asyncio.run(main(args.seconds, args.executions, args.viewers))

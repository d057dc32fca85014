"""SSE fan-out at the issue-16 scale: 2 `stepladder web` processes, 200 executions running steps
by themselves, 1,000 SSE viewers (targets: change → screen p95 < 250 ms; Temporal `timeline`
queries/s with 1,000 viewers within 1.2× of with fewer on the same watched executions; web RSS
per process < 250 MiB).

Reuses bench/sse_fanout.py's parts: its worker process (the real worker plus `bench_work`), the
*running* workload (steps of 2-8 s, all automatic), its viewers (real SSE clients signed in as
vera) and its latencies (change → screen: event arrival − the step's `ended_at` in the workflow;
fan-out: arrival − when the web process learned of the version). The viewers all live in this
one client process (asyncio + httpx streams), whose own CPU is measured too.

Phases over the same executions (viewer k of execution e connects to web process (e + k) mod 2,
as a round-robin balancer would spread them):
1. 1 viewer on 1 execution (the latency reference);
2. 200 viewers, 1 per execution: each execution watched through one web process;
3. 400 viewers, 2 per execution: each execution watched through both web processes;
4. 1,000 viewers, 5 per execution: each watched through both (3 on one, 2 on the other).
Queries: 4 vs 3 is the comparison of the same watchers (every execution in both processes);
4 vs 2 shows the cost of a second process watching the same executions.

Run: `.venv/bin/python -m bench.fanout_scale [--seconds 30]`; prints a Markdown section.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
from temporalio.client import Client

from app.domain.identity import DEMO_USERS
from app.executions.service import ExecutionService
from app.steps.seeding import seed_step_configs
from app.web.identity import SESSION_COOKIE, SessionSigner
from bench.report import machine_in_detail, note, percentile
from bench.scenarios import DEFINITIONS
from bench.sse_fanout import (
    SECRET,
    Phase,
    Placement,
    completion_latencies,
    fanout,
    long_definition,
    process_sample,
    viewers_on,
)
from bench.stack import WebProcess, stack

START_PACE = 0.1
"""Seconds between two starts of the running executions."""

PER_EXECUTION = (1, 2, 5)
"""Viewers per execution in the phases after the 1-viewer reference."""


def phases(executions: int) -> list[tuple[int, int]]:
    """(executions watched, viewers) per phase."""
    return [(1, 1)] + [(executions, executions * k) for k in PER_EXECUTION]


@dataclass
class ScaledPhase:
    """A phase over several web processes: `phase` sums queries; per-process RSS and CPU."""

    phase: Phase
    rss_mib: list[float]
    web_cpu_percent: list[float]
    worker_cpu_percent: float
    client_cpu_percent: float


def spread(clients: list[httpx.AsyncClient], executions: int) -> Placement:
    """Viewer k of execution e (viewer n = k·executions + e) → web process (e + k) mod N."""
    return lambda n, _: clients[(n % executions + n // executions) % len(clients)]


def by_execution(clients: list[httpx.AsyncClient], executions: int) -> Placement:
    """Every viewer of execution e → web process e mod N (a balancer hashing the path)."""
    return lambda n, _: clients[(n % executions) % len(clients)]


PLACEMENTS = {"round-robin": spread, "by-execution": by_execution}


async def queries(clients: list[httpx.AsyncClient]) -> int:
    """`timeline` queries made so far by all web processes (their /live/stats)."""
    total = 0
    for http in clients:
        response = await http.get("/live/stats")
        response.raise_for_status()
        total += int(response.json()["timeline_queries"])
    return total


def cpu_seconds(pids: list[int]) -> list[float]:
    return [process_sample(pid)[1] for pid in pids]


async def measure(
    clients: list[httpx.AsyncClient], webs: list[WebProcess], worker_pid: int,
    service: ExecutionService, ids: list[str], count: int, seconds: float,
    placement: str = "round-robin",
) -> ScaledPhase:  # fmt: skip
    pids = [web.pid for web in webs]
    async with viewers_on(PLACEMENTS[placement](clients, len(ids)), ids, count, 300) as viewers:
        note(f"  {count} viewer(s) connected")
        await asyncio.sleep(5)  # let the connection burst settle
        q0, cpu0, w0 = await queries(clients), cpu_seconds(pids), process_sample(worker_pid)[1]
        c0, started = time.process_time(), time.time()
        await asyncio.sleep(seconds)
        q1, cpu1, w1 = await queries(clients), cpu_seconds(pids), process_sample(worker_pid)[1]
        c1, ended = time.process_time(), time.time()
        rss = [process_sample(pid)[0] for pid in pids]
    elapsed = ended - started
    for viewer in viewers:  # only changes seen inside the window count
        viewer.changes = [c for c in viewer.changes if started <= c[2] <= ended]
    web_cpu = [100 * (b - a) / elapsed for a, b in zip(cpu0, cpu1, strict=True)]
    phase = Phase("running", count, len(ids), elapsed, q1 - q0, max(rss), sum(web_cpu))
    phase.fanout_ms = fanout(viewers)
    phase.latencies_ms = await completion_latencies(service, viewers)
    return ScaledPhase(phase, rss, web_cpu, 100 * (w1 - w0) / elapsed, 100 * (c1 - c0) / elapsed)


async def main(
    seconds: float, executions: int, processes: int, step_seconds: tuple[float, float],
    placement: str = "round-robin",
) -> None:  # fmt: skip
    results: list[ScaledPhase] = []
    async with stack("scale") as bench:
        await seed_step_configs(DEFINITIONS.values())
        with (
            bench.child("-m", "bench.sse_fanout", "--worker", SECRET_KEY=SECRET) as worker,
            ExitStack() as running,
        ):
            webs = [running.enter_context(bench.web(SECRET_KEY=SECRET)) for _ in range(processes)]
            idle_rss = [process_sample(web.pid)[0] for web in webs]
            results = await run_phases(
                bench.client,
                bench.task_queue,
                webs,
                worker.pid,
                seconds,
                executions,
                step_seconds,
                placement,
            )
    report(results, idle_rss, processes)


async def run_phases(
    client: Client, task_queue: str, webs: list[WebProcess], worker_pid: int,
    seconds: float, executions: int, step_seconds: tuple[float, float],
    placement: str = "round-robin",
) -> list[ScaledPhase]:  # fmt: skip
    cookies = {SESSION_COOKIE: SessionSigner(SECRET).sign("vera")}
    most = executions * max(PER_EXECUTION)
    limits = httpx.Limits(max_connections=most + 20, max_keepalive_connections=most + 20)
    timeout = httpx.Timeout(60, read=None)
    clients = [
        httpx.AsyncClient(base_url=w.url, cookies=cookies, limits=limits, timeout=timeout)
        for w in webs
    ]
    service = ExecutionService(client, dict(DEFINITIONS), task_queue)
    rng = random.Random(16)
    # Steps enough to outlast every phase (plus connecting); a closed workflow is not the point.
    steps = int((len(phases(executions)) * (seconds + 30) + 60) / (sum(step_seconds) / 2))
    running = []
    for _ in range(executions):
        service.definitions["bench_long"] = long_definition(steps, rng, step_seconds)
        running.append(await service.start("bench_long", {}, DEMO_USERS["bob"]))
        # Paced: 200 first workflow tasks at once starve the worker's threads past the SDK's
        # 2 s deadlock detector on 2 shared cores (seen at 09:22 and 09:36 on 2026-11-30).
        await asyncio.sleep(START_PACE)
    note(f"{executions} executions started ({steps} steps each)")
    results = []
    try:
        for watched, count in phases(executions):
            note(f"running: {count} viewer(s) on {watched} execution(s)")
            results.append(await measure(
                clients, webs, worker_pid, service, running[:watched], count, seconds, placement
            ))  # fmt: skip
    finally:
        for execution_id in running:
            await service.cancel(execution_id)
        for http in clients:
            await http.aclose()
    return results


def report(results: list[ScaledPhase], idle_rss: list[float], processes: int) -> None:
    def p50_p95(values: list[float]) -> str:
        if not values:
            return "– | –"
        return f"{percentile(values, 50):.0f} | {percentile(values, 95):.0f}"

    def each(values: list[float]) -> str:
        return " / ".join(f"{v:.0f}" for v in values)

    print(f"\n### SSE fan-out at full scale — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC\n")
    print(f"Machine: {machine_in_detail()}; {processes} web processes.\n")
    print("| viewers | executions watched | Temporal queries/s | change → screen p50 ms | p95 ms "
          "| fan-out p50 ms | p95 ms | events | web RSS MiB (each) | web CPU % (each) "
          "| worker CPU % | client CPU % |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        p = r.phase
        print(f"| {p.viewers} | {p.executions} | {p.queries_per_second:.1f} | "
              f"{p50_p95(p.latencies_ms)} | {p50_p95(p.fanout_ms)} | {len(p.fanout_ms)} | "
              f"{each(r.rss_mib)} | {each(r.web_cpu_percent)} | {r.worker_cpu_percent:.0f} | "
              f"{r.client_cpu_percent:.0f} |")  # fmt: skip
    print(f"\nWeb RSS with no viewer: {each(idle_rss)} MiB.")
    by_count = {r.phase.viewers: r.phase.queries_per_second for r in results}
    most = max(by_count)
    for fewer in sorted(by_count)[1:-1]:
        if by_count[fewer]:
            print(f"Queries/s, {most} viewers vs {fewer}: {by_count[most] / by_count[fewer]:.2f}×.")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30, help="length of each measured phase")
    parser.add_argument("--executions", type=int, default=200)
    parser.add_argument("--processes", type=int, default=2, help="stepladder web processes")
    parser.add_argument(
        "--step-seconds", type=float, nargs=2, default=(2.0, 8.0), metavar=("LOW", "HIGH"),
        help="how long each step's activity takes (drawn uniformly)",
    )  # fmt: skip
    parser.add_argument(
        "--placement", choices=sorted(PLACEMENTS), default="round-robin",
        help="how viewers are spread over the web processes",
    )  # fmt: skip
    args = parser.parse_args()
    asyncio.run(
        main(
            args.seconds, args.executions, args.processes, tuple(args.step_seconds), args.placement
        )  # fmt: skip
    )

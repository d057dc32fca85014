"""Engine overhead and start latency (issue 3), measured in one run on this machine:

1. a 5-step all-automatic definition (customer_onboarding with every step at its most automatic
   mode) through the Stepladder engine, against a bare Temporal workflow calling the same five
   activities with the same params — alternated run by run; target: engine p50 ≤ 1.5× bare p50;
2. start latency through the JSON API (`POST /api/workflows/executions/start` on a real
   `stepladder web` process over HTTP); target p50 < 30 ms.

Run: `.venv/bin/python -m bench.engine [--runs 40] [--starts 200]`. It runs on a stack of its
own (bench/stack.py: a scratch PostgreSQL and a Temporal dev server on free ports) and prints a
Markdown table for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
from temporalio.client import Client

from app.domain.approval_inputs import defaults
from app.domain.definitions import WorkflowDefinition
from app.domain.templating import render_value
from app.temporal.contracts import ExecutionInput
from app.temporal.workflows import ExecutionWorkflow
from bench.bare_workflow import BareActionsWorkflow, BareInput
from bench.report import TABLE_HEAD, machine, percentile, row
from bench.scenarios import DEFINITIONS, automate_every_step
from bench.stack import Stack, stack


def bare_calls(definition: WorkflowDefinition, data: dict[str, str]) -> list[dict[str, Any]]:
    """The params the engine would render, rendered once here so both run identical activities."""
    context: dict[str, object] = {"input": data, "steps": {}, "execution": {}}
    calls = []
    for step in definition.steps:
        # As the engine does (app/temporal/amendments.py): `approval.*` holds the step's
        # approval-input defaults when the step runs automatically.
        context.pop("approval", None)
        if step.approval_inputs:
            context["approval"] = defaults(step.approval_inputs, context)
        params = render_value(step.params, context)
        calls.append({"action": step.action, "params": params})
        # Later steps read earlier results; give them the values the real actions return.
        context["steps"][step.id] = {"result": {"credit_limit": params.get("credit_limit", 0)}}  # type: ignore[index]
    return calls


async def engine_vs_bare(
    client: Client, queue: str, definition: WorkflowDefinition, runs: int
) -> tuple[list[float], list[float]]:
    engine_ms: list[float] = []
    bare_ms: list[float] = []
    for index in range(runs + 5):  # the first five of each warm up caches and connections
        data = {
            "name": "Bench",
            "email": f"bench-{uuid.uuid4().hex[:10]}@example.com",
            "tier": "premium",
        }
        execution_id = f"bench-engine-{uuid.uuid4().hex[:10]}"
        started = time.perf_counter()
        status = await client.execute_workflow(
            ExecutionWorkflow.run,
            ExecutionInput(execution_id, definition, data, started_by="bench"),
            id=execution_id, task_queue=queue,
        )  # fmt: skip
        engine = (time.perf_counter() - started) * 1000
        assert status == "completed", status
        data["email"] = f"bench-{uuid.uuid4().hex[:10]}@example.com"
        bare_id = f"bench-bare-{uuid.uuid4().hex[:10]}"
        started = time.perf_counter()
        await client.execute_workflow(
            BareActionsWorkflow.run,
            BareInput(bare_id, definition.id, bare_calls(definition, data)),
            id=bare_id, task_queue=queue,
        )  # fmt: skip
        bare = (time.perf_counter() - started) * 1000
        if index >= 5:
            engine_ms.append(engine)
            bare_ms.append(bare)
    return engine_ms, bare_ms


async def raw_start_latency(
    client: Client, queue: str, definition: WorkflowDefinition, starts: int
) -> list[float]:
    """The floor: the same start straight from a Temporal client, no web layer."""
    times = []
    data = {"name": "Bench", "email": "raw@example.com", "tier": "basic"}
    for index in range(starts + 10):
        execution_id = f"bench-raw-{uuid.uuid4().hex[:10]}"
        started = time.perf_counter()
        await client.start_workflow(
            ExecutionWorkflow.run, ExecutionInput(execution_id, definition, data, "bench"),
            id=execution_id, task_queue=queue,
        )  # fmt: skip
        if index >= 10:
            times.append((time.perf_counter() - started) * 1000)
    return times


def api_start_latency(bench: Stack, queue: str, starts: int) -> list[float]:
    """POST …/start on a `stepladder web` process whose starts go to `queue`."""
    body = {"workflow_id": "customer_onboarding",
            "workflow_data": {"name": "Bench", "email": "api@example.com", "tier": "basic"}}  # fmt: skip
    times = []
    with (
        bench.web(TEMPORAL_TASK_QUEUE=queue) as web,
        httpx.Client(base_url=web.url, timeout=10) as http,
    ):
        for index in range(starts + 10):
            started = time.perf_counter()
            response = http.post("/api/workflows/executions/start", json=body,
                                 headers={"X-Stepladder-User": "bob"})  # fmt: skip
            elapsed = (time.perf_counter() - started) * 1000
            assert response.status_code == 201, response.text
            if index >= 10:
                times.append(elapsed)
    return times


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--starts", type=int, default=200, help="0 skips the start latency part")
    args = parser.parse_args()

    definition = DEFINITIONS["customer_onboarding"]
    async with stack("engine") as bench:
        await automate_every_step(definition)
        queue = bench.task_queue
        async with bench.worker(workflows=[BareActionsWorkflow]):
            engine_ms, bare_ms = await engine_vs_bare(bench.client, queue, definition, args.runs)
            if not args.starts:
                print(f"engine/bare p50: {percentile(engine_ms, 50) / percentile(bare_ms, 50):.2f}")
                return
            # Starts on a queue no worker polls measure web + Temporal alone; starts on the
            # worker's queue measure them while the started executions run on the same 2 CPUs.
            idle_queue = f"{queue}-idle"
            raw_ms = await raw_start_latency(bench.client, idle_queue, definition, args.starts)
            start_ms = await asyncio.to_thread(api_start_latency, bench, idle_queue, args.starts)
            busy_ms = await asyncio.to_thread(api_start_latency, bench, queue, args.starts)

    ratio = percentile(engine_ms, 50) / percentile(bare_ms, 50)
    print(f"\n### Engine overhead and API start latency — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    print(f"Machine: {machine()}\n")
    print(TABLE_HEAD)
    print(row("5 automatic steps through the engine", engine_ms))
    print(row("same 5 activities, bare workflow", bare_ms))
    print(row("start from a Temporal client (floor, no web)", raw_ms))
    print(row("POST /api/workflows/executions/start", start_ms))
    print(row("POST …/start while the started executions run", busy_ms))
    print(f"\nEngine / bare (p50): **{ratio:.2f}×** (target ≤ 1.5×) · "
          f"API start p50: **{percentile(start_ms, 50):.1f} ms** (target < 30 ms)")  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main())

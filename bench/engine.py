"""Engine overhead and start latency (issue 3), measured in one run on this machine:

1. a 5-step all-automatic definition (customer_onboarding with every step at its most automatic
   mode) through the Stepladder engine, against a bare Temporal workflow calling the same five
   activities with the same params — alternated run by run; target: engine p50 ≤ 1.5× bare p50;
2. start latency through the JSON API (`POST /api/workflows/executions/start` on a real
   `stepladder web` process over HTTP); target p50 < 30 ms.

Run: `.venv/bin/python -m bench.engine [--runs 40] [--starts 200]`. It starts its own Temporal
dev server, uses the embedded PostgreSQL (port 55432) with a throwaway database, and prints a
Markdown table for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from app.db.engine import bind_tables, migrate
from app.definitions.loader import load_definitions
from app.devstack import EmbeddedPostgres, wait_for_port
from app.domain.definitions import WorkflowDefinition
from app.domain.templating import render_value
from app.settings import REPO_ROOT
from app.temporal.actions import ACTION_NAMES, ACTIONS
from app.temporal.contracts import ExecutionInput
from app.temporal.previews import build_preview
from app.temporal.recording import RECORDING_ACTIVITIES
from app.temporal.worker import workflow_runner
from app.temporal.workflows import ExecutionWorkflow
from bench.bare_workflow import BareActionsWorkflow, BareInput
from tests.helpers import automate_every_step

BIN = Path(sys.executable).parent
DATABASE = "stepladder_bench"


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def bare_calls(definition: WorkflowDefinition, data: dict[str, str]) -> list[dict[str, Any]]:
    """The params the engine would render, rendered once here so both run identical activities."""
    context: dict[str, object] = {"input": data, "steps": {}, "execution": {}}
    calls = []
    for step in definition.steps:
        params = render_value(step.params, context)
        calls.append({"action": step.action, "params": params})
        # Later steps read earlier results; give them the values the real actions return.
        context["steps"][step.id] = {"result": {"credit_limit": params.get("credit_limit", 0)}}  # type: ignore[index]
    return calls


async def engine_vs_bare(client: Client, queue: str, definition: WorkflowDefinition, runs: int):  # type: ignore[no-untyped-def]
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


def api_start_latency(env: dict[str, str], port: int, starts: int) -> list[float]:
    web = subprocess.Popen([str(BIN / "stepladder"), "web"], env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        wait_for_port("127.0.0.1", port, 30, "stepladder web")
        body = {"workflow_id": "customer_onboarding",
                "workflow_data": {"name": "Bench", "email": "api@example.com", "tier": "basic"}}  # fmt: skip
        times = []
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            for index in range(starts + 10):
                started = time.perf_counter()
                response = http.post("/api/workflows/executions/start", json=body,
                                     headers={"X-Stepladder-User": "bob"})  # fmt: skip
                elapsed = (time.perf_counter() - started) * 1000
                assert response.status_code == 201, response.text
                if index >= 10:
                    times.append(elapsed)
        return times
    finally:
        web.terminate()
        web.wait(timeout=30)


def row(name: str, values: list[float]) -> str:
    return (f"| {name} | {len(values)} | {percentile(values, 50):.1f} | "
            f"{percentile(values, 95):.1f} | {statistics.mean(values):.1f} |")  # fmt: skip


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--starts", type=int, default=200, help="0 skips the start latency part")
    args = parser.parse_args()

    postgres = EmbeddedPostgres(REPO_ROOT / ".data" / "postgres", 55432, database=DATABASE)
    postgres.start()
    postgres.ensure_database(DATABASE, fresh=True)
    url = postgres.url_for(DATABASE)
    await migrate(url)
    engine = bind_tables(url)
    await engine.start_connection_pool(min_size=2, max_size=10)
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(BIN / "temporal"), ui=False
    )
    queue = f"bench-{uuid.uuid4().hex[:6]}"
    definition = load_definitions(REPO_ROOT / "definitions", ACTION_NAMES)["customer_onboarding"]
    await automate_every_step(definition)
    try:
        async with Worker(
            env.client, task_queue=queue, workflows=[ExecutionWorkflow, BareActionsWorkflow],
            activities=[*ACTIONS, *RECORDING_ACTIVITIES, build_preview],
            workflow_runner=workflow_runner(),
        ):  # fmt: skip
            engine_ms, bare_ms = await engine_vs_bare(env.client, queue, definition, args.runs)
            # Starts on a queue no worker polls measure web + Temporal alone; starts on the
            # worker's queue measure them while the started executions run on the same 2 CPUs.
            idle_queue = f"{queue}-idle"
            if not args.starts:
                print(f"engine/bare p50: {percentile(engine_ms, 50) / percentile(bare_ms, 50):.2f}")
                return
            raw_ms = await raw_start_latency(env.client, idle_queue, definition, args.starts)
            port = 18000 + os.getpid() % 1000
            web_env = {**os.environ, "DATABASE_URL": url, "PORT": str(port), "HOST": "127.0.0.1",
                       "TEMPORAL_ADDRESS": env.client.service_client.config.target_host}  # fmt: skip
            start_ms = await asyncio.to_thread(
                api_start_latency, {**web_env, "TEMPORAL_TASK_QUEUE": idle_queue}, port, args.starts
            )
            busy_ms = await asyncio.to_thread(
                api_start_latency, {**web_env, "TEMPORAL_TASK_QUEUE": queue}, port, args.starts
            )
    finally:
        await env.shutdown()
        await engine.close_connection_pool()
        postgres.drop_database(DATABASE)
        postgres.stop()

    ratio = percentile(engine_ms, 50) / percentile(bare_ms, 50)
    print(f"\n### Engine overhead and API start latency — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    print(f"Machine: {platform.node()} · {platform.machine()} · {os.cpu_count()} CPUs · "
          f"Python {platform.python_version()}\n")  # fmt: skip
    print("| measurement | n | p50 ms | p95 ms | mean ms |\n|---|---|---|---|---|")
    print(row("5 automatic steps through the engine", engine_ms))
    print(row("same 5 activities, bare workflow", bare_ms))
    print(row("start from a Temporal client (floor, no web)", raw_ms))
    print(row("POST /api/workflows/executions/start", start_ms))
    print(row("POST …/start while the started executions run", busy_ms))
    print(f"\nEngine / bare (p50): **{ratio:.2f}×** (target ≤ 1.5×) · "
          f"API start p50: **{percentile(start_ms, 50):.1f} ms** (target < 30 ms)")  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main())

"""Parallel steps' overhead (issue 12), measured in one run on this machine: a 10-step
definition whose steps 2–6 are independent (`depends_on` the first; step 7 waits for all five,
then 8, 9, 10 in turn) through the Stepladder engine, against a bare Temporal workflow running
the same activities (the five with `asyncio.gather`) — alternated run by run; target: engine
p50 ≤ 1.3× bare p50 end to end.

Every step runs the `bench_work` action (an activity that waits `--work-ms`, like a call to
another system), automatic (accessory impact). Run: `.venv/bin/python -m bench.parallel
[--runs 30] [--work-ms 50]`; it runs on a stack of its own (bench/stack.py) and prints a
Markdown table for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from temporalio.client import Client

from app.domain.definitions import WorkflowDefinition, parse_definition
from app.steps.seeding import seed_step_configs
from app.temporal.actions import ActionActivities, action_names, step_action
from app.temporal.contracts import ActionInput, ActionResult, ExecutionInput
from app.temporal.workflows import ExecutionWorkflow
from bench.parallel_bare import BareParallelWorkflow, BareStages
from bench.report import TABLE_HEAD, machine_in_detail, note, percentile, row
from bench.stack import stack

INDEPENDENT = 5


class ParallelBenchActions(ActionActivities):
    @step_action("bench_work")
    async def bench_work(self, inp: ActionInput) -> ActionResult:
        """Waits `ms` milliseconds, like a call to another system."""
        await asyncio.sleep(float(inp.params.get("ms", 0)) / 1000)
        return ActionResult(summary="done", data={"step": inp.step_id})


def ten_steps(work_ms: int) -> WorkflowDefinition:
    """first → five independent → join → three more: 10 steps."""
    fan = [f"branch_{i}" for i in range(1, INDEPENDENT + 1)]
    tail = ["join", "after_1", "after_2", "after_3"]
    needs: dict[str, list[str]] = {"first": [], **{b: ["first"] for b in fan}, "join": fan}
    previous = "join"
    for step_id in tail[1:]:
        needs[step_id], previous = [previous], step_id
    steps = [{"id": step_id, "name": step_id.replace("_", " ").title(), "action": "bench_work",
              "impact": "accessory", "depends_on": deps, "params": {"ms": work_ms}}
             for step_id, deps in needs.items()]  # fmt: skip
    raw = {"id": "parallel_bench", "name": "Parallel bench", "inputs": [], "steps": steps}
    return parse_definition(raw, "parallel_bench.yaml", action_names(ParallelBenchActions))


def stages(definition: WorkflowDefinition) -> list[list[dict[str, Any]]]:
    """The definition's levels as the bare workflow's stages (same actions, same params)."""
    return [[{"action": definition.step(i).action, "params": definition.step(i).params}
             for i in level] for level in definition.parallel_groups()]  # fmt: skip


async def engine_vs_bare(
    client: Client, queue: str, definition: WorkflowDefinition, runs: int
) -> tuple[list[float], list[float]]:
    engine_ms: list[float] = []
    bare_ms: list[float] = []
    calls = stages(definition)
    for index in range(runs + 5):  # the first five of each warm up caches and connections
        execution_id = f"bench-parallel-{uuid.uuid4().hex[:10]}"
        started = time.perf_counter()
        status = await client.execute_workflow(
            ExecutionWorkflow.run, ExecutionInput(execution_id, definition, {}, "bench"),
            id=execution_id, task_queue=queue,
        )  # fmt: skip
        engine = (time.perf_counter() - started) * 1000
        assert status == "completed", status
        bare_id = f"bench-bare-parallel-{uuid.uuid4().hex[:10]}"
        started = time.perf_counter()
        await client.execute_workflow(
            BareParallelWorkflow.run, BareStages(bare_id, definition.id, calls),
            id=bare_id, task_queue=queue,
        )  # fmt: skip
        bare = (time.perf_counter() - started) * 1000
        if index >= 5:
            engine_ms.append(engine)
            bare_ms.append(bare)
        if index % 10 == 9:
            note(f"{index + 1} pairs run")
    return engine_ms, bare_ms


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--work-ms", type=int, default=50, help="each activity's wait")
    args = parser.parse_args()

    definition = ten_steps(args.work_ms)
    async with stack("parallel") as bench:
        await seed_step_configs([definition])
        worker = bench.worker(workflows=[BareParallelWorkflow], actions=ParallelBenchActions)
        async with worker:
            engine_ms, bare_ms = await engine_vs_bare(
                bench.client, bench.task_queue, definition, args.runs
            )

    ratio = percentile(engine_ms, 50) / percentile(bare_ms, 50)
    print(f"\n### Parallel steps: engine vs bare workflow — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    print(f"Machine: {machine_in_detail()}\n")
    print(f"10 steps, 5 of them independent; each activity waits {args.work_ms} ms "
          f"(critical path: 6 activities, {6 * args.work_ms} ms).\n")  # fmt: skip
    print(TABLE_HEAD)
    print(row("10 steps (5 parallel) through the engine", engine_ms))
    print(row("same activities, bare workflow with asyncio.gather", bare_ms))
    print(f"\nEngine / bare (p50): **{ratio:.2f}×** (target ≤ 1.3×)")


if __name__ == "__main__":
    asyncio.run(main())

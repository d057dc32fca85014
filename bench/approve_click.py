"""Approve-click latency (issue 4): click **Approve & Continue** in Chromium → the timeline on
that page shows the step completed, beside the raw Temporal floor measured in the same run
(the `decide` update sent by a client → the step completed, seen by polling the `timeline`
query; no web layer). Target: p50 within 2× the floor.

Real parts: a `stepladder worker` process and a `stepladder web` process on a Temporal dev
server and the embedded PostgreSQL; headless Chromium via Playwright. Only Create CRM Record
waits (the other steps are set to automatic modes), so each execution needs one decision.
The page's own clock measures the click: `performance.now()` at `click()` and when a
MutationObserver sees the step card's `data-status="completed"`.

Run: `.venv/bin/python -m bench.approve_click [--runs 30]`; prints a Markdown section for
docs/benchmarks.md.
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

from playwright.async_api import Page, async_playwright
from temporalio.testing import WorkflowEnvironment

from app.db.engine import bind_tables, migrate
from app.db.tables import StepConfig
from app.devstack import EmbeddedPostgres, wait_for_port
from app.domain.identity import DEMO_USERS
from app.executions.service import ExecutionService
from app.settings import REPO_ROOT
from tests.browser import CHROMIUM_ARGS, chromium_path
from tests.helpers import CRM_CONFIRMATIONS, DEFINITIONS, automate_every_step, waiting_at

BIN = Path(sys.executable).parent
DATABASE = "stepladder_bench_click"
PREMIUM = {"name": "Click Bench", "email": "click@example.com", "tier": "premium"}

# Resolves with the page time at which the step card first shows "completed".
WATCH_AND_CLICK = """
async (stepId) => {
  const selector = `#step-${stepId}`;
  const done = new Promise((resolve) => {
    const check = () => {
      const card = document.querySelector(selector);
      return card && card.dataset.status === "completed";
    };
    new MutationObserver((_, observer) => {
      if (check()) { observer.disconnect(); resolve(performance.now()); }
    }).observe(document.body, { subtree: true, childList: true, attributes: true });
  });
  const button = document.querySelector(`${selector} button[value="approved"]`);
  const clicked = performance.now();
  button.click();
  return (await done) - clicked;
}
"""


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


async def click_once(page: Page, service: ExecutionService) -> float:
    execution_id = await service.start("customer_onboarding", PREMIUM, DEMO_USERS["bob"])
    await waiting_at(service, execution_id, "create_crm_record")
    await page.goto(f"/executions/{execution_id}")
    card = page.locator("#step-create_crm_record")
    for label in CRM_CONFIRMATIONS:
        await card.get_by_label(label).check()
    elapsed: float = await page.evaluate(WATCH_AND_CLICK, "create_crm_record")
    return elapsed


async def floor_once(service: ExecutionService) -> float:
    execution_id = await service.start("customer_onboarding", PREMIUM, DEMO_USERS["bob"])
    await waiting_at(service, execution_id, "create_crm_record")
    started = time.perf_counter()
    await service.decide(execution_id, "create_crm_record", DEMO_USERS["carol"], "approved",
                         confirmations=CRM_CONFIRMATIONS)  # fmt: skip
    while True:
        timeline = await service.timeline(execution_id)
        if timeline.steps[2].status == "completed":
            return (time.perf_counter() - started) * 1000
        # Every query is a task for the worker too: polling flat out would slow what it measures.
        await asyncio.sleep(0.01)


def spawn(env: dict[str, str]) -> list[subprocess.Popen[bytes]]:
    """The worker and the web server, as in production: separate processes."""
    return [
        subprocess.Popen(
            [str(BIN / "stepladder"), command],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        for command in ("worker", "web")
    ]


def stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        process.terminate()
        process.wait(timeout=30)


def row(name: str, values: list[float]) -> str:
    return (f"| {name} | {len(values)} | {percentile(values, 50):.0f} | "
            f"{percentile(values, 95):.0f} | {statistics.mean(values):.0f} |")  # fmt: skip


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()

    postgres = EmbeddedPostgres(REPO_ROOT / ".data" / "postgres", 55432, database=DATABASE)
    postgres.start()
    postgres.ensure_database(DATABASE, fresh=True)
    url = postgres.url_for(DATABASE)
    await migrate(url)
    engine = bind_tables(url)
    await engine.start_connection_pool(min_size=1, max_size=5)
    await automate_every_step(DEFINITIONS["customer_onboarding"])
    await StepConfig.update({StepConfig.mode: "validation_required"}).where(
        StepConfig.step_id == "create_crm_record"
    )
    temporal = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(BIN / "temporal"), ui=False
    )
    queue = f"click-{uuid.uuid4().hex[:6]}"
    port = 18500 + os.getpid() % 400
    env = {**os.environ, "DATABASE_URL": url, "HOST": "127.0.0.1", "PORT": str(port),
           "TEMPORAL_ADDRESS": temporal.client.service_client.config.target_host,
           "TEMPORAL_TASK_QUEUE": queue, "LOG_LEVEL": "WARNING"}  # fmt: skip
    processes = spawn(env)
    service = ExecutionService(temporal.client, DEFINITIONS, queue)
    clicks: list[float] = []
    floors: list[float] = []
    try:
        wait_for_port("127.0.0.1", port, 30, "stepladder web")
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path=chromium_path(), args=CHROMIUM_ARGS
            )
            context = await browser.new_context(base_url=f"http://127.0.0.1:{port}")
            page = await context.new_page()
            await page.goto("/auth/sign-in")
            await page.get_by_label("Carol Approver").check()
            await page.get_by_role("button", name="Sign in").click()
            await page.wait_for_url("**/")
            for index in range(args.runs + 3):  # three of each warm up
                click = await click_once(page, service)
                floor = await floor_once(service)
                if index >= 3:
                    clicks.append(click)
                    floors.append(floor)
            await browser.close()
    finally:
        stop(processes)
        await temporal.shutdown()
        await engine.close_connection_pool()
        postgres.drop_database(DATABASE)
        postgres.stop()

    ratio = percentile(clicks, 50) / percentile(floors, 50)
    print(
        f"\n### Approve click → step completed on screen — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    )
    print(f"Machine: {platform.node()} · {platform.machine()} · {os.cpu_count()} CPUs · "
          f"Python {platform.python_version()}\n")  # fmt: skip
    print("| measurement | n | p50 ms | p95 ms | mean ms |\n|---|---|---|---|---|")
    print(row("click Approve & Continue → card shows completed (Chromium)", clicks))
    print(row("floor: `decide` update → completed in a `timeline` query", floors))
    print(f"\nClick / floor (p50): **{ratio:.2f}×** (target ≤ 2×)")


if __name__ == "__main__":
    asyncio.run(main())

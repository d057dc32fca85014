"""Approve-click latency (issue 4): click **Approve & Continue** in Chromium → the timeline on
that page shows the step completed, beside the raw Temporal floor measured in the same run
(the `decide` update sent by a client → the step completed, seen by polling the `timeline`
query; no web layer). Target (issue 16): p50 within 1.2× the floor.

Real parts: a `stepladder worker` process and a `stepladder web` process on a stack of its own
(bench/stack.py: a Temporal dev server and a scratch PostgreSQL on free ports); headless
Chromium via Playwright. Only Create CRM Record
waits (the other steps are set to automatic modes), so each execution needs one decision.
The page's own clock measures the click: `performance.now()` at `click()` and when a
MutationObserver sees the step card's `data-status="completed"`.

Run: `.venv/bin/python -m bench.approve_click [--runs 30]`; prints a Markdown section for
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from datetime import UTC, datetime

from playwright.async_api import Page, async_playwright

from app.approvals.service import DecisionService
from app.domain.approvals import Decision, DecisionAction
from app.domain.identity import DEMO_USERS
from app.domain.modes import DeploymentMode
from app.domain.statuses import StepStatus
from app.executions.service import ExecutionService
from bench.chromium import CHROMIUM_ARGS, chromium_path
from bench.report import TABLE_HEAD, machine, percentile, row
from bench.scenarios import (
    CRM_CONFIRMATIONS,
    DEFINITIONS,
    automate_every_step,
    set_mode,
    waiting_at,
)
from bench.stack import stack

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


async def click_once(page: Page, service: ExecutionService) -> float:
    execution_id = await service.start("customer_onboarding", PREMIUM, DEMO_USERS["bob"])
    await waiting_at(service, execution_id, "create_crm_record")
    await page.goto(f"/executions/{execution_id}")
    card = page.locator("#step-create_crm_record")
    for label in CRM_CONFIRMATIONS:
        await card.get_by_label(label).check()
    elapsed: float = await page.evaluate(WATCH_AND_CLICK, "create_crm_record")
    return elapsed


async def floor_once(service: ExecutionService, decisions: DecisionService) -> float:
    execution_id = await service.start("customer_onboarding", PREMIUM, DEMO_USERS["bob"])
    await waiting_at(service, execution_id, "create_crm_record")
    started = time.perf_counter()
    decision = Decision.by(DEMO_USERS["carol"], "create_crm_record", DecisionAction.APPROVED,
                           source="api", confirmations=CRM_CONFIRMATIONS)  # fmt: skip
    await decisions.decide(execution_id, decision)
    while True:
        timeline = await service.timeline(execution_id)
        if timeline.steps[2].status == StepStatus.COMPLETED:
            return (time.perf_counter() - started) * 1000
        # Every query is a task for the worker too: polling flat out would slow what it measures.
        await asyncio.sleep(0.01)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()

    onboarding = DEFINITIONS["customer_onboarding"]
    clicks: list[float] = []
    floors: list[float] = []
    async with stack("click") as bench:
        await automate_every_step(onboarding)
        await set_mode(onboarding, "create_crm_record", DeploymentMode.VALIDATION_REQUIRED)
        service = ExecutionService(bench.client, DEFINITIONS, bench.task_queue)
        decisions = DecisionService(bench.client)
        # The worker and the web server as in production: separate processes.
        with bench.child("-m", "app.cli", "worker"), bench.web() as web:
            async with async_playwright() as playwright:
                browser = await playwright.chromium.launch(
                    executable_path=chromium_path(), args=CHROMIUM_ARGS
                )
                context = await browser.new_context(base_url=web.url)
                page = await context.new_page()
                await page.goto("/auth/sign-in")
                await page.get_by_label("Carol Approver").check()
                await page.get_by_role("button", name="Sign in").click()
                await page.wait_for_url("**/")
                for index in range(args.runs + 3):  # three of each warm up
                    click = await click_once(page, service)
                    floor = await floor_once(service, decisions)
                    if index >= 3:
                        clicks.append(click)
                        floors.append(floor)
                await browser.close()

    ratio = percentile(clicks, 50) / percentile(floors, 50)
    print(
        f"\n### Approve click → step completed on screen — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    )
    print(f"Machine: {machine()}\n")
    print(TABLE_HEAD)
    print(row("click Approve & Continue → card shows completed (Chromium)", clicks, digits=0))
    print(row("floor: `decide` update → completed in a `timeline` query", floors, digits=0))
    print(f"\nClick / floor (p50): **{ratio:.2f}×** (target ≤ 1.2×)")


if __name__ == "__main__":
    asyncio.run(main())

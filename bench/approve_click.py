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

Run: `.venv/bin/python -m bench.approve_click [--runs 30] [--profile DIR]`; prints a Markdown section for
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from playwright.async_api import Page, async_playwright
from temporalio.api.enums.v1 import EventType

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

# Resolves with the page time at which the step card first shows "completed", and (epoch ms,
# the clock the web process and Temporal's event times share on this machine) when each stage of
# the click's path happened in the browser.
WATCH_AND_CLICK = """
async (stepId) => {
  const epoch = () => performance.timeOrigin + performance.now();
  const marks = {};
  const mark = (name) => { if (!(name in marks)) marks[name] = epoch(); };
  const on = (type, handler) => document.addEventListener(type, handler);
  on("htmx:beforeRequest", () => mark("browser.request"));
  on("htmx:afterRequest", () => mark("browser.response"));
  on("htmx:afterSwap", (e) => { if (e.detail.requestConfig) mark("browser.answer_swapped"); });
  let received = 0;
  on("htmx:sseBeforeMessage", (e) => {
    if (e.detail.type !== "timeline") return;
    mark("browser.sse_received");
    received = epoch();
  });
  on("htmx:sseMessage", (e) => { if (e.detail.type === "timeline") mark("browser.sse_swapped"); });
  performance.clearResourceTimings();
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
  marks["browser.click"] = performance.timeOrigin + clicked;
  button.click();
  const completed = await done;
  marks["browser.completed"] = performance.timeOrigin + completed;
  if (received) marks["browser.last_sse_received"] = received;
  const post = performance.getEntriesByType("resource").find((r) => r.name.endsWith("/decision"));
  if (post) {
    marks["browser.post_request_start"] = performance.timeOrigin + post.requestStart;
    marks["browser.post_response_start"] = performance.timeOrigin + post.responseStart;
    marks["browser.post_response_end"] = performance.timeOrigin + post.responseEnd;
  }
  return {elapsed: completed - clicked, marks};
}
"""


async def click_once(
    page: Page, service: ExecutionService, profile: list[dict[str, Any]] | None = None
) -> float:
    execution_id = await service.start("customer_onboarding", PREMIUM, DEMO_USERS["bob"])
    await waiting_at(service, execution_id, "create_crm_record")
    await page.goto(f"/executions/{execution_id}")
    card = page.locator("#step-create_crm_record")
    for label in CRM_CONFIRMATIONS:
        await card.get_by_label(label).check()
    result = await page.evaluate(WATCH_AND_CLICK, "create_crm_record")
    if profile is not None:
        events = await history_marks(service, execution_id)
        profile.append({"execution_id": execution_id, **result["marks"], **events})
    elapsed: float = result["elapsed"]
    return elapsed


async def history_marks(service: ExecutionService, execution_id: str) -> dict[str, float]:
    """When Temporal wrote the events after the decision (epoch ms): the update accepted, the
    activity scheduled / completed, and the workflow tasks after each."""
    history = await service.client.get_workflow_handle(execution_id).fetch_history()
    marks: dict[str, float] = {}
    seen: dict[str, int] = {}
    accepted = False
    for event in history.events:
        name = EventType.Name(event.event_type).removeprefix("EVENT_TYPE_").lower()
        if name == "workflow_execution_update_accepted":
            accepted = True
        if not accepted:
            continue
        seen[name] = seen.get(name, 0) + 1
        marks[f"temporal.{name}.{seen[name]}"] = event.event_time.ToMicroseconds() / 1000
    return marks


async def floor_once(
    service: ExecutionService,
    decisions: DecisionService,
    profile: list[dict[str, Any]] | None = None,
) -> float:
    execution_id = await service.start("customer_onboarding", PREMIUM, DEMO_USERS["bob"])
    await waiting_at(service, execution_id, "create_crm_record")
    started = time.perf_counter()
    epoch = time.time() * 1000 - started * 1000  # perf_counter seconds → epoch ms
    marks: dict[str, float] = {"floor.update_sent": started * 1000 + epoch}
    decision = Decision.by(DEMO_USERS["carol"], "create_crm_record", DecisionAction.APPROVED,
                           source="api", confirmations=CRM_CONFIRMATIONS)  # fmt: skip
    await decisions.decide(execution_id, decision)
    marks["floor.update_returned"] = time.perf_counter() * 1000 + epoch
    while True:
        asked = time.perf_counter()
        timeline = await service.timeline(execution_id)
        if timeline.steps[2].status == StepStatus.COMPLETED:
            if profile is not None:
                marks["floor.last_query_sent"] = asked * 1000 + epoch
                marks["floor.completed_seen"] = time.perf_counter() * 1000 + epoch
                events = await history_marks(service, execution_id)
                profile.append({"execution_id": execution_id, **marks, **events})
            return (time.perf_counter() - started) * 1000
        # Every query is a task for the worker too: polling flat out would slow what it measures.
        await asyncio.sleep(0.01)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument(
        "--profile", type=Path, default=None,
        help="folder for each run's timestamps (clicks.json, floors.json: the browser's events "
        "and Temporal's event times, epoch ms) and a breakdown printed at the end",
    )  # fmt: skip
    args = parser.parse_args()
    click_marks: list[dict[str, Any]] | None = None if args.profile is None else []
    floor_marks: list[dict[str, Any]] | None = None if args.profile is None else []
    if args.profile is not None:
        args.profile.mkdir(parents=True, exist_ok=True)

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
                    warm = index >= 3
                    click = await click_once(page, service, click_marks if warm else None)
                    floor = await floor_once(service, decisions, floor_marks if warm else None)
                    if warm:
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
    if args.profile is not None and click_marks is not None and floor_marks is not None:
        (args.profile / "clicks.json").write_text(json.dumps(click_marks, indent=1))
        (args.profile / "floors.json").write_text(json.dumps(floor_marks, indent=1))
        print_breakdown(click_marks, "browser.click")
        print_breakdown(floor_marks, "floor.update_sent")


def print_breakdown(runs: list[dict[str, Any]], origin: str) -> None:
    """Per stage (a browser event, a Temporal event), its time after `origin` (p50 over the
    runs, ms), in order."""
    offsets: dict[str, list[float]] = {}
    for run in runs:
        for name, at in run.items():
            if isinstance(at, float):
                offsets.setdefault(name, []).append(at - run[origin])
    print(f"\nBreakdown after {origin} (p50 ms, n runs having the stage):")
    for name, values in sorted(offsets.items(), key=lambda item: percentile(item[1], 50)):
        print(f"  {percentile(values, 50):8.1f}  {name}  (n={len(values)})")


if __name__ == "__main__":
    asyncio.run(main())

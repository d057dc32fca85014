"""The parallel timeline in Chromium: two approval panels open at once, side by side in an
"In parallel" group, each approved from the page while the timeline updates live."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, expect
from temporalio.client import Client
from temporalio.worker import Worker

from app.definitions.loader import load_definitions
from app.domain.identity import DEMO_USERS
from app.settings import REPO_ROOT, Settings
from app.steps.seeding import seed_step_configs
from app.temporal.actions import ACTION_NAMES
from bench.stack import web_process
from tests.browser import sign_in
from tests.helpers import Engine, waiting_at

LIVE = 15_000  # ms


def _step(step_id: str, impact: str, depends_on: list[str]) -> dict[str, object]:
    return {"id": step_id, "name": step_id.title(), "action": "send_email", "impact": impact,
            "depends_on": depends_on, "params": {"to": "{{ input.email }}", "subject": step_id}}  # fmt: skip


# A JSON definition, as the web process loads it from its DEFINITIONS_DIR.
PARALLEL_GATES = {
    "id": "parallel_gates", "name": "Parallel gates",
    "inputs": [{"name": "email", "type": "email"}],
    "steps": [_step("welcome", "accessory", []), _step("crm", "write", ["welcome"]),
              _step("billing", "write", ["welcome"]), _step("done", "accessory", ["crm", "billing"])],
}  # fmt: skip


@pytest.fixture(scope="module")
def parallel_web(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`stepladder web` whose definitions folder holds the onboarding YAML and a JSON one."""
    folder = tmp_path_factory.mktemp("definitions")
    shutil.copy(REPO_ROOT / "definitions" / "customer_onboarding.yaml", folder)
    (folder / "parallel_gates.json").write_text(json.dumps(PARALLEL_GATES, indent=2))
    env = {**os.environ, "DATABASE_URL": settings.database_url,
           "TEMPORAL_ADDRESS": settings.temporal_address, "TEMPORAL_TASK_QUEUE": settings.task_queue,
           "LOG_LEVEL": "WARNING", "DEFINITIONS_DIR": str(folder),
           "STEPLADDER_START_RATE_LIMIT": "off"}  # fmt: skip
    with web_process(env) as web:
        yield web.url


async def test_the_parallel_timeline_updates_live_with_two_approval_panels_open(
    browser: Browser, parallel_web: str, temporal_client: Client, settings: Settings,
    worker: Worker, tmp_path: Path,
) -> None:  # fmt: skip
    (tmp_path / "parallel_gates.json").write_text(json.dumps(PARALLEL_GATES))
    definitions = load_definitions(tmp_path, ACTION_NAMES)
    await seed_step_configs(definitions.values())
    engine = Engine(temporal_client, definitions, settings.task_queue)
    execution_id = await engine.start("parallel_gates", {"email": "p@example.com"},
                                      DEMO_USERS["bob"])  # fmt: skip
    await waiting_at(engine, execution_id, "crm")
    await waiting_at(engine, execution_id, "billing")

    page = await sign_in(browser, parallel_web, "Carol Approver")
    await page.goto(f"/executions/{execution_id}")
    group = page.locator(".step-group.parallel")
    await expect(group).to_have_count(1)
    await expect(group).to_contain_text("In parallel")
    crm, billing = group.locator("#step-crm"), group.locator("#step-billing")
    await expect(crm).to_have_attribute("data-status", "waiting_approval")
    await expect(billing).to_have_attribute("data-status", "waiting_approval")
    crm_approve = crm.get_by_role("button", name="Approve & Continue", exact=True)
    billing_approve = billing.get_by_role("button", name="Approve & Continue", exact=True)
    await expect(crm_approve).to_be_visible()
    await expect(billing_approve).to_be_visible()
    await expect(page.locator("#timeline")).to_contain_text("1/4 steps completed")

    await billing_approve.click()
    await expect(page.locator("#step-billing")).to_have_attribute(
        "data-status", "completed", timeout=LIVE
    )
    # The other branch still waits, its panel still open.
    await expect(page.locator("#step-crm")).to_have_attribute("data-status", "waiting_approval")
    await expect(page.locator("#timeline")).to_contain_text("2/4 steps completed")

    # Decided elsewhere (bob through the API): the page follows live, without a reload.
    await engine.decide(execution_id, "crm", DEMO_USERS["bob"], "approved", source="api")
    await expect(page.locator("#step-crm")).to_have_attribute(
        "data-status", "completed", timeout=LIVE
    )
    await expect(page.locator("#timeline")).to_have_attribute(
        "data-status", "completed", timeout=LIVE
    )
    await expect(page.locator("#timeline")).to_contain_text("4/4 steps completed")

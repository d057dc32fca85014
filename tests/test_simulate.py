"""`simulate`: real executions through the API, the real worker and PostgreSQL, promote a step and
injected failures of its real activity demote it again."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

import httpx
from temporalio.worker import Worker

from app.db.tables import FaultInjection, ModeChangeEvent, StepConfig, StepRun
from app.definitions.loader import load_definitions
from app.settings import REPO_ROOT, Settings
from app.simulation import ApiCall, SimulationPlan, simulate
from app.steps.seeding import seed_step_configs
from app.temporal.actions import ACTION_NAMES
from tests.conftest import api_headers, signed_in
from tests.test_cli import SETTING_VARIABLES

DEFINITIONS = load_definitions(REPO_ROOT / "definitions", ACTION_NAMES)
API = "/api/workflows/customer_onboarding/steps"
STEPLADDER = Path(sys.executable).parent / "stepladder"
# Low thresholds so a handful of real runs promote: 3 successes in a row at ≥ 90 %, no waiting
# days, and a 3-run demotion window.
LOW_BAR = {
    "min_success_rate": 90,
    "min_successful_runs": 3,
    "min_days_in_mode": 0,
    "min_consecutive_successes": 3,
    "demotion_window": 3,
}


def asgi_api(client: httpx.AsyncClient) -> ApiCall:
    async def call(method: str, path: str, user: str, body: Any) -> tuple[int, Any]:
        response = await client.request(method, path, headers=api_headers(user), json=body)
        return response.status_code, response.json() if response.content else None

    return call


async def configure(client: httpx.AsyncClient, step_id: str, **changes: Any) -> dict[str, Any]:
    current = (await client.get(f"{API}/{step_id}", headers=api_headers("ada"))).json()
    response = await client.put(
        f"{API}/{step_id}",
        headers=api_headers("ada"),
        json={"version": current["version"], **changes},
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_simulated_runs_promote_check_duplicates_and_injected_failures_demote_it(
    client: httpx.AsyncClient, settings: Settings, worker: Worker
) -> None:
    await seed_step_configs(DEFINITIONS.values())
    # Steps 3 and 4 run by themselves here, so no approval is involved (critical stops at its
    # auto_monitored ceiling); their own promotion is off so only check_duplicates moves.
    await configure(
        client, "create_crm_record", mode="always_auto", reason="simulation", auto_promote=False
    )
    await configure(
        client,
        "setup_billing_account",
        mode="auto_monitored",
        reason="simulation",
        auto_promote=False,
    )
    await configure(client, "check_duplicates", criteria=LOW_BAR)
    lines: list[str] = []

    climbing = await simulate(
        asgi_api(client),
        SimulationPlan("customer_onboarding", runs=4, poll_interval=0.02, seed=1),
        lines.append,
    )

    assert [run.status for run in climbing.runs] == ["completed"] * 4
    modes = [run.steps["check_duplicates"] for run in climbing.runs]
    # Three successes in auto_monitored meet the bar; the fourth execution already runs the step
    # in always_auto, read from step_configs when the step is reached.
    assert modes == [("completed", "auto_monitored")] * 3 + [("completed", "always_auto")]
    assert [(c["from_mode"], c["to_mode"], c["kind"]) for c in climbing.mode_changes] == [
        ("auto_monitored", "always_auto", "promotion")
    ]

    falling = await simulate(
        asgi_api(client),
        SimulationPlan(
            "customer_onboarding",
            runs=3,
            failure_rate=1.0,
            fault_step="check_duplicates",
            poll_interval=0.02,
            seed=2,
        ),
        lines.append,
    )

    assert [run.status for run in falling.runs] == ["failed"] * 3
    modes = [run.steps["check_duplicates"] for run in falling.runs]
    # The window of 3 always_auto runs is 1 success + 2 injected failures = 33 % < 90 %: demoted
    # at once, and the third execution runs the step in auto_monitored again.
    assert modes == [("failed", "always_auto")] * 2 + [("failed", "auto_monitored")]
    assert [(c["from_mode"], c["to_mode"], c["kind"]) for c in falling.mode_changes] == [
        ("always_auto", "auto_monitored", "demotion")
    ]
    failed = await StepRun.select(StepRun.error).where(
        (StepRun.step_id == "check_duplicates") & (StepRun.status == "failed")
    )
    assert len(failed) == 3 and all("injected fault" in row["error"] for row in failed)
    assert await FaultInjection.count() == 0, "simulate clears its fault injection"

    events = await ModeChangeEvent.select().where(ModeChangeEvent.step_id == "check_duplicates")
    assert [(e["kind"], e["changed_by"]) for e in events] == [
        ("promotion", "promotion"),
        ("demotion", "demotion"),
    ]
    promotion, demotion = (json.loads(event["metrics"]) for event in events)
    assert (promotion["successes"], promotion["success_rate"]) == (3, 100.0)
    assert (demotion["total_runs"], demotion["successes"]) == (3, 1)
    config = await StepConfig.objects().get(StepConfig.step_id == "check_duplicates")
    assert (
        config is not None and config.mode == "auto_monitored" and config.updated_by == "demotion"
    )

    # The step's page lists both changes in its mode history.
    signed_in(client, settings, "vera")
    page = await client.get(
        "/workflows/customer_onboarding/steps/check_duplicates", headers={"accept": "text/html"}
    )
    assert page.status_code == 200
    history = page.text.split('id="mode-history"')[1]
    assert 'data-kind="demotion" data-to="auto_monitored"' in history
    assert 'data-kind="promotion" data-to="always_auto"' in history
    assert history.index('data-kind="demotion"') < history.index('data-kind="promotion"')

    output = "\n".join(lines)
    assert "↑ check_duplicates: auto_monitored → always_auto (promotion by promotion" in output
    assert "↓ check_duplicates: always_auto → auto_monitored (demotion by demotion" in output
    assert "fault injection on check_duplicates cleared" in output


async def run_simulate(*args: str, **env: str) -> tuple[int, str, str]:
    clean = {key: value for key, value in os.environ.items() if key not in SETTING_VARIABLES}
    process = await asyncio.create_subprocess_exec(
        str(STEPLADDER), "simulate", *args,
        env={**clean, **env}, cwd=REPO_ROOT,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    # Awaited, not blocking: the test's in-loop worker must keep running the executions.
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=120)
    return process.returncode or 0, stdout.decode(), stderr.decode()


async def test_simulate_command_drives_the_running_app_over_http(
    web_server: str, worker: Worker, database_url: str
) -> None:
    await seed_step_configs(DEFINITIONS.values())
    # Only automatic steps: this test is about the command, not approvals.
    await StepConfig.update({StepConfig.mode: "auto_monitored"}).where(
        StepConfig.step_id.is_in(["create_crm_record", "setup_billing_account"])
    )
    code, stdout, stderr = await run_simulate(
        "--runs", "2", "--step", "send_welcome_email", "--failure-rate", "1",
        "--base-url", web_server,
    )  # fmt: skip
    assert code == 0, stderr
    assert "simulating 2 run(s) of customer_onboarding" in stdout
    assert stdout.count(": failed — send_welcome_email failed in always_auto") == 2
    assert "2 runs: 2 failed" in stdout
    assert "fault injection on send_welcome_email cleared" in stdout
    assert await StepRun.count().where(StepRun.step_id == "send_welcome_email") == 2


async def test_simulate_command_errors_are_one_line() -> None:
    code, _, stderr = await run_simulate("--base-url", "http://127.0.0.1:1", "--runs", "1")
    assert code == 1 and len(stderr.strip().splitlines()) == 1, stderr
    assert stderr.startswith("stepladder simulate: cannot reach Stepladder at http://127.0.0.1:1")

    code, _, stderr = await run_simulate("--failure-rate", "0.5")
    assert code == 1 and len(stderr.strip().splitlines()) == 1
    assert "--failure-rate needs --step" in stderr

"""`/metrics`: HTTP metrics by route template, the live hub's counters and the product metrics
read from the records (waiting approvals, decision latency, outcomes by mode, mode changes) with
the right values after a start and a decision; a slow database leaves the HTTP metrics and
counts a scrape error; the optional METRICS_TOKEN; the worker's Temporal SDK endpoint; the
Grafana dashboard names only metrics that exist."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import asyncpg
import httpx
import pytest
from litestar import Litestar
from prometheus_client.parser import text_string_to_metric_families

from app.db.tables import StepRun
from app.devstack import free_port
from app.executions.service import ExecutionService
from app.settings import REPO_ROOT, Settings, SettingsError
from app.web.app import create_app
from tests.conftest import api_headers, http_client
from tests.helpers import CRM_CONFIRMATIONS, eventually, waiting_at
from tests.test_cli import error_line, run_cli
from tests.test_web_decisions import approve, start

DASHBOARD = REPO_ROOT / "docs" / "grafana-dashboard.json"
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float | None:
    """The sample `name` whose labels include `labels` (exactly one), or None."""
    wanted = set(labels.items())
    found = [v for (n, ls), v in samples.items() if n == name and wanted <= ls]
    assert len(found) <= 1, (name, labels, found)
    return found[0] if found else None


async def scrape(client: httpx.AsyncClient, **headers: str) -> Samples:
    response = await client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return parse(response.text)


CRM = {"workflow": "customer_onboarding", "step": "create_crm_record"}


async def test_metrics_after_a_start_and_a_decision_have_the_right_values(
    client: httpx.AsyncClient, engine: ExecutionService
) -> None:
    before = await scrape(client)  # no identity needed, like /health
    errors_before = value(before, "stepladder_metrics_scrape_errors_total") or 0.0

    execution_id = await start(client)
    await waiting_at(engine, execution_id, "create_crm_record")
    # The waiting step's record lands right after the timeline says so.
    waiting = await eventually(
        lambda: scrape(client), lambda s: value(s, "stepladder_approvals_waiting", **CRM) == 1
    )
    started = value(
        waiting, "stepladder_http_requests_total", method="POST",
        path="/api/workflows/executions/start", status_code="201", app_name="stepladder",
    )  # fmt: skip
    assert started is not None and started >= 1, "HTTP requests are counted by route"
    assert not [ls for (n, ls) in waiting if n == "stepladder_http_requests_total"
                and ("path", f"/api/workflows/executions/{execution_id}") in ls], "no raw paths"  # fmt: skip
    # Steps before the approval ran by themselves, in their automatic modes.
    assert value(waiting, "stepladder_step_outcomes_total", step="validate_email",
                 mode="always_auto", outcome="completed") == 1  # fmt: skip
    assert value(waiting, "stepladder_decision_latency_seconds_count", **CRM) is None

    ok = await approve(client, execution_id, "create_crm_record", "bob",
                       confirmations=CRM_CONFIRMATIONS)  # fmt: skip
    assert ok.status_code == 200, ok.text
    await waiting_at(engine, execution_id, "setup_billing_account")

    # Counted once the step's outcome is recorded (after its action ran).
    after = await eventually(
        lambda: scrape(client),
        lambda s: value(s, "stepladder_decision_latency_seconds_count", **CRM) == 1,
    )
    assert value(after, "stepladder_approvals_waiting", **CRM) is None
    assert value(after, "stepladder_approvals_waiting", workflow="customer_onboarding",
                 step="setup_billing_account") == 1  # fmt: skip
    # Counted from the database: an earlier test's execution finishing in the background may
    # add its own outcome, so this execution's is the difference since the step waited.
    # So the metric must equal what the database holds at the scrape, and hold this one more.
    crm_completed = {"mode": "validation_required", "outcome": "completed", **CRM}
    completed_before = value(waiting, "stepladder_step_outcomes_total", **crm_completed) or 0
    counted = value(after, "stepladder_step_outcomes_total", **crm_completed)
    recorded = await StepRun.count().where(
        (StepRun.workflow_id == "customer_onboarding") & (StepRun.step_id == "create_crm_record")
        & (StepRun.mode == "validation_required") & (StepRun.status == "completed")
    )  # fmt: skip
    assert counted == recorded and counted is not None and counted >= completed_before + 1
    # Decided within seconds: in every bucket from 60 s up, and in +Inf.
    assert value(after, "stepladder_decision_latency_seconds_bucket", le="60.0", **CRM) == 1
    assert value(after, "stepladder_decision_latency_seconds_bucket", le="+Inf", **CRM) == 1
    total = value(after, "stepladder_decision_latency_seconds_sum", **CRM)
    assert total is not None and 0 <= total < 60
    # HTTP metrics are this process's counters (other tests approve too): this one adds one.
    approve_route = {
        "method": "POST", "status_code": "200",
        "path": "/api/workflows/executions/{execution_id}/steps/{step_id}/approve",
    }  # fmt: skip
    for name in (
        "stepladder_http_requests_total",
        "stepladder_http_request_duration_seconds_count",
    ):
        before = value(waiting, name, **approve_route) or 0
        assert value(after, name, **approve_route) == before + 1, name
    assert value(after, "stepladder_notification_failures_total") == 0
    assert value(after, "stepladder_metrics_scrape_errors_total") == errors_before
    # The live hub's counters are in the same output.
    assert value(after, "stepladder_timeline_queries_total") is not None
    assert value(after, "stepladder_live_subscribers") is not None


async def test_mode_changes_are_counted_by_step_kind_and_modes(
    client: httpx.AsyncClient, engine: ExecutionService
) -> None:
    promoted = await client.post(
        "/api/workflows/customer_onboarding/steps/create_crm_record/promote",
        json={"reason": "reviewed"}, headers=api_headers("ada"),
    )  # fmt: skip
    assert promoted.status_code == 200, promoted.text
    samples = await scrape(client)
    changes = [(dict(ls), v) for (n, ls), v in samples.items()
               if n == "stepladder_mode_changes_total"]  # fmt: skip
    assert len(changes) == 1
    labels, count = changes[0]
    assert count == 1
    assert labels["workflow"] == "customer_onboarding" and labels["step"] == "create_crm_record"
    assert labels["from_mode"] == "validation_required" and labels["to_mode"] == "auto_monitored"


async def test_a_slow_database_leaves_out_product_metrics_and_counts_a_scrape_error(
    settings: Settings, database_url: str
) -> None:
    app = create_app(replace(settings, metrics_timeout=0.3))
    blocker = await asyncpg.connect(database_url)
    try:
        async with http_client(app) as client:
            await client.get("/health")
            errors = value(await scrape(client), "stepladder_metrics_scrape_errors_total") or 0.0
            transaction = blocker.transaction()
            await transaction.start()
            await blocker.execute("LOCK TABLE mode_changes IN ACCESS EXCLUSIVE MODE")
            try:
                samples = await asyncio.wait_for(scrape(client), 10)
            finally:
                await transaction.rollback()
    finally:
        await blocker.close()
    assert value(samples, "stepladder_metrics_scrape_errors_total") == errors + 1
    assert not [n for (n, _) in samples if n.startswith("stepladder_step_outcomes")]
    assert value(samples, "stepladder_http_requests_total", path="/health") is not None


async def test_a_metrics_token_is_required_when_set(settings: Settings, database_url: str) -> None:
    app: Litestar = create_app(replace(settings, metrics_token="scrape-me"))
    async with http_client(app) as client:
        assert (await client.get("/metrics")).status_code == 401
        wrong = await client.get("/metrics", headers={"authorization": "Bearer nope"})
        assert wrong.status_code == 401
        await scrape(client, authorization="Bearer scrape-me")


def referenced_metrics(prefix: str) -> set[str]:
    """The metric names starting with `prefix` that the dashboard's queries use."""
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    assert dashboard["title"] and dashboard["panels"]
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    assert exprs, "the dashboard has queries"
    return {name for expr in exprs for name in re.findall(rf"\b({prefix}[a-z_]+)", expr)}


def not_exposed(names: set[str], text: str) -> set[str]:
    """Those of `names` absent from the Prometheus `text` (a family without samples yet counts:
    its HELP line names it without the _total/_bucket/... suffix)."""
    families = list(text_string_to_metric_families(text))
    exposed = {s.name for f in families for s in f.samples} | {f.name for f in families}
    return {
        n for n in names - exposed if re.sub(r"_(total|bucket|sum|count)$", "", n) not in exposed
    }


async def test_every_metric_the_grafana_dashboard_uses_is_in_the_output(
    client: httpx.AsyncClient, engine: ExecutionService
) -> None:
    execution_id = await start(client)
    await waiting_at(engine, execution_id, "create_crm_record")
    text = (await client.get("/metrics")).text
    names = referenced_metrics("stepladder_")
    assert {"stepladder_approvals_waiting", "stepladder_decision_latency_seconds_bucket",
            "stepladder_step_outcomes_total", "stepladder_mode_changes_total",
            "stepladder_http_requests_total", "stepladder_live_subscribers"} <= names  # fmt: skip
    missing = not_exposed(names, text)
    assert not missing, f"the dashboard names metrics /metrics does not expose: {missing}"


async def test_a_worker_process_serves_the_temporal_sdk_metrics(settings: Settings) -> None:
    port = free_port()
    env = {**os.environ, "DATABASE_URL": settings.database_url,
           "TEMPORAL_ADDRESS": settings.temporal_address, "TEMPORAL_TASK_QUEUE": "metrics-probe",
           "HOST": "127.0.0.1", "WORKER_METRICS_PORT": str(port)}  # fmt: skip
    stepladder = Path(sys.executable).parent / "stepladder"
    process = await asyncio.create_subprocess_exec(
        stepladder, "worker", env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        async with httpx.AsyncClient() as http:

            async def served() -> str:
                try:
                    return (await http.get(f"http://127.0.0.1:{port}/metrics")).text
                except httpx.TransportError:
                    return ""

            # Worker metrics appear once its pollers run (client request metrics come first).
            text = await eventually(
                served, lambda t: "temporal_worker_task_slots_available" in t, timeout=30
            )
    finally:
        process.send_signal(signal.SIGINT)
        await asyncio.wait_for(process.wait(), 30)
    assert 'task_queue="metrics-probe"' in text
    missing = not_exposed(referenced_metrics("temporal_"), text)
    assert not missing, f"the dashboard names worker metrics the worker does not expose: {missing}"


async def test_a_rejection_ends_the_wait_too(
    client: httpx.AsyncClient, engine: ExecutionService
) -> None:
    execution_id = await start(client)
    await waiting_at(engine, execution_id, "create_crm_record")
    rejected = await client.post(
        f"/api/workflows/executions/{execution_id}/steps/create_crm_record/reject",
        json={"reason": "wrong tier"}, headers=api_headers("carol"),
    )  # fmt: skip
    assert rejected.status_code == 200, rejected.text
    after = await eventually(
        lambda: scrape(client),
        lambda s: value(s, "stepladder_decision_latency_seconds_count", **CRM) == 1,
    )
    assert value(after, "stepladder_step_outcomes_total", mode="validation_required",
                 outcome="rejected", **CRM) == 1  # fmt: skip
    assert value(after, "stepladder_approvals_waiting", **CRM) is None


async def test_a_wait_cancelled_without_a_decision_is_not_a_decision(
    client: httpx.AsyncClient, engine: ExecutionService
) -> None:
    execution_id = await start(client)
    await waiting_at(engine, execution_id, "create_crm_record")
    await eventually(
        lambda: scrape(client), lambda s: value(s, "stepladder_approvals_waiting", **CRM) == 1
    )
    await engine.cancel(execution_id)
    # The step's cancelled record lands with the execution's end, in one transaction: once the
    # wait is gone from the gauge, the record that could count a decision is written.
    after = await eventually(
        lambda: scrape(client), lambda s: value(s, "stepladder_approvals_waiting", **CRM) is None
    )
    assert value(after, "stepladder_decision_latency_seconds_count", **CRM) is None


def test_metrics_settings_are_read_and_bad_values_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("METRICS_TOKEN", " scrape-me ")
    monkeypatch.setenv("METRICS_TIMEOUT", "0.5")
    monkeypatch.setenv("WORKER_METRICS_PORT", "0")
    built = Settings.from_env()
    assert (built.metrics_token, built.metrics_timeout, built.worker_metrics_port) == (
        "scrape-me",
        0.5,
        0,
    )
    for name, bad in (("WORKER_METRICS_PORT", "70000"), ("METRICS_TIMEOUT", "0"),
                      ("METRICS_TIMEOUT", "soon")):  # fmt: skip
        monkeypatch.setenv(name, bad)
        with pytest.raises(SettingsError, match=name):
            Settings.from_env()
        monkeypatch.delenv(name)


def test_a_worker_whose_metrics_port_is_taken_stops_with_one_line_naming_it(
    settings: Settings, database_url: str
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli("worker", DATABASE_URL=database_url, HOST="127.0.0.1",
                         TEMPORAL_ADDRESS=settings.temporal_address,
                         WORKER_METRICS_PORT=str(port))  # fmt: skip
    line = error_line(result, "worker")
    assert f"WORKER_METRICS_PORT={port}" in line and "in use" in line

"""`stepladder dev` (what `make run` calls) end to end: embedded PostgreSQL and Temporal, the
worker and the web server start, an execution completes, Ctrl-C stops everything, and a second
start on the same DATA_DIR still has the execution."""

from __future__ import annotations

import uuid

import httpx

from app.settings import Settings
from tests.dev_run import (
    READY_MARK,
    USER,
    DevRun,
    RunSetup,
    listening,
    poll_execution,
    run_setup,
    stop_dev,
)

__all__ = ["run_setup"]  # the fixture, used by name


def test_dev_runs_an_execution_stops_on_ctrl_c_and_keeps_its_data(run_setup: RunSetup) -> None:
    runs: list[DevRun] = []
    try:
        # First start: initdb, a fresh Temporal SQLite file, migrations, worker and web.
        first = DevRun(run_setup.env)
        runs.append(first)
        first.wait_until_running()
        assert f"{READY_MARK}127.0.0.1:{run_setup.web_port}/" in first.output

        with httpx.Client(base_url=run_setup.base_url, timeout=10) as http:
            health = http.get("/health")
            assert health.status_code == 200, health.text
            checks = health.json()["checks"]
            assert set(checks) == {"postgresql", "temporal"}
            assert all(check["ok"] for check in checks.values()), checks

            started = http.post(
                "/api/workflows/executions/start",
                headers=USER,
                json={
                    "workflow_id": "customer_onboarding",
                    "workflow_data": {
                        "name": "Run Test",
                        "email": "run-test@example.com",
                        "tier": "basic",
                    },
                },
            )
            assert started.status_code == 201, started.text
            execution_id = started.json()["execution_id"]
            timeline = poll_execution(http, execution_id, approve=True)
            assert [step["status"] for step in timeline["steps"]] == ["completed"] * len(
                timeline["steps"]
            )

        stop_dev(first, run_setup)

        # Second start on the same DATA_DIR: the cluster and the Temporal history are reused.
        second = DevRun(run_setup.env)
        runs.append(second)
        second.wait_until_running()
        with httpx.Client(base_url=run_setup.base_url, timeout=10) as http:
            again = poll_execution(http, execution_id)
            assert again["execution_id"] == execution_id
            assert again["workflow_id"] == "customer_onboarding"
            assert again["started_by"] == "bob"
        stop_dev(second, run_setup)
    finally:
        for run in runs:
            run.kill()


def test_dev_with_configured_services_starts_nothing_embedded(
    run_setup: RunSetup, settings: Settings
) -> None:
    env = {
        **run_setup.env,
        "DATABASE_URL": settings.database_url,
        "TEMPORAL_ADDRESS": settings.temporal_address,
        "TEMPORAL_TASK_QUEUE": f"dev-external-{uuid.uuid4().hex[:6]}",
    }
    run = DevRun(env)
    try:
        run.wait_until_running()
        with httpx.Client(base_url=run_setup.base_url, timeout=10) as http:
            assert http.get("/health").status_code == 200
        assert "embedded" not in run.output
        assert not listening(run_setup.postgres_port)
        assert not listening(run_setup.temporal_port)
        assert not (run_setup.data_dir / "postgres").exists()
        assert not (run_setup.data_dir / "temporal.sqlite").exists()
        stop_dev(run, run_setup)
    finally:
        run.kill()

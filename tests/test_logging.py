"""Structured logs: one JSON line per start, decision and refusal, carrying the request's id, the
execution, the step and the user; standard-library loggers in the same shape; text on a
terminal; the request id accepted from a proxy or made, and answered."""

from __future__ import annotations

import io
import json
import logging
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
import structlog
from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from app.executions.service import ExecutionService
from app.observability.logging import configure_logging, resolve_format
from app.temporal.log_context import ActivityLogContext
from tests.helpers import CRM_CONFIRMATIONS
from tests.test_web_decisions import approve, started_and_waiting


class LogLines(io.StringIO):
    def records(self) -> list[dict[str, Any]]:
        """Every line written, each parsed as JSON (a line that is not JSON fails the test)."""
        return [json.loads(line) for line in self.getvalue().splitlines() if line.strip()]

    def events(self, name: str) -> list[dict[str, Any]]:
        return [record for record in self.records() if record["event"] == name]


@pytest.fixture
def json_logs() -> Iterator[LogLines]:
    """The process's logging as `stepladder` sets it up (LOG_FORMAT=json), onto a buffer; the
    test session's own logging is put back afterwards."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    lines = LogLines()
    configure_logging("INFO", "json", stream=lines)
    try:
        yield lines
    finally:
        structlog.reset_defaults()
        structlog.contextvars.clear_contextvars()
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])


async def test_a_decision_is_one_json_line_carrying_execution_step_user_and_request_id(
    client: httpx.AsyncClient, engine: ExecutionService, json_logs: LogLines
) -> None:
    execution_id = await started_and_waiting(client, engine)
    ok = await approve(client, execution_id, "create_crm_record", "bob",
                       confirmations=CRM_CONFIRMATIONS)  # fmt: skip
    assert ok.status_code == 200, ok.text

    [decision] = json_logs.events("decision.made")
    assert decision["execution_id"] == execution_id
    assert decision["step_id"] == "create_crm_record"
    assert decision["user"] == "bob" and decision["action"] == "approved"
    assert decision["request_id"] == ok.headers["x-request-id"]
    assert decision["level"] == "info" and decision["logger"] == "stepladder.approvals"
    assert decision["timestamp"].endswith("Z")
    [started] = json_logs.events("execution.started")
    assert started["execution_id"] == execution_id and started["user"] == "bob"
    assert started["workflow_id"] == "customer_onboarding"


async def test_a_refused_decision_is_logged_with_why(
    client: httpx.AsyncClient, engine: ExecutionService, json_logs: LogLines
) -> None:
    execution_id = await started_and_waiting(client, engine)
    incomplete = await approve(client, execution_id, "create_crm_record", "bob",
                               confirmations=CRM_CONFIRMATIONS[:1])  # fmt: skip
    assert incomplete.status_code == 422

    [refused] = json_logs.events("decision.refused")
    assert refused["level"] == "warning" and refused["kind"] == "incomplete"
    assert refused["execution_id"] == execution_id and refused["user"] == "bob"
    assert "missing confirmation" in refused["reason"]
    assert not json_logs.events("decision.made")


async def test_the_request_id_is_taken_from_the_proxy_or_made_and_always_answered(
    client: httpx.AsyncClient, json_logs: LogLines
) -> None:
    given = await client.get("/health", headers={"X-Request-ID": "proxy-abc.123"})
    assert given.headers["x-request-id"] == "proxy-abc.123"
    made = await client.get("/health")
    other = await client.get("/health")
    assert len(made.headers["x-request-id"]) == 32
    assert made.headers["x-request-id"] != other.headers["x-request-id"]
    hostile = await client.get("/health", headers={"X-Request-ID": "a b\tc" + "x" * 200})
    assert len(hostile.headers["x-request-id"]) == 32  # not echoed: replaced by one of ours
    # Nothing of one request's context stays behind for the next (nor for the test).
    assert structlog.contextvars.get_contextvars() == {}


def test_standard_library_loggers_write_the_same_json_shape(json_logs: LogLines) -> None:
    logging.getLogger("uvicorn.access").info('%s - "%s %s"', "127.0.0.1", "GET", "/health")
    logging.getLogger("temporalio.worker").info("chatter")  # below the quiet level
    with structlog.contextvars.bound_contextvars(execution_id="x-1"):
        try:
            raise ValueError("boom")
        except ValueError:
            logging.getLogger("stepladder.web").exception("unhandled error")
    access, error = json_logs.records()
    assert access["event"] == '127.0.0.1 - "GET /health"' and access["logger"] == "uvicorn.access"
    assert error["execution_id"] == "x-1" and error["level"] == "error"
    assert "ValueError: boom" in error["exception"]


def test_text_on_a_terminal_and_json_elsewhere() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert resolve_format("auto", Terminal()) == "text"
    assert resolve_format("auto", io.StringIO()) == "json"
    assert resolve_format("json", Terminal()) == "json"
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    text = Terminal()
    try:
        configure_logging("INFO", "auto", stream=text)
        structlog.stdlib.get_logger("stepladder.test").info("decision.made", step_id="s1")
    finally:
        structlog.reset_defaults()
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
    line = text.getvalue()
    assert "decision.made" in line and "step_id" in line and "s1" in line
    assert not line.startswith("{")


@dataclass
class Probe:
    step_id: str


@activity.defn(name="log_probe")
async def log_probe(probe: Probe) -> None:
    structlog.stdlib.get_logger("stepladder.test").info("probe.ran")


@workflow.defn(name="LogProbe")
class LogProbeWorkflow:
    @workflow.run
    async def run(self, step_id: str) -> None:
        await workflow.execute_activity(
            log_probe, Probe(step_id), start_to_close_timeout=timedelta(seconds=10)
        )


async def test_an_activity_logs_with_its_execution_and_step(
    temporal_client: Client, json_logs: LogLines
) -> None:
    queue = f"log-probe-{uuid.uuid4().hex[:8]}"
    worker = Worker(
        temporal_client,
        task_queue=queue,
        workflows=[LogProbeWorkflow],
        activities=[log_probe],
        interceptors=[ActivityLogContext()],  # as build_worker installs it
        workflow_runner=UnsandboxedWorkflowRunner(),  # a probe: this module imports httpx
    )
    async with worker:
        await temporal_client.execute_workflow(
            LogProbeWorkflow.run, "send_welcome_email", id=f"probe-{queue}", task_queue=queue
        )
    [line] = json_logs.events("probe.ran")
    assert line["execution_id"] == f"probe-{queue}" and line["step_id"] == "send_welcome_email"
    assert line["activity"] == "log_probe"

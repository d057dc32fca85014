"""Traces: with tracing on, one trace runs from the HTTP request through the Temporal call
(start, `decide` update) to the workflow and its activities; with it off, nothing is traced."""

from __future__ import annotations

import uuid
from dataclasses import replace

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from temporalio.client import Client

from app.executions.service import ExecutionService
from app.observability.tracing import Tracing
from app.settings import Settings
from app.steps.seeding import seed_step_configs
from app.steps.service import evaluate_after_outcome
from app.temporal.client import connect
from app.temporal.worker import build_worker
from app.web.app import create_app
from tests.conftest import http_client
from tests.helpers import CRM_CONFIRMATIONS, DEFINITIONS, eventually, waiting_at
from tests.test_web_decisions import approve, start


def ancestors(span: ReadableSpan, by_id: dict[int, ReadableSpan]) -> list[ReadableSpan]:
    chain = []
    while span.parent is not None and span.parent.span_id in by_id:
        span = by_id[span.parent.span_id]
        chain.append(span)
    return chain


def server_span(spans: list[ReadableSpan], path: str) -> ReadableSpan:
    [found] = [
        s for s in spans
        if s.kind is SpanKind.SERVER and path in str((s.attributes or {}).get("http.target", s.name))
    ]  # fmt: skip
    return found


@pytest.fixture
async def traced_settings(settings: Settings, database_url: str) -> Settings:
    await seed_step_configs(DEFINITIONS.values())
    return replace(settings, task_queue=f"traced-{uuid.uuid4().hex[:8]}")


async def test_one_trace_runs_from_the_http_request_to_the_activity(
    traced_settings: Settings,
) -> None:
    spans = InMemorySpanExporter()
    tracing = Tracing.with_processors([SimpleSpanProcessor(spans)], "stepladder-test")
    # The worker is built on a traced client, as `stepladder worker` does with tracing on.
    traced = await connect(traced_settings, interceptors=tracing.temporal_interceptors())
    worker = build_worker(
        traced, traced_settings.task_queue, on_outcome=evaluate_after_outcome, fault_injection=False
    )
    reader = ExecutionService(
        Client(traced.service_client), DEFINITIONS, traced_settings.task_queue
    )
    app = create_app(traced_settings, tracing=tracing)
    async with worker, http_client(app) as web:
        execution_id = await start(web)
        await waiting_at(reader, execution_id, "create_crm_record")
        ok = await approve(web, execution_id, "create_crm_record", "bob",
                           confirmations=CRM_CONFIRMATIONS)  # fmt: skip
        assert ok.status_code == 200, ok.text

        async def finished_spans() -> tuple[ReadableSpan, ...]:
            return spans.get_finished_spans()

        # The approved step's action runs on the worker: its span ends the execution's trace.
        await eventually(
            finished_spans,
            lambda done: any(s.name == "RunActivity:create_crm_record" for s in done),
        )

    finished = list(spans.get_finished_spans())
    by_id = {s.context.span_id: s for s in finished}
    start_request = server_span(finished, "/executions/start")
    activities = [s for s in finished if s.name.startswith("RunActivity:")]
    assert activities, [s.name for s in finished]
    for activity in activities:
        chain = ancestors(activity, by_id)
        assert activity.context.trace_id == start_request.context.trace_id
        assert start_request in chain, [s.name for s in chain]
        names = [s.name for s in chain]
        # request → start → the workflow's scheduling of the activity → its run on the worker
        assert "StartWorkflow:StepladderExecution" in names
        assert any(name.startswith("StartActivity:") for name in names)

    # The decision: its request's trace holds the update call; the workflow handles it in the
    # execution's trace (temporalio's design: one trace per execution), linked to that call.
    decide_request = server_span(finished, f"/{execution_id}/steps/create_crm_record/approve")
    [update] = [s for s in finished if s.name == "StartWorkflowUpdate:decide"]
    assert decide_request in ancestors(update, by_id)
    [handled] = [s for s in finished if s.name == "HandleUpdate:decide"]
    assert [link.context.span_id for link in handled.links] == [update.context.span_id]
    assert start_request in ancestors(handled, by_id)


def test_tracing_is_off_without_an_exporter() -> None:
    off = Tracing.from_exporters((), "stepladder-web")
    assert not off.enabled and off.temporal_interceptors() == []
    assert not Tracing.from_exporters(("none",), "stepladder-web").enabled
    on = Tracing.from_exporters(("console",), "stepladder-web")
    assert on.enabled and len(on.temporal_interceptors()) == 1
    on.shutdown()

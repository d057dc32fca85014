"""The worker: the execution workflow and its activity classes, wired to their dependencies, on
one task queue."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from temporalio.client import Client
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from app.db.demo import DemoSystems
from app.db.policies import PolicyStore
from app.db.records import Records
from app.temporal.actions import ActionActivities, FaultSwitch
from app.temporal.log_context import ActivityLogContext
from app.temporal.notifying import NotificationActivities
from app.temporal.policy_checks import PolicyActivities
from app.temporal.previews import PreviewActivities
from app.temporal.recording import LegacyRecordingActivities, OutcomeHook, RecordingActivities
from app.temporal.workflows import ExecutionWorkflow

# Pure, deterministic libraries the workflow uses: loaded once, not re-imported per run;
# opentelemetry for the tracing interceptor's workflow spans (when tracing is on).
PASSTHROUGH_MODULES = ("app.domain", "jinja2", "markupsafe", "yaml", "opentelemetry")


def metrics_runtime(host: str, port: int) -> Runtime | None:
    """The Temporal runtime for the worker's client, serving the SDK's metrics (task slots,
    poll and schedule-to-start latencies, activity and workflow task outcomes) in Prometheus
    format on http://host:port/metrics; None (the default runtime, no endpoint) when port is 0."""
    if not port:
        return None
    return Runtime(
        telemetry=TelemetryConfig(metrics=PrometheusConfig(bind_address=f"{host}:{port}"))
    )


def workflow_runner() -> SandboxedWorkflowRunner:
    """The sandbox the worker (and the replay test) runs the workflow in."""
    return SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules(*PASSTHROUGH_MODULES)
    )


def activity_methods(instance: object) -> list[Callable[..., Any]]:
    """The bound methods of `instance` declared as activities (@activity.defn, step_action)."""
    bound = (getattr(instance, name) for name in dir(type(instance)) if not name.startswith("_"))
    return [m for m in bound if hasattr(m, "__temporal_activity_definition")]


def engine_activities(
    *,
    on_outcome: OutcomeHook,
    fault_injection: bool,
    actions: type[ActionActivities] = ActionActivities,
    notifier: NotificationActivities | None = None,
    policy_time_zone: str = "UTC",
) -> list[Callable[..., Any]]:
    """Every activity the workflow calls, on the engine's data access: the records (with the
    promotion hook `on_outcome`), the actions of `actions` (fault injections applied only when
    `fault_injection`), the previews, and the notifications (`notifier`; default: no channel,
    so a `notify:` naming one shows "not configured" under its step)."""
    notifier = notifier or NotificationActivities({}, public_url="http://127.0.0.1:8000")
    records, demo = Records(), DemoSystems()
    recording = RecordingActivities(records, on_outcome)
    return [
        *activity_methods(recording),
        *activity_methods(LegacyRecordingActivities(recording)),  # older executions only
        *activity_methods(actions(demo, records, FaultSwitch(enabled=fault_injection))),
        *activity_methods(PreviewActivities(demo)),
        *activity_methods(notifier),
        *activity_methods(PolicyActivities(PolicyStore(), policy_time_zone)),
    ]


def build_worker(
    client: Client,
    task_queue: str,
    *,
    on_outcome: OutcomeHook,
    fault_injection: bool,
    actions: type[ActionActivities] = ActionActivities,
    shutdown_grace: float = 0.0,
    notifier: NotificationActivities | None = None,
    policy_time_zone: str = "UTC",
) -> Worker:
    """The worker `stepladder worker` runs. `on_outcome(workflow_id, step_id)` is called for
    each step with a final outcome, inside the transaction recording it (the steps' promotion
    rules); `actions` may be a subclass declaring more actions (tests, benchmarks). On shutdown,
    running activities get `shutdown_grace` seconds to finish before they are cancelled.
    `policy_time_zone`: the daily window of `policy:` rules that give no `time_zone`."""
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[ExecutionWorkflow],
        activities=engine_activities(
            on_outcome=on_outcome,
            fault_injection=fault_injection,
            actions=actions,
            notifier=notifier,
            policy_time_zone=policy_time_zone,
        ),
        workflow_runner=workflow_runner(),
        # The client's interceptors (tracing, when on) apply too: the worker takes them from it.
        interceptors=[ActivityLogContext()],
        graceful_shutdown_timeout=timedelta(seconds=shutdown_grace),
    )

"""The worker: runs the execution workflow and every registered activity on one task queue."""

from __future__ import annotations

from temporalio.client import Client
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from app.temporal.actions import ACTIONS
from app.temporal.previews import build_preview
from app.temporal.recording import RECORDING_ACTIVITIES
from app.temporal.workflows import ExecutionWorkflow

# Pure, deterministic libraries the workflow uses: loaded once, not re-imported per run.
PASSTHROUGH_MODULES = ("app.domain", "jinja2", "markupsafe", "yaml")


def workflow_runner() -> SandboxedWorkflowRunner:
    """The sandbox the worker (and the replay test) runs the workflow in."""
    return SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules(*PASSTHROUGH_MODULES)
    )


def build_worker(client: Client, task_queue: str) -> Worker:
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[ExecutionWorkflow],
        activities=[*ACTIONS, *RECORDING_ACTIVITIES, build_preview],
        workflow_runner=workflow_runner(),
    )

"""The workflows as the API lists them: definitions with their lifecycle state, how often and
when they last ran (one aggregate read), and a workflow's triggers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, fields

from app.db import executions as records
from app.definitions.lifecycle import WorkflowLifecycle
from app.definitions.schemas import TriggerInfo, WorkflowDetail, WorkflowSummary
from app.domain.definitions import WorkflowDefinition
from app.executions.listing import ExecutionFilter, list_executions
from app.executions.schemas import ListedExecution

WEBHOOK_PATH = "/api/workflows/webhooks/{workflow_id}/"


def webhook_url(base_url: str, workflow_id: str) -> str:
    """Where a webhook trigger answers: `base_url` (scheme, host and PATH_PREFIX, no trailing
    slash) + `/api/workflows/webhooks/{workflow_id}/`."""
    return base_url + WEBHOOK_PATH.format(workflow_id=workflow_id)


def triggers_of(definition: WorkflowDefinition, base_url: str) -> list[TriggerInfo]:
    """The definition's schedules (with their spec) then its webhook (with its URL)."""
    found = [
        TriggerInfo(
            type="schedule", id=s.id, cron=list(s.cron),
            interval_seconds=s.interval_seconds or None, time_zone=s.time_zone,
            overlap=s.overlap, paused=s.paused, input=dict(s.input),
        )
        for s in definition.schedules
    ]  # fmt: skip
    found += [
        TriggerInfo(
            type="webhook", id=w.id, webhook_url=webhook_url(base_url, definition.id),
            events=list(w.events), input=dict(w.input),
        )
        for w in definition.webhooks
    ]  # fmt: skip
    return found


def _definition_fields(definition: WorkflowDefinition) -> dict[str, object]:
    return {f.name: getattr(definition, f.name) for f in fields(WorkflowDefinition)}


class WorkflowCatalog:
    """Reads for `GET /api/workflows/` and `GET /api/workflows/{id}/` (PostgreSQL: lifecycle
    states and the executions record)."""

    def __init__(
        self,
        definitions: Mapping[str, WorkflowDefinition],
        lifecycle: WorkflowLifecycle | None = None,
    ) -> None:
        self.definitions = definitions
        self.lifecycle = lifecycle or WorkflowLifecycle()

    async def summaries(self) -> list[WorkflowSummary]:
        """Every loaded definition with its status, execution_count and last_executed_at: two
        queries whatever the number of workflows (states, and one GROUP BY over executions)."""
        states = await self.lifecycle.states()
        counts = await records.execution_counts()
        summaries = []
        for workflow_id, definition in self.definitions.items():
            runs, last = counts.get(workflow_id, (0, None))
            state = states.get(workflow_id)
            summaries.append(
                WorkflowSummary(
                    **_definition_fields(definition),  # type: ignore[arg-type]
                    status=state.state if state else WorkflowSummary.status,
                    execution_count=runs,
                    last_executed_at=last,
                )
            )
        return summaries

    async def detail(
        self, definition: WorkflowDefinition, origin: str, path_prefix: str, recent: int = 10
    ) -> WorkflowDetail:
        """One workflow: its summary, the `recent` newest executions (timeline links under
        `path_prefix`) and its triggers (a webhook's URL: `origin` + `path_prefix` + path,
        `origin` being scheme and host as the client reached the app)."""
        state = await self.lifecycle.state(definition.id)
        counts = await records.execution_counts()
        runs, last = counts.get(definition.id, (0, None))
        rows = await list_executions(ExecutionFilter(workflow_id=definition.id), limit=recent)
        listed = [
            ListedExecution(
                **asdict(row), timeline_url=f"{path_prefix}/executions/{row.execution_id}"
            )
            for row in rows
        ]
        return WorkflowDetail(
            **_definition_fields(definition),  # type: ignore[arg-type]
            status=state.state,
            execution_count=runs,
            last_executed_at=last,
            status_changed_by=state.changed_by,
            status_reason=state.reason,
            recent_executions=listed,
            triggers=triggers_of(definition, origin + path_prefix),
        )

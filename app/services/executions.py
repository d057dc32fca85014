"""Starting executions and reading their timelines and records."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from temporalio.client import Client, WorkflowQueryFailedError
from temporalio.service import RPCError, RPCStatusCode

from app.db.tables import Execution
from app.domain.definitions import WorkflowDefinition, normalise_input, validate_input
from app.domain.identity import User
from app.temporal.contracts import ExecutionInput, Timeline
from app.temporal.workflows import ExecutionWorkflow


class UnknownWorkflow(LookupError):
    def __init__(self, workflow_id: str) -> None:
        super().__init__(f"no workflow definition named {workflow_id!r}")


class UnknownExecution(LookupError):
    def __init__(self, execution_id: str) -> None:
        super().__init__(f"no execution {execution_id!r}")


class InvalidInput(ValueError):
    """Input that cannot start an execution; `errors` maps field → message."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(errors.values()))
        self.errors = errors


@dataclass
class ExecutionService:
    client: Client
    definitions: dict[str, WorkflowDefinition]
    task_queue: str

    def definition(self, workflow_id: str) -> WorkflowDefinition:
        try:
            return self.definitions[workflow_id]
        except KeyError:
            raise UnknownWorkflow(workflow_id) from None

    async def start(self, workflow_id: str, data: dict[str, Any], user: User) -> str:
        definition = self.definition(workflow_id)
        errors = validate_input(definition, data)
        if errors:
            raise InvalidInput(errors)
        execution_id = f"{workflow_id}-{uuid.uuid4().hex[:12]}"
        await self.client.start_workflow(
            ExecutionWorkflow.run,
            ExecutionInput(
                execution_id=execution_id,
                definition=definition,
                input=normalise_input(definition, data),
                started_by=user.name,
            ),
            id=execution_id,
            task_queue=self.task_queue,
        )
        return execution_id

    async def timeline(self, execution_id: str) -> Timeline:
        handle = self.client.get_workflow_handle(execution_id)
        try:
            return await handle.query(ExecutionWorkflow.timeline)
        except RPCError as exc:
            if exc.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.INVALID_ARGUMENT):
                raise UnknownExecution(execution_id) from None
            raise
        except WorkflowQueryFailedError:
            raise UnknownExecution(execution_id) from None

    async def recent(self, limit: int = 50, workflow_id: str = "") -> list[dict[str, Any]]:
        query = Execution.select().order_by(Execution.started_at, ascending=False).limit(limit)
        if workflow_id:
            query = query.where(Execution.workflow_id == workflow_id)
        return list(await query)

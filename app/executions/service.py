"""Starting executions and reading their timelines and records."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from temporalio.client import Client, WorkflowQueryFailedError, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from app.db.tables import Execution
from app.domain.approvals import RefusalKind
from app.domain.definitions import WorkflowDefinition, normalise_input, validate_input
from app.domain.identity import User
from app.temporal.contracts import DecisionInput, DecisionOutcome, ExecutionInput, Timeline
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


class DecisionRefused(Exception):
    """The workflow refused a decision; `kind` says why (maps to 409, 403, 422 or 404)."""

    def __init__(self, kind: RefusalKind, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


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

    async def decide(
        self,
        execution_id: str,
        step_id: str,
        user: User,
        action: str,
        *,
        confirmations: list[str] | None = None,
        typed_confirmation: str = "",
        reason: str = "",
        source: str = "web",
    ) -> DecisionOutcome:
        """Send a decision as the workflow's `decide` update; its validator's refusal (stale,
        duplicate, unauthorised or incomplete) comes back as DecisionRefused."""
        handle = self.client.get_workflow_handle(execution_id)
        decision = DecisionInput(
            step_id=step_id,
            user_id=user.name,
            action=action,
            reason=reason.strip(),
            confirmations=list(confirmations or []),
            typed_confirmation=typed_confirmation,
            source=source,
            roles=sorted(user.roles),
            groups=sorted(user.groups),
        )
        try:
            return await handle.execute_update(ExecutionWorkflow.decide, decision)
        except WorkflowUpdateFailedError as exc:
            cause = exc.cause
            kinds = RefusalKind.__members__.values()
            if isinstance(cause, ApplicationError) and cause.type and cause.type in kinds:
                raise DecisionRefused(RefusalKind(cause.type), cause.message) from None
            raise
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                # Either no such execution, or it has finished: tell them apart for the message.
                if await Execution.exists().where(Execution.execution_id == execution_id):
                    raise DecisionRefused(
                        RefusalKind.NOT_WAITING,
                        f"execution {execution_id!r} has finished; nothing is waiting",
                    ) from None
                raise UnknownExecution(execution_id) from None
            raise

    async def cancel(self, execution_id: str) -> None:
        handle = self.client.get_workflow_handle(execution_id)
        try:
            await handle.cancel()
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                raise UnknownExecution(execution_id) from None
            raise

    async def recent(self, limit: int = 50, workflow_id: str = "") -> list[dict[str, Any]]:
        query = Execution.select().order_by(Execution.started_at, ascending=False).limit(limit)
        if workflow_id:
            query = query.where(Execution.workflow_id == workflow_id)
        return list(await query)

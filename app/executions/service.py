"""Executions as Temporal runs them: start, the timeline (the one reader), cancel, recent."""

from __future__ import annotations

import hashlib
import uuid
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

import structlog
from temporalio.client import Client, WorkflowQueryFailedError
from temporalio.common import RawValue
from temporalio.service import RPCError, RPCStatusCode

from app.db.records import Records
from app.domain.definitions import WorkflowDefinition, normalise_input, validate_input
from app.domain.identity import DEMO_USERS, User
from app.temporal.contracts import ExecutionInput, KnownUser, Timeline
from app.temporal.workflows import ExecutionWorkflow

log = structlog.stdlib.get_logger("stepladder.executions")


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


class ExecutionService:
    """The Temporal-facing use cases of executions.

    `users` is the user directory handed to each execution it starts (`known_users`: who an
    `approve_step` signal naming a user without roles is); the web factory passes the demo
    users in dev mode, which is also the default.
    """

    # Timelines remembered by digest (see `timeline`), most recently read last.
    KEEP = 1024

    def __init__(
        self,
        client: Client,
        definitions: Mapping[str, WorkflowDefinition],
        task_queue: str,
        *,
        users: Mapping[str, User] = DEMO_USERS,
        records: Records | None = None,
    ) -> None:
        self.client = client
        self.definitions = definitions
        self.task_queue = task_queue
        self.users = users
        self.records = records or Records()
        self._known: OrderedDict[str, tuple[bytes, Timeline]] = OrderedDict()
        self.conversions = 0  # timelines decoded (not served from the digest cache)

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
                known_users=self.known_users(),
            ),
            id=execution_id,
            task_queue=self.task_queue,
        )
        structlog.contextvars.bind_contextvars(execution_id=execution_id)
        log.info("execution.started", workflow_id=workflow_id, started_by=user.name)
        return execution_id

    def known_users(self) -> dict[str, KnownUser]:
        """The user directory as an execution carries it: roles and groups by name."""
        return {
            name: KnownUser(roles=sorted(r.value for r in user.roles), groups=sorted(user.groups))
            for name, user in self.users.items()
        }

    async def timeline(self, execution_id: str) -> Timeline:
        """The execution's timeline, from the workflow's `timeline` query.

        The payload is turned into dataclasses only when it changed (a digest of its bytes is
        kept per execution): temporalio's generic converter costs ~5 ms of CPU for a 5-step
        timeline and ~30 ms for 40 steps, and most reads (the live hub's polls) find nothing
        new. An unchanged timeline is the same object as last time: callers must not mutate it.
        """
        handle = self.client.get_workflow_handle(execution_id)
        try:
            raw: RawValue = await handle.query("timeline",
                                               result_type=RawValue)  # fmt: skip
        except RPCError as exc:
            if exc.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.INVALID_ARGUMENT):
                raise UnknownExecution(execution_id) from None
            raise
        except WorkflowQueryFailedError:
            raise UnknownExecution(execution_id) from None
        digest = hashlib.blake2b(raw.payload.data, digest_size=16).digest()
        known = self._known.get(execution_id)
        if known is not None and known[0] == digest:
            self._known.move_to_end(execution_id)
            return known[1]
        [timeline] = await self.client.data_converter.decode([raw.payload], [Timeline])
        assert isinstance(timeline, Timeline)
        self.conversions += 1
        self._known[execution_id] = (digest, timeline)
        self._known.move_to_end(execution_id)
        while len(self._known) > self.KEEP:
            self._known.popitem(last=False)
        return timeline

    async def cancel(self, execution_id: str) -> None:
        handle = self.client.get_workflow_handle(execution_id)
        try:
            await handle.cancel()
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                raise UnknownExecution(execution_id) from None
            raise

    async def recent(self, limit: int = 50, workflow_id: str = "") -> list[dict[str, Any]]:
        return await self.records.recent_executions(limit, workflow_id)

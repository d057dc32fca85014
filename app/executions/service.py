"""Executions as Temporal runs them: start, the timeline (the one reader), cancel, recent."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Mapping
from dataclasses import replace
from datetime import timedelta
from typing import Any, TypeVar

import structlog
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowQueryFailedError
from temporalio.common import RawValue, WorkflowIDReusePolicy
from temporalio.service import RPCError, RPCStatusCode

from app.db import step_configs
from app.db.policies import PolicyStore
from app.db.records import Records
from app.definitions.lifecycle import WorkflowLifecycle
from app.domain.availability import ServiceUnavailable, first_line
from app.domain.definitions import WorkflowDefinition, normalise_input, validate_input
from app.domain.identity import DEMO_USERS, User
from app.executions.limits import StartLimiter
from app.executions.timeline_codec import decode_timeline
from app.temporal.contracts import ExecutionInput, KnownUser, StepState, Timeline
from app.temporal.workflows import ExecutionWorkflow

log = structlog.stdlib.get_logger("stepladder.executions")
T = TypeVar("T")
# How a call that got no answer in time ends (CANCELLED: the SDK's own deadline on a query).
SILENT_OR_DOWN = (
    RPCStatusCode.UNAVAILABLE,
    RPCStatusCode.DEADLINE_EXCEEDED,
    RPCStatusCode.CANCELLED,
)


class EngineSilent(TimeoutError):
    """Temporal answers, but no worker answered the workflow within the deadline."""


async def within(client: Client, seconds: float, call: Awaitable[T]) -> T:
    """`call` to Temporal, given `seconds`: Temporal unreachable → ServiceUnavailable; reachable
    but the call unanswered (no worker) → EngineSilent."""
    try:
        async with asyncio.timeout(seconds + 1):  # the RPC's own deadline comes first
            return await call
    except RPCError as exc:
        if exc.status not in SILENT_OR_DOWN:
            raise
        reason = first_line(exc)
    except TimeoutError:
        reason = f"no answer within {seconds:g} s"
    except RuntimeError as exc:  # a lazy client's first connection failing
        if "connect" not in str(exc):
            raise
        raise ServiceUnavailable("temporal", first_line(exc)) from None
    await temporal_reachable(client)
    raise EngineSilent(reason)


async def temporal_reachable(client: Client) -> None:
    """Raise ServiceUnavailable unless Temporal's frontend answers a health check at once."""
    try:
        async with asyncio.timeout(2):
            await client.service_client.check_health(timeout=timedelta(seconds=1))
    except (RPCError, RuntimeError, TimeoutError) as exc:
        raise ServiceUnavailable("temporal", first_line(exc)) from None


class UnknownWorkflow(LookupError):
    def __init__(self, workflow_id: str) -> None:
        super().__init__(f"no workflow definition named {workflow_id!r}")


class UnknownExecution(LookupError):
    def __init__(self, execution_id: str) -> None:
        super().__init__(f"no execution {execution_id!r}")


class AlreadyFinished(RuntimeError):
    """Cancelling an execution that has already ended: nothing to cancel (`status`: Temporal's
    word for how the workflow closed, e.g. "completed", said in the message)."""

    def __init__(self, execution_id: str, status: str) -> None:
        super().__init__(
            f"execution {execution_id!r} has already ended ({status}): nothing to cancel"
        )


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
        rpc_timeout: float = 5.0,
        lifecycle: WorkflowLifecycle | None = None,
        limiter: StartLimiter | None = None,
    ) -> None:
        self.client = client
        self.definitions = definitions
        self.task_queue = task_queue
        self.users = users
        self.records = records or Records()
        self.rpc_timeout = rpc_timeout
        self.lifecycle = lifecycle or WorkflowLifecycle()
        self.limiter = limiter  # None: starts are not rate limited
        self._known: OrderedDict[str, tuple[bytes, Timeline]] = OrderedDict()
        self.conversions = 0  # timelines decoded (not served from the digest cache)

    def definition(self, workflow_id: str) -> WorkflowDefinition:
        try:
            return self.definitions[workflow_id]
        except KeyError:
            raise UnknownWorkflow(workflow_id) from None

    async def start(
        self,
        workflow_id: str,
        data: dict[str, Any],
        user: User,
        *,
        via: str = "api",
        trigger: dict[str, Any] | None = None,
        execution_id: str = "",
    ) -> str:
        """Start an execution of `workflow_id` with input `data` for `user`; answers its id.

        `via` says what started it ("form", "api", "webhook", ...); `trigger` is what
        `{{ trigger.* }}` reads (None: the input); `execution_id` (default: a new
        `<workflow_id>-<12 hex>`) lets a caller make a start idempotent — Temporal refuses a
        second workflow with the same id (WorkflowAlreadyStartedError), even once the first
        closed. Raises UnknownWorkflow, InvalidInput, WorkflowNotAccepting (paused or
        archived), StartRateLimited (the `limiter`'s window is used up), ServiceUnavailable."""
        definition = self.definition(workflow_id)
        errors = validate_input(definition, data)
        if errors:
            raise InvalidInput(errors)
        await self.lifecycle.check_accepting(workflow_id)
        if self.limiter is not None:
            await self.limiter.admit(workflow_id, user, via)
        # A caller's own id is an idempotency key: never reused, even after that run closed.
        reuse = (
            WorkflowIDReusePolicy.REJECT_DUPLICATE
            if execution_id
            else WorkflowIDReusePolicy.ALLOW_DUPLICATE
        )
        execution_id = execution_id or f"{workflow_id}-{uuid.uuid4().hex[:12]}"
        await self._call(self.client.start_workflow(
            ExecutionWorkflow.run,
            ExecutionInput(
                execution_id=execution_id,
                definition=definition,
                input=normalise_input(definition, data),
                started_by=user.name,
                known_users=self.known_users(),
                started_via=via,
                trigger=trigger,
            ),
            id=execution_id,
            task_queue=self.task_queue,
            id_reuse_policy=reuse,
            rpc_timeout=timedelta(seconds=self.rpc_timeout),
        ))  # fmt: skip
        structlog.contextvars.bind_contextvars(execution_id=execution_id)
        log.info("execution.started", workflow_id=workflow_id, started_by=user.name, via=via)
        return execution_id

    async def _call(self, call: Awaitable[T]) -> T:
        """A call that needs no worker: unanswered within the deadline means Temporal is down."""
        try:
            return await within(self.client, self.rpc_timeout, call)
        except EngineSilent as exc:
            raise ServiceUnavailable("temporal", str(exc)) from None

    def known_users(self) -> dict[str, KnownUser]:
        """The user directory as an execution carries it: roles and groups by name."""
        return {
            name: KnownUser(roles=sorted(r.value for r in user.roles), groups=sorted(user.groups))
            for name, user in self.users.items()
        }

    async def timeline(self, execution_id: str) -> Timeline:
        """The execution's timeline, from the workflow's `timeline` query.

        The payload is turned into dataclasses only when it changed (a digest of its bytes is
        kept per execution), by msgspec for plain JSON (`decode_timeline`: temporalio's generic
        converter costs ~30-90 ms of CPU for 50 steps, msgspec under 1 ms), and most reads (the
        live hub's polls) find nothing new. An unchanged timeline is the same object as last
        time: callers must not mutate it.

        With no worker answering within the deadline, the timeline is this process's last one
        or what PostgreSQL recorded, marked `stale` (see `_unconfirmed`).
        """
        handle = self.client.get_workflow_handle(execution_id)
        query = handle.query(
            "timeline", result_type=RawValue, rpc_timeout=timedelta(seconds=self.rpc_timeout)
        )
        try:
            raw: RawValue = await within(self.client, self.rpc_timeout, query)
        except EngineSilent:
            return await self._unconfirmed(execution_id)
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
        timeline = await decode_timeline(raw.payload, self.client.data_converter)
        self.conversions += 1
        await _with_pending_modes(timeline, self.definitions.get(timeline.workflow_id))
        self._known[execution_id] = (digest, timeline)
        self._known.move_to_end(execution_id)
        while len(self._known) > self.KEEP:
            self._known.popitem(last=False)
        return timeline

    async def _unconfirmed(self, execution_id: str) -> Timeline:
        """The timeline as last seen by this process, else as PostgreSQL recorded it (the
        executions and step_runs rows): possibly out of date, so marked `stale`."""
        known = self._known.get(execution_id)
        if known is not None:
            return replace(known[1], stale=True, source="last_seen")
        recorded = await self.records.execution_with_steps(execution_id)
        if recorded is None:  # it may exist, with nothing recorded yet: not a 404
            raise ServiceUnavailable(
                "temporal",
                f"no worker answered within {self.rpc_timeout:g} s, nothing recorded yet",
            )
        row, step_rows = recorded
        definition = self.definitions.get(row["workflow_id"])
        by_id = {r["step_id"]: r for r in step_rows}
        ids = [s.id for s in definition.steps] if definition else list(by_id)
        steps = [_recorded_step(step_id, by_id.get(step_id), definition) for step_id in ids]
        checks = await PolicyStore().checks_by_step(execution_id)  # the policy checks recorded
        for state in steps:
            state.policy_checks = checks.get(state.id, [])
        return Timeline(
            execution_id=execution_id, workflow_id=row["workflow_id"],
            workflow_name=row["workflow_name"], definition_hash=row["definition_hash"],
            status=row["status"], started_by=row["started_by"],
            started_at=_iso(row["started_at"]), ended_at=_iso(row["ended_at"]),
            outcome=row["outcome"], version=-1, steps=steps, stale=True, source="records",
            groups=definition.parallel_groups() if definition else [],
        )  # fmt: skip

    async def cancel(self, execution_id: str) -> None:
        """Ask Temporal to cancel the execution. Raises UnknownExecution, AlreadyFinished when it
        has ended (Temporal would accept the request and do nothing), ServiceUnavailable."""
        handle = self.client.get_workflow_handle(execution_id)
        deadline = timedelta(seconds=self.rpc_timeout)
        try:
            described = await self._call(handle.describe(rpc_timeout=deadline))
            if described.status not in (None, WorkflowExecutionStatus.RUNNING):
                raise AlreadyFinished(execution_id, described.status.name.lower())
            await self._call(handle.cancel(rpc_timeout=deadline))
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                raise UnknownExecution(execution_id) from None
            raise

    async def recent(self, limit: int = 50, workflow_id: str = "") -> list[dict[str, Any]]:
        return await self.records.recent_executions(limit, workflow_id)


async def _with_pending_modes(timeline: Timeline, definition: WorkflowDefinition | None) -> None:
    """Give the steps not reached yet (the workflow reads a step's mode when it starts it) the
    mode they would run in now: the configured one, else the definition's default, as the
    engine chooses. PostgreSQL down: the default (the timeline itself comes from Temporal)."""
    if timeline.finished or all(step.mode for step in timeline.steps):
        return
    try:
        configured = await step_configs.read_workflow(timeline.workflow_id)
    except OSError:
        configured = {}
    defaults = {s.id: s.default_mode for s in definition.steps} if definition else {}
    for step in timeline.steps:
        mode = configured[step.id].mode if step.id in configured else defaults.get(step.id)
        if not step.mode and mode is not None:
            step.mode = mode.value


def _iso(value: Any) -> str:
    return value.isoformat() if value is not None else ""


def _recorded_step(
    step_id: str, row: dict[str, Any] | None, definition: WorkflowDefinition | None
) -> StepState:
    """A step as its step_runs row says (pending with none)."""
    step = next((s for s in definition.steps if s.id == step_id), None) if definition else None
    state = StepState(
        id=step_id,
        name=step.name if step else step_id,
        action=step.action if step else "",
        impact=step.impact if step else "",
        mode=row["mode"] if row else "",
    )
    if row is not None:
        state.status, state.summary, state.error = row["status"], row["summary"], row["error"]
        state.started_at, state.ended_at = _iso(row["started_at"]), _iso(row["ended_at"])
        state.duration_ms = row["duration_ms"]
    return state

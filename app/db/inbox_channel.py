"""The live lists' PostgreSQL channels: the worker's records NOTIFY, each web process LISTENs.

`records.py` calls `notify_sql` inside the record transaction for each step outcome (on this
channel only when the step starts or stops waiting for approval; PostgreSQL delivers it at
commit, once per payload per transaction).
A web process that had a decision accepted announces it at once (`announce_decided`), before
the worker's records show it. `listen` keeps one dedicated asyncpg connection LISTENing,
reconnecting with backoff; with `on_execution` it LISTENs on `EXECUTIONS_CHANNEL` too, on the
same connection (the executions list: `notify_execution_sql` whenever an execution's row or
its step runs change).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass

import asyncpg

from app.db.engine import CONNECT_TIMEOUT, UNREACHABLE
from app.db.tables import StepRun
from app.domain.availability import first_line

log = logging.getLogger("stepladder.live")

CHANNEL = "stepladder_inbox"
"""The NOTIFY channel. Payloads: the execution id whose waiting steps changed in the records
(the worker), or `{"decided": [execution_id, step_id]}` (a web process: Temporal accepted the
step's final decision; its records follow)."""


EXECUTIONS_CHANNEL = "stepladder_executions"
"""The executions list's NOTIFY channel. Payload: the id of the execution whose row or step runs
changed in the worker's record transaction (PostgreSQL folds identical payloads within one)."""


@dataclass(frozen=True)
class InboxNotice:
    """One notification: `step_id` set when a web process announced that step decided, empty
    when the worker's records of the execution changed."""

    execution_id: str
    step_id: str = ""

    @property
    def decided(self) -> bool:
        return bool(self.step_id)


def decided_payload(execution_id: str, step_id: str) -> str:
    """The payload announcing `step_id` of `execution_id` decided."""
    return json.dumps({"decided": [execution_id, step_id]}, separators=(",", ":"))


def parse_notice(payload: str) -> InboxNotice:
    """A payload as `InboxNotice`; anything not a decided announcement is an execution id."""
    if payload.startswith("{"):
        try:
            execution_id, step_id = json.loads(payload)["decided"]
            return InboxNotice(str(execution_id), str(step_id))
        except (ValueError, KeyError, TypeError):
            log.warning("inbox notifications: unreadable payload %.200r", payload)
    return InboxNotice(payload)


async def announce_decided(execution_id: str, step_id: str) -> None:
    """NOTIFY every listening web process (this one too) that the step was decided: their
    inboxes drop it now instead of when the worker's records land. Raises what the query
    raises (PostgreSQL unreachable): the caller decides whether that matters."""
    await StepRun.raw("SELECT pg_notify({}, {})", CHANNEL, decided_payload(execution_id, step_id))


async def listen(
    database_url: str,
    on_change: Callable[[str], None],
    on_listening: Callable[[bool], None],
    *,
    on_decided: Callable[[str, str], None] | None = None,
    on_execution: Callable[[str], None] | None = None,
    max_backoff: float = 15.0,
) -> None:
    """LISTEN on `CHANNEL` until cancelled: `on_change(execution_id)` per notification of the
    records, `on_decided(execution_id, step_id)` per decided announcement (ignored without it),
    `on_execution(execution_id)` per notification on `EXECUTIONS_CHANNEL` (not listened to
    without it; `on_listening` then covers both channels),
    `on_listening(True)` once listening (a notification may have been missed before: read now),
    `on_listening(False)` when the connection is lost; reconnects after 0.5 s, doubling up to
    `max_backoff` seconds. Never raises but CancelledError."""

    def received(*args: object) -> None:
        notice = parse_notice(str(args[3]))
        if not notice.decided:
            on_change(notice.execution_id)
        elif on_decided is not None:
            on_decided(notice.execution_id, notice.step_id)

    failures = 0
    while True:
        lost = asyncio.Event()
        connection = None
        try:
            connection = await asyncpg.connect(database_url, timeout=CONNECT_TIMEOUT)
            connection.add_termination_listener(lambda _, lost=lost: lost.set())
            await connection.add_listener(CHANNEL, received)
            if on_execution is not None:
                await connection.add_listener(
                    EXECUTIONS_CHANNEL, lambda *args: on_execution(str(args[3]))
                )
            if failures:
                log.info("live notifications: listening again after %d failure(s)", failures)
            failures = 0
            on_listening(True)
            await _until_lost(connection, lost)
        except asyncio.CancelledError:
            raise
        except (*UNREACHABLE, asyncpg.PostgresError) as exc:
            failures += 1
            if failures == 1 or failures % 10 == 0:
                log.warning("live notifications: not listening (%s)", first_line(exc))
        finally:
            on_listening(False)
            if connection is not None:
                connection.terminate()
        await asyncio.sleep(min(max_backoff, 0.5 * 2.0 ** max(0, failures - 1)))


async def _until_lost(connection: asyncpg.Connection, lost: asyncio.Event) -> None:
    """Return when the connection is gone: its termination, or a failed check every 10 s (a
    silently dropped TCP connection terminates nothing)."""
    while not lost.is_set():
        try:
            await asyncio.wait_for(lost.wait(), 10.0)
        except TimeoutError:
            await connection.execute("SELECT 1", timeout=CONNECT_TIMEOUT)


def notify_sql() -> str:
    """One statement, two NOTIFYs, for the step run whose execution id and run_key are the two
    parameters: its execution id on `EXECUTIONS_CHANNEL` (always: the list shows its status), and
    on `CHANNEL` if the step waited (or waits) for approval (the inbox). One round trip."""
    return (
        "SELECT pg_notify(channel, payload) FROM ("
        f"SELECT '{EXECUTIONS_CHANNEL}' AS channel, {{}}::text AS payload UNION ALL "
        f"SELECT '{CHANNEL}', execution_id FROM step_runs "
        "WHERE run_key = {} AND waiting_since IS NOT NULL) AS notices"
    )


def notify_finished_sql() -> str:
    """One statement, two NOTIFYs, for the execution whose id is all three parameters: on
    `EXECUTIONS_CHANNEL` always, and on `CHANNEL` if one of its steps waited for approval (its
    end takes any still waiting step out of the inbox)."""
    return (
        "SELECT pg_notify(channel, payload) FROM ("
        f"SELECT '{EXECUTIONS_CHANNEL}' AS channel, {{}}::text AS payload UNION ALL "
        f"SELECT '{CHANNEL}', {{}}::text WHERE EXISTS "
        "(SELECT 1 FROM step_runs WHERE execution_id = {} AND waiting_since IS NOT NULL)"
        ") AS notices"
    )


def notify_execution_sql() -> str:
    """`SELECT pg_notify(...)` on `EXECUTIONS_CHANNEL` for the execution whose id is the one
    parameter: every listening web process's executions list reads again after the commit."""
    return f"SELECT pg_notify('{EXECUTIONS_CHANNEL}', {{}}::text)"

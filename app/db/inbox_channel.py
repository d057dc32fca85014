"""The inbox's PostgreSQL channel: the worker's records NOTIFY, each web process LISTENs.

`records.py` calls `notify_sql` inside the record transaction when a step starts or stops
waiting for approval (PostgreSQL delivers it at commit, once per payload per transaction).
`listen` keeps one dedicated asyncpg connection LISTENing, reconnecting with backoff.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import asyncpg

from app.db.engine import CONNECT_TIMEOUT, UNREACHABLE
from app.domain.availability import first_line

log = logging.getLogger("stepladder.live")

CHANNEL = "stepladder_inbox"
"""The NOTIFY channel; the payload is the execution id whose waiting steps changed."""


async def listen(
    database_url: str,
    on_change: Callable[[str], None],
    on_listening: Callable[[bool], None],
    *,
    max_backoff: float = 15.0,
) -> None:
    """LISTEN on `CHANNEL` until cancelled: `on_change(execution_id)` per notification,
    `on_listening(True)` once listening (a notification may have been missed before: read now),
    `on_listening(False)` when the connection is lost; reconnects after 0.5 s, doubling up to
    `max_backoff` seconds. Never raises but CancelledError."""
    failures = 0
    while True:
        lost = asyncio.Event()
        connection = None
        try:
            connection = await asyncpg.connect(database_url, timeout=CONNECT_TIMEOUT)
            connection.add_termination_listener(lambda _, lost=lost: lost.set())
            await connection.add_listener(CHANNEL, lambda *args: on_change(str(args[3])))
            if failures:
                log.info("inbox notifications: listening again after %d failure(s)", failures)
            failures = 0
            on_listening(True)
            await _until_lost(connection, lost)
        except asyncio.CancelledError:
            raise
        except (*UNREACHABLE, asyncpg.PostgresError) as exc:
            failures += 1
            if failures == 1 or failures % 10 == 0:
                log.warning("inbox notifications: not listening (%s)", first_line(exc))
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
    """`SELECT pg_notify(...)` for the step run whose run_key is the one parameter, if it waited
    (or waits) for approval: its execution id goes to every listening web process."""
    return (
        f"SELECT pg_notify('{CHANNEL}', execution_id) FROM step_runs "
        "WHERE run_key = {} AND waiting_since IS NOT NULL"
    )


def notify_finished_sql() -> str:
    """`SELECT pg_notify(...)` for the execution whose id is both parameters, if one of its steps
    waited for approval (its end takes any still waiting step out of the inbox)."""
    return (
        f"SELECT pg_notify('{CHANNEL}', {{}}) WHERE EXISTS "
        "(SELECT 1 FROM step_runs WHERE execution_id = {} AND waiting_since IS NOT NULL)"
    )

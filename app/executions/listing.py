"""Lists of executions for the overview, the filtered executions page and the JSON API."""

from __future__ import annotations

import json
from collections.abc import Container, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from app.db import executions as records
from app.domain.decided_mask import DecidedMask
from app.domain.definitions import WorkflowDefinition
from app.domain.statuses import ExecutionStatus
from app.domain.text import cursor_time

EXECUTION_STATUSES = tuple(ExecutionStatus)


@dataclass(frozen=True)
class ExecutionFilter:
    """What the executions page shows; empty fields do not filter."""

    status: str = ""
    workflow_id: str = ""
    waiting: bool = False

    @property
    def active(self) -> bool:
        return bool(self.status or self.workflow_id or self.waiting)

    @classmethod
    def of_query(
        cls, status: str, workflow: str, waiting: str, workflows: Container[str]
    ) -> ExecutionFilter:
        """The executions page's query parameters (`status`, `workflow`, `waiting`) as a filter;
        an unknown status or workflow does not filter (as the page's form would never send)."""
        return cls(
            status=status if status in EXECUTION_STATUSES else "",
            workflow_id=workflow if workflow in workflows else "",
            waiting=waiting in ("1", "on", "true"),
        )


@dataclass
class ExecutionRow:
    """One execution as the lists show it: its record, and whether a step waits for approval."""

    id: int
    execution_id: str
    workflow_id: str
    workflow_name: str
    definition_hash: str
    status: str
    input: str
    """The input the execution started with, as JSON text (as recorded)."""
    started_by: str
    started_at: datetime
    ended_at: datetime | None
    outcome: str
    waiting: bool

    @classmethod
    def of(cls, row: dict[str, Any], waiting: bool) -> ExecutionRow:
        return cls(**row, waiting=waiting)


@dataclass(frozen=True)
class Cursor:
    """A place in the executions list: an execution's (started_at, id), the keyset page key.
    As text (the `before` / `after` query parameters): "2026-11-30T14:02:05.123456+00:00,42"."""

    started_at: datetime
    id: int

    @property
    def text(self) -> str:
        return f"{self.started_at.isoformat()},{self.id}"

    @classmethod
    def of(cls, row: ExecutionRow) -> Cursor:
        return cls(row.started_at, row.id)

    @classmethod
    def parse(cls, text: str) -> Cursor | None:
        """ "" → None; raises ValueError when `text` is not "<ISO 8601 with zone>,<id>"."""
        if not text:
            return None
        moment, comma, ident = text.rpartition(",")
        if not comma or not ident.strip().isdigit():
            raise ValueError("expected '<ISO 8601 time with zone>,<id>'")
        return cls(cursor_time(moment), int(ident))


@dataclass(frozen=True)
class ExecutionPage:
    """One page of the list, newest first, with where the older and newer pages start (None:
    there is none). `first`: this is the newest page (the one that updates live)."""

    rows: list[ExecutionRow]
    older: Cursor | None
    newer: Cursor | None

    @property
    def first(self) -> bool:
        return self.newer is None


async def page_executions(
    filters: ExecutionFilter,
    *,
    before: Cursor | None = None,
    after: Cursor | None = None,
    size: int = 50,
    decided: DecidedMask | None = None,
) -> ExecutionPage:
    """A page of `size` rows older than `before` (or newer than `after`; neither: the newest).
    Keyset paging, so a page keeps its rows when executions start between requests. `decided`:
    steps announced decided (see `list_executions`); with the `waiting` filter, a row whose only
    waiting steps it hides is left out (the page may hold fewer rows; its cursors stay the
    records')."""
    page = await _records_page(filters, before=before, after=after, size=size, decided=decided)
    if not filters.waiting:
        return page
    return replace(page, rows=[row for row in page.rows if row.waiting])


async def _records_page(
    filters: ExecutionFilter,
    *,
    before: Cursor | None,
    after: Cursor | None,
    size: int,
    decided: DecidedMask | None,
) -> ExecutionPage:
    if after is not None:
        rows = await list_executions(filters, size + 1, after=after, decided=decided)
        if not rows:  # nothing newer any more: the newest page
            return await _records_page(filters, before=None, after=None, size=size, decided=decided)
        more_newer = len(rows) > size
        rows = rows[-size:] if more_newer else rows
        newer = Cursor.of(rows[0]) if more_newer else None
        return ExecutionPage(rows, Cursor.of(rows[-1]), newer)
    rows = await list_executions(filters, size + 1, before=before, decided=decided)
    older = Cursor.of(rows[size - 1]) if len(rows) > size else None
    rows = rows[:size]
    newer = Cursor.of(rows[0]) if before is not None and rows else None
    return ExecutionPage(rows, older, newer)


def key_inputs(
    rows: list[ExecutionRow], definitions: Mapping[str, WorkflowDefinition]
) -> dict[str, str]:
    """Each row's key input as its definition declares it (execution id → text; "" for none)."""
    keys: dict[str, str] = {}
    for row in rows:
        definition = definitions.get(row.workflow_id)
        data = row.input if isinstance(row.input, dict) else _json_object(row.input)
        keys[row.execution_id] = definition.key_of(data) if definition else ""
    return keys


def _json_object(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


async def list_executions(
    filters: ExecutionFilter = ExecutionFilter(),
    limit: int = 100,
    *,
    before: Cursor | None = None,
    after: Cursor | None = None,
    decided: DecidedMask | None = None,
) -> list[ExecutionRow]:
    """Newest first (older than `before` / just newer than `after` when given); each row also
    says whether one of its steps waits for approval — steps `decided` hides (announced decided
    while their records still say waiting) do not count."""
    rows = await records.latest_executions(
        limit,
        status=filters.status,
        workflow_id=filters.workflow_id,
        waiting_only=filters.waiting,
        before=(before.started_at, before.id) if before else None,
        after=(after.started_at, after.id) if after else None,
    )
    waiting = await records.waiting_steps_among([row["execution_id"] for row in rows])

    def waits(row: dict[str, Any]) -> bool:
        execution_id = row["execution_id"]
        steps = waiting.get(execution_id, set())
        if decided is not None:
            steps = {step for step in steps if not decided.hides(execution_id, step)}
        return row["status"] == ExecutionStatus.RUNNING and bool(steps)

    return [ExecutionRow.of(row, waits(row)) for row in rows]


async def recent_outcomes(limit: int = 10) -> list[ExecutionRow]:
    """Finished executions, the most recently ended first."""
    return [ExecutionRow.of(row, waiting=False) for row in await records.latest_outcomes(limit)]

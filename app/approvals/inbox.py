"""The approvals inbox: steps waiting for a person, read from the recorded step runs, with what
an approver needs to choose (key input, preview summary, impact, since when, until when)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from app.db.executions import InboxQuery, approvals_given, waiting_page, waiting_steps
from app.domain.approvals import Approver, may_approve, may_decide
from app.domain.decided_mask import DecidedMask
from app.domain.definitions import StepDefinition, WorkflowDefinition
from app.domain.identity import User, same_user
from app.domain.modes import ImpactLevel
from app.domain.text import cursor_time, duration_text

IMPACTS = tuple(level.value for level in ImpactLevel)
PAGE_SIZE = 50
"""Items on one page of /approvals (and in its live stream, which shows the first page)."""


class InboxFilterError(ValueError):
    """A filter value the inbox does not know; `field` names the query parameter."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class InboxFilter:
    """What an inbox shows: one workflow and/or one impact level ("" = all)."""

    workflow_id: str = ""
    impact: str = ""

    @classmethod
    def parse(cls, workflow_id: str | None, impact: str | None) -> InboxFilter:
        """From query parameters; an unknown impact raises InboxFilterError naming the allowed
        values (an unknown workflow simply matches nothing)."""
        impact = (impact or "").strip().lower()
        if impact and impact not in IMPACTS:
            raise InboxFilterError(
                "impact", f"impact must be one of {', '.join(IMPACTS)}, got {impact!r}"
            )
        return cls((workflow_id or "").strip(), impact)

    @property
    def params(self) -> dict[str, str]:
        """The set filters as query parameters (for a link that keeps them)."""
        return {k: v for k, v in (("workflow_id", self.workflow_id), ("impact", self.impact)) if v}

    def keeps(self, item: WaitingApproval) -> bool:
        return (not self.workflow_id or item.workflow_id == self.workflow_id) and (
            not self.impact or item.impact == self.impact
        )


def when_text(moment: datetime) -> str:
    """An absolute time with its zone, as a title shows it: "2026-11-30 06:40:12 UTC"."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


@dataclass(frozen=True)
class WaitingApproval:
    """One step waiting for approval, with what the inbox shows and who may decide it.
    `expires_at` = waiting_since + the step's approval_timeout_seconds; `bulk_approvable`: the
    step is neither critical nor asks for a typed phrase (so it may be approved in bulk)."""

    execution_id: str
    workflow_id: str
    workflow_name: str
    step_id: str
    step_name: str
    impact: str
    approvers_group: str
    started_by: str
    waiting_since: datetime | None
    key_input: str = ""
    key_label: str = ""
    summary: str = ""
    expires_at: datetime | None = None
    bulk_approvable: bool = False
    required_approvals: int = 1
    approved_by: tuple[str, ...] = ()
    """Who approved it so far (a step needing `required_approvals` > 1 people), oldest first."""

    @property
    def four_eyes(self) -> bool:
        # Critical steps may not be approved by whoever started the execution (SPEC §2).
        return self.impact == ImpactLevel.CRITICAL.value

    def may_decide(self, user: User) -> bool:
        return may_decide(Approver.of(user), self.approvers_group)

    def approved_by_user(self, user: User) -> bool:
        """Whether `user` is among those who approved it so far (names compared canonically)."""
        return any(same_user(user.name, name) for name in self.approved_by)

    def may_approve(self, user: User) -> bool:
        """The approval policy (app/domain/approvals.py), and not a second approval by someone
        who already approved (the workflow refuses it)."""
        if self.approved_by_user(user):
            return False
        return may_approve(Approver.of(user), self.approvers_group, self.four_eyes, self.started_by)

    def waiting_seconds(self, now: datetime | None = None) -> float | None:
        if self.waiting_since is None:
            return None
        return max(0.0, ((now or datetime.now(UTC)) - self.waiting_since).total_seconds())

    def expires_in_seconds(self, now: datetime | None = None) -> float | None:
        if self.expires_at is None:
            return None
        return max(0.0, (self.expires_at - (now or datetime.now(UTC))).total_seconds())

    @staticmethod
    def absolute(moment: datetime) -> str:
        """`moment` with its zone, for a title: "2026-11-30 06:40:12 UTC"."""
        return when_text(moment)

    def waiting_text(self, now: datetime | None = None) -> str:
        """ "12 min" (how long it has waited), "" when unknown."""
        seconds = self.waiting_seconds(now)
        return "" if seconds is None else duration_text(seconds)

    def expires_text(self, now: datetime | None = None) -> str:
        """ "18 min" (until the approval expires), "" when unknown."""
        seconds = self.expires_in_seconds(now)
        return "" if seconds is None else duration_text(seconds)


def _key_label(definition: WorkflowDefinition | None) -> str:
    """The label of the definition's key input ("" when it has none)."""
    if definition is None or not definition.key_input:
        return ""
    field = next((f for f in definition.inputs if f.name == definition.key_input), None)
    return (field.label if field else "") or definition.key_input


def _step_fields(step: StepDefinition | None, step_id: str) -> dict[str, Any]:
    """What an inbox item takes from its step's definition (a step no definition names: its id
    and the defaults)."""
    if step is None:
        return {"step_name": step_id, "impact": "", "approvers_group": ""}
    return {
        "step_name": step.name, "impact": step.impact, "approvers_group": step.approvers_group,
        "bulk_approvable": bulk_approvable(step), "required_approvals": step.required_approvals,
    }  # fmt: skip


def _item(row: Mapping[str, object], definition: WorkflowDefinition | None) -> WaitingApproval:
    step: StepDefinition | None = None
    if definition is not None:
        step = next((s for s in definition.steps if s.id == row["step_id"]), None)
    since = row["started_at"]
    waiting_since = since if isinstance(since, datetime) else None
    expires_at = None
    if waiting_since is not None and step is not None:
        expires_at = waiting_since + timedelta(seconds=step.approval_timeout_seconds)
    data = row.get("input")
    return WaitingApproval(
        execution_id=str(row["execution_id"]),
        workflow_id=str(row["workflow_id"]),
        workflow_name=str(row["workflow_name"]),
        step_id=str(row["step_id"]),
        started_by=str(row["started_by"]),
        waiting_since=waiting_since,
        key_input=definition.key_of(data if isinstance(data, dict) else None) if definition else "",
        key_label=_key_label(definition),
        summary=str(row.get("preview_summary") or ""),
        expires_at=expires_at,
        **_step_fields(step, str(row["step_id"])),
    )


async def with_approvals(items: list[WaitingApproval]) -> list[WaitingApproval]:
    """`items` with who approved them so far, read for the steps that need several approvers
    (no read when none does)."""
    several = {(i.execution_id, i.step_id) for i in items if i.required_approvals > 1}
    given = await approvals_given(several)
    if not given:
        return items
    return [
        replace(i, approved_by=tuple(given.get((i.execution_id, i.step_id), ()))) for i in items
    ]


def bulk_approvable(step: StepDefinition) -> bool:
    """Critical steps and steps asking for a typed phrase are never approved in bulk."""
    return step.impact != ImpactLevel.CRITICAL and not step.typed_confirmation


def by_expiry(items: Iterable[WaitingApproval]) -> list[WaitingApproval]:
    """Soonest expiry first; items without a known expiry last, oldest first among equals."""
    far = datetime.max.replace(tzinfo=UTC)
    return sorted(
        items,
        key=lambda i: (i.expires_at or far, i.waiting_since or far, i.execution_id, i.step_id),
    )


async def waiting_approvals(
    definitions: Mapping[str, WorkflowDefinition],
) -> list[WaitingApproval]:
    """Every step waiting for approval in a running execution, soonest expiry first."""
    rows = await waiting_steps()
    items = by_expiry(_item(row, definitions.get(str(row["workflow_id"]))) for row in rows)
    return await with_approvals(items)


def for_user(
    items: Iterable[WaitingApproval], user: User, only: InboxFilter | None = None
) -> list[WaitingApproval]:
    """The part of the inbox `user` may decide, narrowed by `only` when given."""
    return [item for item in items if item.may_decide(user) and (only is None or only.keeps(item))]


_FAR = datetime.max.replace(tzinfo=UTC)


def _moment(text: str) -> datetime | None:
    return cursor_time(text) if text else None


@dataclass(frozen=True)
class InboxCursor:
    """A place in the inbox's sort (soonest expiry first): an item's (expires_at, waiting_since,
    execution_id, step_id), the keyset page key. As text (the `after` / `before` query
    parameters): "<expires_at ISO>,<waiting_since ISO>,<execution_id>,<step_id>" (a time "" when
    unknown)."""

    expires_at: datetime | None
    waiting_since: datetime | None
    execution_id: str
    step_id: str

    @property
    def key(self) -> tuple[datetime, datetime, str, str]:
        return (
            self.expires_at or _FAR,
            self.waiting_since or _FAR,
            self.execution_id,
            self.step_id,
        )

    @property
    def text(self) -> str:
        times = [m.isoformat() if m else "" for m in (self.expires_at, self.waiting_since)]
        return ",".join([*times, self.execution_id, self.step_id])

    @classmethod
    def of(cls, item: WaitingApproval) -> InboxCursor:
        return cls(item.expires_at, item.waiting_since, item.execution_id, item.step_id)

    @classmethod
    def parse(cls, text: str | None) -> InboxCursor | None:
        """ "" or None → None; raises ValueError when `text` is not four comma-separated parts
        with zoned ISO 8601 times."""
        if not text:
            return None
        parts = text.split(",", 2)
        if len(parts) < 3:
            raise ValueError(
                "expected four comma-separated parts: expires_at,waiting_since,execution_id,step_id"
                " (take it from X-Next-Cursor, URL-encoded, or follow the Link header)"
            )
        expires, waiting, rest = parts
        execution_id, comma, step_id = rest.rpartition(",")
        if not comma or not execution_id or not step_id:
            raise ValueError("the cursor needs an execution id and a step id")
        return cls(_moment(expires), _moment(waiting), execution_id, step_id)


def _key(item: WaitingApproval) -> tuple[datetime, datetime, str, str]:
    return InboxCursor.of(item).key


@dataclass(frozen=True)
class InboxPage:
    """One page of an inbox, soonest expiry first, with where the next (later-expiring) and the
    previous (sooner-expiring) pages start; None: there is none."""

    items: list[WaitingApproval]
    later: InboxCursor | None
    sooner: InboxCursor | None


def page_of(
    items: list[WaitingApproval],
    *,
    after: InboxCursor | None = None,
    before: InboxCursor | None = None,
    size: int = 50,
) -> InboxPage:
    """The `size` items of `items` (sorted by expiry) just after `after` (or just before
    `before`; neither: the first page). Keyset: a page keeps its boundary when steps start or
    are decided between requests."""
    if before is not None:
        earlier = [i for i in items if _key(i) < before.key]
        if not earlier:
            return page_of(items, size=size)
        rows = earlier[-size:]
        sooner = InboxCursor.of(rows[0]) if len(earlier) > size else None
        return InboxPage(rows, InboxCursor.of(rows[-1]), sooner)
    rest = [i for i in items if after is None or _key(i) > after.key]
    rows = rest[:size]
    later = InboxCursor.of(rows[-1]) if len(rest) > size else None
    sooner = InboxCursor.of(rows[0]) if after is not None and rows else None
    return InboxPage(rows, later, sooner)


_START = (datetime.min.replace(tzinfo=UTC), datetime.min.replace(tzinfo=UTC), "", "")


def inbox_query(
    definitions: Mapping[str, WorkflowDefinition], user: User, only: InboxFilter
) -> InboxQuery:
    """What an inbox page asks PostgreSQL for: every defined step with its approval timeout and
    whether `user` may decide it and `only` keeps it (as `for_user` judges an item)."""
    approver = Approver.of(user)
    steps = [
        (definition.id, step.id, float(step.approval_timeout_seconds),
         may_decide(approver, step.approvers_group) and (not only.impact or step.impact == only.impact))
        for definition in definitions.values()
        for step in definition.steps
    ]  # fmt: skip
    unknown = may_decide(approver, "") and not only.impact
    return InboxQuery(steps, unknown, only.workflow_id)


async def inbox_page(
    definitions: Mapping[str, WorkflowDefinition],
    user: User,
    only: InboxFilter,
    *,
    after: InboxCursor | None = None,
    before: InboxCursor | None = None,
    size: int = PAGE_SIZE,
    decided: DecidedMask | None = None,
) -> InboxPage:
    """`user`'s inbox page as `page_of` pages it, read from PostgreSQL a page at a time (the
    keyset and LIMIT in SQL), so its cost does not grow with the number of waiting steps.
    `decided`: steps announced decided whose records may still say they wait, left out (the
    page may then hold fewer than `size` items; its cursors stay those of the records)."""
    page = await _records_page(definitions, user, only, after=after, before=before, size=size)
    page = replace(page, items=await with_approvals(page.items))
    if decided is None:
        return page
    return replace(page, items=decided.visible(page.items))


async def _records_page(
    definitions: Mapping[str, WorkflowDefinition],
    user: User,
    only: InboxFilter,
    *,
    after: InboxCursor | None,
    before: InboxCursor | None,
    size: int,
) -> InboxPage:
    query = inbox_query(definitions, user, only)

    def items(rows: list[dict[str, object]]) -> list[WaitingApproval]:
        return [_item(row, definitions.get(str(row["workflow_id"]))) for row in rows]

    if before is not None:
        rows = items(await waiting_page(query, before.key, size + 1, backward=True))
        if not rows:
            return await _records_page(definitions, user, only, after=None, before=None, size=size)
        shown = rows[:size][::-1]
        sooner = InboxCursor.of(shown[0]) if len(rows) > size else None
        return InboxPage(shown, InboxCursor.of(shown[-1]), sooner)
    rows = items(await waiting_page(query, after.key if after else _START, size + 1))
    shown = rows[:size]
    later = InboxCursor.of(shown[-1]) if len(rows) > size else None
    sooner = InboxCursor.of(shown[0]) if after is not None and shown else None
    return InboxPage(shown, later, sooner)

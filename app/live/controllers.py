"""The live streams (server-sent events) of the timeline and the inbox, and `/live/stats`."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from sse_starlette import EventSourceResponse, ServerSentEvent

from app.approvals.dependencies import inbox_filter
from app.approvals.inbox import PAGE_SIZE, WaitingApproval, for_user, page_of
from app.domain.definitions import WorkflowDefinition
from app.domain.identity import User
from app.executions.listing import ExecutionFilter, ExecutionPage, key_inputs
from app.executions.service import UnknownExecution
from app.live.executions_hub import page_digest
from app.live.feeds import Gone, reason
from app.live.rendering import csrf_input
from app.live.schemas import LiveStats
from app.live.updates import LiveUpdates
from app.temporal.contracts import Timeline
from app.web.embedding import is_embedded
from app.web.errors import error_responses

log = logging.getLogger("stepladder.live")

# Browsers retry a dropped stream after this many milliseconds (server restart, network blip).
RECONNECT_MS = 1000


def render_partial(
    request: Request[Any, Any, Any],
    template_name: str,
    context: dict[str, Any],
    csrf: str | None = None,
) -> str:
    """Render a template as Litestar's `Template` response would (request, CSRF input, the
    engine's globals), for SSE events that must match what the full page shows; `csrf` in
    place of the request's CSRF input (a shared render's placeholder)."""
    engine = request.app.template_engine
    if engine is None:  # pragma: no cover - create_app always configures one
        raise RuntimeError("no template engine configured")
    rendered: str = engine.get_template(template_name).render(
        **context, request=request, csrf_input=csrf_input(request) if csrf is None else csrf
    )
    return rendered


def _shown_version(last_event_id: str, seen: int | None) -> int | None:
    """The timeline version the client shows: the newest event it got, else the page's own."""
    return int(last_event_id) if last_event_id.isdigit() else seen


class LiveController(Controller):
    @get("/executions/{execution_id:str}/events")
    async def timeline_events(
        self,
        request: Request[User, Any, Any],
        execution_id: str,
        live: NamedDependency[LiveUpdates],
        seen: int | None = None,
    ) -> EventSourceResponse:
        """The timeline as server-sent events: now, then each new version; ends with the run.
        The version the client already shows — `seen` (the page puts the version it rendered in
        the URL) or the `Last-Event-ID` a reconnecting browser sends — is not sent again: a page
        is never swapped for an identical copy while someone reads or clicks it."""
        hub = live.timelines
        shown = _shown_version(request.headers.get("last-event-id", ""), seen)
        first: Timeline | None = None
        try:
            # Bounded: with no worker a query waits long; the stream then catches up later.
            first = await asyncio.wait_for(hub.snapshot(execution_id), hub.tuning.query_timeout)
        except UnknownExecution as exc:
            raise NotFoundException(str(exc)) from None
        except Exception as exc:  # Temporal down: open the stream anyway, it catches up later
            log.warning("execution %s: no timeline yet (%s)", execution_id, reason(exc))

        # Everything the partial reads besides the CSRF input: viewers alike share one render.
        viewer = (execution_id, request.user, is_embedded(request))
        csrf = csrf_input(request)

        def event(timeline: Timeline, published_at: float | None = None) -> ServerSentEvent:
            data = live.renders.get(
                (*viewer, timeline.version, timeline.status, timeline.stale),
                lambda mark: render_partial(
                    request, "_timeline.html", {"timeline": timeline}, mark
                ),
                csrf,
            )
            # The comment (ignored by browsers) says when this process learned of the version,
            # so a benchmark can time the fan-out alone.
            comment = f"published {published_at:.3f}" if published_at else None
            return ServerSentEvent(
                data, event="timeline", id=str(timeline.version), retry=RECONNECT_MS,
                comment=comment,
            )  # fmt: skip

        async def stream() -> AsyncIterator[ServerSentEvent]:
            if first is not None:
                if first.version != shown:
                    yield event(first)
                if first.finished:
                    yield ServerSentEvent("finished", event="end")
                    return
            try:
                async with hub.subscribe(execution_id, seen=first) as subscription:
                    while True:
                        timeline = await subscription.next()
                        yield event(timeline, subscription.published_at)
                        if timeline.finished:
                            break
            except Gone:
                pass
            yield ServerSentEvent("finished", event="end")

        return EventSourceResponse(stream(), ping=hub.tuning.ping, send_timeout=30)

    @get("/approvals/events")
    async def approval_events(
        self,
        request: Request[User, Any, Any],
        live: NamedDependency[LiveUpdates],
        workflow_id: str | None = None,
        impact: str | None = None,
        selectable: bool = True,
    ) -> EventSourceResponse:
        """The signed-in user's inbox as server-sent events, whenever it changes, narrowed by the
        page's filters (`workflow_id`, `impact`); with /approvals' bulk checkboxes unless
        `selectable=false` (the overview)."""
        inbox = live.inbox
        user = request.user
        only = inbox_filter(workflow_id, impact)

        def render(items: list[WaitingApproval]) -> str:
            mine = page_of(for_user(items, user, only), size=PAGE_SIZE).items  # the first page
            return render_partial(
                request,
                "_approval_items.html",
                {"items": mine, "selectable": selectable, "only": only},
            )

        async def stream() -> AsyncIterator[ServerSentEvent]:
            sent = ""
            async with inbox.subscribe() as subscription:
                while True:
                    try:
                        items = await subscription.next()
                    except Gone:
                        return
                    data = render(items)
                    if data != sent:  # the shared list changed, maybe not this user's part
                        sent = data
                        yield ServerSentEvent(data, event="approvals", retry=RECONNECT_MS)

        return EventSourceResponse(stream(), ping=inbox.tuning.ping, send_timeout=30)

    @get("/executions/events")
    async def execution_list_events(
        self,
        request: Request[User, Any, Any],
        live: NamedDependency[LiveUpdates],
        definitions: NamedDependency[dict[str, WorkflowDefinition]],
        status: str = "",
        workflow: str = "",
        waiting: str = "",
        seen: str = "",
    ) -> EventSourceResponse:
        """The executions list's newest page (its rows, as `/executions` shows them) as
        server-sent `executions` events, narrowed by the page's filters (`status`, `workflow`,
        `waiting`): now unless the client shows those rows already (`seen`: the page's digest
        of them), then whenever the rows change. Viewers of the same filters share one
        PostgreSQL read per change (the worker's NOTIFY)."""
        hub = live.executions
        if hub is None:  # pragma: no cover - create_app always builds one
            raise NotFoundException("no executions list hub")
        filters = ExecutionFilter.of_query(status, workflow, waiting, definitions)

        def render(page: ExecutionPage) -> str:
            context = {"recent": page.rows, "page": page, "filters": filters, "rows_only": True,
                       "keys": key_inputs(page.rows, definitions)}  # fmt: skip
            return render_partial(request, "_execution_rows.html", context)

        async def stream() -> AsyncIterator[ServerSentEvent]:
            shown = seen
            async with hub.subscribe(filters) as subscription:
                while True:
                    try:
                        page = await subscription.next()
                    except Gone:
                        return
                    if page_digest(page) != shown:
                        shown = page_digest(page)
                        yield ServerSentEvent(render(page), event="executions", retry=RECONNECT_MS)

        return EventSourceResponse(stream(), ping=hub.tuning.ping, send_timeout=30)

    @get("/live/stats", responses=error_responses(401))
    async def live_stats(self, live: NamedDependency[LiveUpdates]) -> LiveStats:
        """Counters of this web process's live-update pollers (benchmarks read queries/s here)."""
        return live.stats()

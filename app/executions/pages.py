"""Execution pages: the overview, the executions list, the live timeline, start and cancel."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from litestar import Controller, MediaType, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.exceptions import ClientException, NotFoundException
from litestar.openapi.datastructures import ResponseSpec
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Redirect, Template

from app.approvals.inbox import PAGE_SIZE, InboxFilter, inbox_page
from app.definitions.lookup import definition_or_404
from app.domain.definitions import WorkflowDefinition
from app.domain.identity import Role, User
from app.domain.statuses import ExecutionStatus
from app.executions.cancellation import MissingReason, cancel_with_reason, read_cancellation
from app.executions.dependencies import cursor_param
from app.executions.listing import (
    EXECUTION_STATUSES,
    ExecutionFilter,
    key_inputs,
    list_executions,
    page_executions,
    recent_outcomes,
)
from app.executions.schemas import Timeline
from app.executions.service import AlreadyFinished, ExecutionService, InvalidInput, UnknownExecution
from app.live.executions_hub import page_digest
from app.live.updates import LiveUpdates
from app.settings import Settings
from app.web.embedding import base_path
from app.web.errors import error_responses
from app.web.flash import FLASH_COOKIE, read_flash
from app.web.forms import FormData
from app.web.guards import requires
from app.workers.service import WorkerWatch

# The page's one documented answer: the timeline as JSON, for clients that ask for it.
TIMELINE_AS_JSON = {
    200: ResponseSpec(
        data_container=Timeline,
        description="With `Accept: application/json`: the timeline (else the HTML page)",
        generate_examples=False,
    ),
    **error_responses(401, 404, 503),
}


class ExecutionPages(Controller):
    include_in_schema = False  # HTML pages: /schema documents the JSON API

    @get("/")
    async def home(
        self,
        request: Request[User, Any, Any],
        definitions: NamedDependency[dict[str, WorkflowDefinition]],
        live: NamedDependency[LiveUpdates],
    ) -> Template:
        running = await list_executions(
            ExecutionFilter(status=ExecutionStatus.RUNNING), limit=20, decided=live.inbox.mask
        )
        outcomes = await recent_outcomes(limit=10)
        return Template(
            "home.html",
            context={
                "running": running,
                # The inbox's first page, as its live stream shows it (the rest: /approvals).
                "approvals": (
                    await inbox_page(
                        definitions,
                        request.user,
                        InboxFilter(),
                        size=PAGE_SIZE,
                        decided=live.inbox.mask,
                    )
                ).items,
                "outcomes": outcomes,
                "keys": key_inputs([*running, *outcomes], definitions),
                "definitions": definitions.values(),
            },
        )

    @get("/executions")
    async def execution_list(
        self,
        request: HTMXRequest,
        definitions: NamedDependency[dict[str, WorkflowDefinition]],
        live: NamedDependency[LiveUpdates],
        status: str = "",
        workflow: str = "",
        waiting: str = "",
        before: str = "",
        after: str = "",
    ) -> Template:
        """Executions, newest first, 50 a page (keyset: `before` / `after` cursors); the newest
        page follows `/executions/events` (pushed) while shown. A malformed cursor is 400 naming the parameter."""
        filters = ExecutionFilter.of_query(status, workflow, waiting, definitions)
        page = await page_executions(
            filters,
            before=cursor_param("before", before),
            after=cursor_param("after", after),
            decided=live.inbox.mask,
        )
        context = {
            "recent": page.rows,
            "page": page,
            "digest": page_digest(page),  # its stream sends these rows only if they changed
            "keys": key_inputs(page.rows, definitions),
            "filters": filters,
            "statuses": EXECUTION_STATUSES,
            "definitions": definitions.values(),
        }
        # The filter form and the live refresh swap only the rows; a history restore needs all.
        htmx = request.htmx
        if htmx and htmx.target == "execution-rows" and not htmx.history_restore_request:
            return Template("_execution_rows.html", context=context)
        return Template("executions.html", context=context)

    @get(
        "/executions/{execution_id:str}",
        include_in_schema=True,
        tags=["executions"],
        responses=TIMELINE_AS_JSON,
    )
    async def execution(
        self,
        request: Request[User, Any, Any],
        execution_id: str,
        live: NamedDependency[LiveUpdates],
        settings: NamedDependency[Settings],
        executions: NamedDependency[ExecutionService],
        worker_watch: NamedDependency[WorkerWatch],
    ) -> Template | Response[Timeline]:
        """The execution's live page; with `Accept: application/json` (preferred over
        text/html) its timeline as JSON, the same as `GET /api/workflows/executions/{id}`."""
        if request.accept.best_match([MediaType.HTML, MediaType.JSON]) == MediaType.JSON:
            try:
                return Response(await executions.timeline(execution_id), media_type=MediaType.JSON)
            except UnknownExecution as exc:
                raise NotFoundException(str(exc)) from None
        flash = read_flash(request, settings)
        if flash is not None and flash.get("execution_id") != execution_id:
            flash = None
        try:
            # After a refusal the page may have been behind (409): read what is true now.
            read = live.timelines.snapshot if flash is None else live.timelines.fresh
            timeline = await read(execution_id)
        except UnknownExecution as exc:
            raise NotFoundException(str(exc)) from None
        # The banner (_worker_banner.html) while a step could still run.
        no_worker = not timeline.finished and await worker_watch.no_worker_polling()
        banner = {"no_worker": no_worker, "watch_workers": not timeline.finished}
        cancelled = timeline.status == ExecutionStatus.CANCELLED
        cancellation = await read_cancellation(execution_id) if cancelled else None
        if flash is None:
            return Template(
                "execution.html",
                context={"timeline": timeline, "cancellation": cancellation, **banner},
            )
        context = {"timeline": timeline, "decision_error": flash.get("decision_error"),
                   "entered": flash.get("entered") or {}, "cancellation": cancellation,
                   **banner}  # fmt: skip
        template = Template("execution.html", context=context)
        template.delete_cookie(FLASH_COOKIE, path="/")
        return template

    @post(
        "/workflows/{workflow_id:str}/executions",
        status_code=303,
        guards=[requires(Role.APPROVER, "Starting an execution")],
    )
    async def start_execution(
        self,
        request: Request[User, str, Any],
        workflow_id: str,
        data: FormData,
        definitions: NamedDependency[dict[str, WorkflowDefinition]],
        executions: NamedDependency[ExecutionService],
        live: NamedDependency[LiveUpdates],
        settings: NamedDependency[Settings],
    ) -> Redirect | Template:
        """The workflow page's Execute workflow form: to the new timeline, or the form again
        with each error beside its field and the values kept."""
        definition = definition_or_404(definitions, workflow_id)
        values = {f.name: data.get(f.name, "") for f in definition.inputs}
        try:
            execution_id = await executions.start(workflow_id, values, request.user, via="form")
        except InvalidInput as exc:
            # Errors beside their fields, values kept, 422 so htmx and tests see the refusal.
            return Template(
                "workflow.html",
                context={"definition": definition, "values": values, "errors": exc.errors,
                         "recent": await executions.recent(limit=10, workflow_id=workflow_id)},
                status_code=422,
            )  # fmt: skip
        live.nudge(execution_id)
        return Redirect(
            f"{base_path(request, settings)}/executions/{quote(execution_id)}", status_code=303
        )

    @get(
        "/executions/{execution_id:str}/cancel",
        guards=[requires(Role.APPROVER, "Cancelling an execution")],
    )
    async def confirm_cancel(
        self, execution_id: str, live: NamedDependency[LiveUpdates]
    ) -> Template:
        """The confirmation step before cancelling (no JavaScript needed): a required reason."""
        return Template("execution_cancel.html", context=await _cancel_context(live, execution_id))

    @post(
        "/executions/{execution_id:str}/cancel",
        status_code=303,
        guards=[requires(Role.APPROVER, "Cancelling an execution")],
    )
    async def cancel(
        self,
        request: Request[User, Any, Any],
        execution_id: str,
        data: FormData,
        executions: NamedDependency[ExecutionService],
        live: NamedDependency[LiveUpdates],
        settings: NamedDependency[Settings],
    ) -> Redirect | Template:
        """Cancel with the reason given (recorded with who asked), back to the timeline; without
        a reason the confirmation again with the error, 422."""
        reason = data.get("reason", "")
        try:
            await cancel_with_reason(executions, execution_id, request.user, reason)
        except MissingReason as exc:
            context = {**await _cancel_context(live, execution_id), "error": str(exc)}
            return Template("execution_cancel.html", context=context, status_code=422)
        except UnknownExecution as exc:
            raise NotFoundException(str(exc)) from None
        except AlreadyFinished as exc:
            raise ClientException(str(exc), status_code=409) from None
        live.nudge(execution_id)
        return Redirect(
            f"{base_path(request, settings)}/executions/{quote(execution_id)}", status_code=303
        )


async def _cancel_context(live: LiveUpdates, execution_id: str) -> dict[str, Any]:
    """The timeline the confirmation page summarises (404 for an unknown execution)."""
    try:
        return {"timeline": await live.timelines.snapshot(execution_id), "error": ""}
    except UnknownExecution as exc:
        raise NotFoundException(str(exc)) from None

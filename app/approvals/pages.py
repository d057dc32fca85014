"""Approval pages: the approval panel's decision form and `/approvals`, my inbox."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency, Provide
from litestar.exceptions import NotFoundException
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Redirect, Template

from app.approvals.bulk import BulkApproval, BulkRefused, parse_selection
from app.approvals.dependencies import inbox_cursor, inbox_filter, provide_bulk
from app.approvals.inbox import IMPACTS, PAGE_SIZE, inbox_page
from app.approvals.schemas import REFUSAL_STATUS
from app.approvals.service import DecisionRefused, DecisionService, check_approver_inputs
from app.domain.approvals import Decision
from app.domain.availability import ServiceUnavailable
from app.domain.definitions import WorkflowDefinition
from app.domain.identity import Role, User
from app.executions.service import UnknownExecution
from app.live.updates import LiveUpdates
from app.settings import Settings
from app.web.embedding import base_path
from app.web.errors import RETRY_AFTER
from app.web.flash import flash_cookie
from app.web.guards import requires
from app.workers.service import WorkerWatch


class ApprovalPages(Controller):
    include_in_schema = False  # HTML pages: /schema documents the JSON API
    dependencies = {"bulk": Provide(provide_bulk, sync_to_thread=False)}

    @post("/executions/{execution_id:str}/steps/{step_id:str}/decision", status_code=303)
    async def decide(
        self,
        request: HTMXRequest,
        execution_id: str,
        step_id: str,
        decisions: NamedDependency[DecisionService],
        live: NamedDependency[LiveUpdates],
        settings: NamedDependency[Settings],
    ) -> Redirect | Template:
        """The approval panel's form: Approve & Continue or Reject. With htmx it answers the
        timeline partial, a refusal with the reason beside the panel and everything entered kept;
        without JS it redirects back to the timeline, which shows the same after a refusal."""
        form = await request.form()
        action = str(form.get("action", ""))
        confirmations = [str(c) for c in form.getall("confirmation", [])]
        typed, reason = str(form.get("typed_confirmation", "")), str(form.get("reason", ""))
        # Approver inputs arrive as `input.<name>` fields (the step's approval_inputs).
        inputs = {k[6:]: str(v) for k, v in form.items() if k.startswith("input.")}
        entered = {"action": action, "confirmations": confirmations,
                   "typed_confirmation": typed, "reason": reason, "inputs": inputs}  # fmt: skip
        try:
            decision = Decision.by(request.user, step_id, action, source="web",
                                   confirmations=confirmations, typed_confirmation=typed,
                                   reason=reason, inputs=inputs)  # fmt: skip
            if inputs:
                check_approver_inputs(await live.timelines.snapshot(execution_id), decision)
            async with live.changing(execution_id):  # its answer's query serves the watcher
                await decisions.decide(execution_id, decision)
        except UnknownExecution as exc:
            raise NotFoundException(str(exc)) from None
        except ServiceUnavailable as exc:
            # Not confirmed: the panel says so and keeps what was entered (the timeline read
            # answers within its own deadline, from records when no worker answers).
            return Template(
                "_timeline.html" if request.htmx else "execution.html",
                context={
                    "timeline": await live.timelines.snapshot(execution_id),
                    "decision_error": {"step_id": step_id, "message": exc.reason},
                    "entered": entered,
                },
                status_code=503,
                headers={"Retry-After": str(RETRY_AFTER)},
            )
        except DecisionRefused as exc:
            refusal = {"step_id": step_id, "message": exc.message}
            if not request.htmx:
                # Post/redirect/get: the timeline shows the refusal and what was entered, and
                # its refresh never lands on this POST URL.
                response = Redirect(
                    timeline_url(request, settings, execution_id, step_id), status_code=303
                )
                response.cookies.append(flash_cookie(settings, {
                    "execution_id": execution_id, "decision_error": refusal, "entered": entered,
                }))  # fmt: skip
                return response
            # A refusal may mean the page was behind (409): show what is true now.
            return Template(
                "_timeline.html",
                context={
                    "timeline": await live.timelines.fresh(execution_id),
                    "decision_error": refusal,
                    "entered": entered,
                },
                status_code=REFUSAL_STATUS[exc.kind],
            )
        if request.htmx:
            # One query answers this request and every viewer's stream (the watcher shares it).
            timeline = await live.after_change(execution_id)
            return Template("_timeline.html", context={"timeline": timeline})
        live.nudge(execution_id)
        return Redirect(timeline_url(request, settings, execution_id, step_id), status_code=303)

    @get("/approvals")
    async def approvals(
        self,
        request: Request[User, Any, Any],
        live: NamedDependency[LiveUpdates],
        definitions: NamedDependency[dict[str, WorkflowDefinition]],
        worker_watch: NamedDependency[WorkerWatch],
        workflow_id: str | None = None,
        impact: str | None = None,
        after: str | None = None,
        before: str | None = None,
    ) -> Template:
        """My inbox, soonest expiry first, filtered by workflow and impact (a GET form), with
        checkboxes on the steps that may be approved in bulk ("Review selected"); keyset-paged
        (`after` / `before` cursors: "Expiring later" / "Expiring sooner" links keep filters)."""
        only = inbox_filter(workflow_id, impact)
        page = await inbox_page(definitions, request.user, only, after=inbox_cursor("after", after),
                                before=inbox_cursor("before", before), size=PAGE_SIZE,
                                decided=live.inbox.mask)  # fmt: skip
        return Template("approvals.html", context={
            "items": page.items, "page": page, "only": only, "selectable": True, "impacts": IMPACTS,
            "workflows": sorted(definitions.values(), key=lambda d: d.name),
            "no_worker": await worker_watch.no_worker_polling(),  # the banner
        })  # fmt: skip

    @get("/approvals/review", guards=[requires(Role.APPROVER, "Approving in bulk")])
    async def review(
        self,
        request: Request[User, Any, Any],
        live: NamedDependency[LiveUpdates],
        bulk: NamedDependency[BulkApproval],
        selected: list[str] | None = None,
    ) -> Template:
        """The pre-flight of a bulk approval: each selected execution's key input and preview
        summary, the step's confirmations to tick once, then Approve all. A selection mixing
        workflows or steps, or of a critical step, is refused with a message."""
        try:
            preflight = await bulk.preflight(
                request.user, await live.inbox.snapshot(), parse_selection(selected or [])
            )
        except BulkRefused as exc:
            return Template("approvals_bulk.html", context={"refusal": exc.message},
                            status_code=exc.status)  # fmt: skip
        return Template("approvals_bulk.html", context={"preflight": preflight})

    @post("/approvals/bulk", status_code=200, guards=[requires(Role.APPROVER, "Approving in bulk")])
    async def approve_selected(
        self,
        request: Request[User, Any, Any],
        live: NamedDependency[LiveUpdates],
        bulk: NamedDependency[BulkApproval],
    ) -> Template:
        """The pre-flight's Approve all: one decision per execution, reported item by item."""
        form = await request.form()
        workflow_id, step_id = str(form.get("workflow_id", "")), str(form.get("step_id", ""))
        try:
            results = await bulk.approve_all(
                request.user, workflow_id, step_id,
                [str(e) for e in form.getall("execution_id", [])],
                [str(c) for c in form.getall("confirmation", [])],
                source="web", waiting=await live.inbox.snapshot(),
            )  # fmt: skip
        except BulkRefused as exc:
            return Template("approvals_bulk.html", context={"refusal": exc.message},
                            status_code=exc.status)  # fmt: skip
        for result in results:
            live.nudge(result.execution_id)
        return Template("approvals_bulk.html", context={
            "results": results, "workflow": bulk.definitions.get(workflow_id), "step_id": step_id,
        })  # fmt: skip


def timeline_url(request: HTMXRequest, settings: Settings, execution_id: str, step_id: str) -> str:
    return f"{base_path(request, settings)}/executions/{quote(execution_id)}#step-{quote(step_id)}"

"""The approvals JSON API: approve or reject a waiting step, and the caller's inbox."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency, Provide
from litestar.exceptions import HTTPException, NotFoundException
from litestar.params import JSONBody, Parameter

from app.approvals import inbox
from app.approvals.bulk import APPROVED, BulkApproval, BulkRefused
from app.approvals.dependencies import inbox_cursor, inbox_filter, provide_bulk
from app.approvals.inbox import WaitingApproval
from app.approvals.schemas import (
    REFUSAL_STATUS,
    ApproveRequest,
    BulkApproveRequest,
    BulkApproveResponse,
    BulkItemResultSchema,
    DecisionResponse,
    InboxItem,
    RejectRequest,
)
from app.approvals.service import DecisionRefused, DecisionService, check_approver_inputs
from app.domain.approvals import Decision, DecisionAction
from app.domain.definitions import WorkflowDefinition
from app.domain.identity import User
from app.executions.service import UnknownExecution
from app.live.updates import LiveUpdates
from app.settings import Settings
from app.web.errors import error_responses

DECISION_ERRORS = error_responses(400, 401, 403, 404, 409, 422)
STEP = "/executions/{execution_id:str}/steps/{step_id:str}"


@dataclass
class StepDecision:
    """A decision about to be made on one step by the request's user (built per request from
    the path): sends it, nudges live viewers, and answers it or the refusal as HTTP."""

    execution_id: str
    step_id: str
    user: User
    decisions: DecisionService
    live: LiveUpdates

    async def make(self, action: DecisionAction, **details: Any) -> DecisionResponse:
        try:
            decision = Decision.by(self.user, self.step_id, action, source="api", **details)
            if decision.inputs:
                check_approver_inputs(await self.live.timelines.snapshot(self.execution_id),
                                      decision)  # fmt: skip
            async with self.live.changing(self.execution_id):
                outcome = await self.decisions.decide(self.execution_id, decision)
        except UnknownExecution as exc:
            raise NotFoundException(str(exc)) from None
        except DecisionRefused as exc:
            raise HTTPException(
                status_code=REFUSAL_STATUS[exc.kind],
                detail=exc.message,
                extra={"kind": exc.kind.value},
            ) from None
        self.live.nudge(self.execution_id)
        return DecisionResponse(
            execution_id=self.execution_id,
            step_id=self.step_id,
            step_status=outcome.step_status,
            approvals=outcome.approvals,
            required_approvals=outcome.required_approvals,
        )


def _step_decision(
    request: Request[User, Any, Any],
    execution_id: str,
    step_id: str,
    decisions: NamedDependency[DecisionService],
    live: NamedDependency[LiveUpdates],
) -> StepDecision:
    return StepDecision(execution_id, step_id, request.user, decisions, live)


class ApprovalApi(Controller):
    path = "/api/workflows"
    tags = ["approvals"]
    dependencies = {
        "decision": Provide(_step_decision, sync_to_thread=False),
        "bulk": Provide(provide_bulk, sync_to_thread=False),
    }

    @post(f"{STEP}/approve", status_code=200, responses=DECISION_ERRORS)
    async def approve_step(
        self, data: JSONBody[ApproveRequest], decision: NamedDependency[StepDecision]
    ) -> DecisionResponse:
        """Approve a waiting step. 409 when it is not waiting (stale or duplicate), 403 without
        the approver role or for the starter of a critical step, 422 when a confirmation or the
        typed phrase is missing or an approver input (`inputs`, the step's approval_inputs) is
        out of bounds."""
        return await decision.make(
            DecisionAction.APPROVED, confirmations=data.confirmations,
            typed_confirmation=data.typed_confirmation, reason=data.reason, inputs=data.inputs,
        )  # fmt: skip

    @post(f"{STEP}/reject", status_code=200, responses=DECISION_ERRORS)
    async def reject_step(
        self, data: JSONBody[RejectRequest], decision: NamedDependency[StepDecision]
    ) -> DecisionResponse:
        """Reject a waiting step with a reason; the execution stops and writes nothing more."""
        return await decision.make(DecisionAction.REJECTED, reason=data.reason)

    @get("/approvals", responses=error_responses(400, 401))
    async def list_approvals(
        self,
        request: Request[User, str, Any],
        definitions: NamedDependency[dict[str, WorkflowDefinition]],
        settings: NamedDependency[Settings],
        live: NamedDependency[LiveUpdates],
        workflow_id: str | None = None,
        impact: str | None = None,
        limit: int = Parameter(default=100, ge=1, le=500, description="Items per page."),
        after: str | None = Parameter(
            default=None, description="Cursor from the `X-Next-Cursor` header: the next page."
        ),
    ) -> Response[list[InboxItem]]:
        """Steps waiting for approval that the caller may decide (their inbox), soonest expiry
        first: workflow, the execution's key input, the preview's summary line, impact, since
        when it waits and when it expires. `workflow_id` and `impact` narrow it; an unknown
        impact answers 400 naming the allowed values. Paged by a keyset cursor over
        (expires_at, waiting_since, execution_id, step_id): at most `limit` items; when more
        follow, the `X-Next-Cursor` header (and a `Link: rel="next"`) gives `after` for the next
        page, which keeps its boundary when steps start or are decided in between. A cursor the
        inbox did not give answers 400 naming `after`."""
        only = inbox_filter(workflow_id, impact)
        cursor = inbox_cursor("after", after)
        page = await inbox.inbox_page(
            definitions, request.user, only, after=cursor, size=limit, decided=live.inbox.mask
        )
        now = datetime.now(UTC)
        items = [inbox_item(item, request.user, settings.path_prefix, now) for item in page.items]
        headers = {}
        if page.later is not None:
            query = urlencode({**only.params, "limit": limit, "after": page.later.text})
            headers["X-Next-Cursor"] = page.later.text
            headers["Link"] = (
                f'<{settings.path_prefix}/api/workflows/approvals?{query}>; rel="next"'
            )
        return Response(items, headers=headers)

    @post("/approvals/bulk", status_code=200, responses=error_responses(400, 401, 404, 422))
    async def bulk_approve(
        self,
        request: Request[User, str, Any],
        data: JSONBody[BulkApproveRequest],
        bulk: NamedDependency[BulkApproval],
        live: NamedDependency[LiveUpdates],
        definitions: NamedDependency[dict[str, WorkflowDefinition]],
    ) -> BulkApproveResponse:
        """Approve one non-critical step of several executions of one workflow: each a separate
        decision through the workflow's validator, recorded individually, reported item by item
        (`approved`, or `refused: <reason>` — already decided, not allowed, a confirmation
        missing). 422 for a critical step or one with a typed phrase (never bulk-approved), 404
        for an unknown workflow or step, 400 for an empty list."""
        try:
            results = await bulk.approve_all(
                request.user, data.workflow_id, data.step_id, data.execution_ids,
                data.confirmations, source="api",
                waiting=await inbox.waiting_approvals(definitions),
            )  # fmt: skip
        except BulkRefused as exc:
            raise bulk_refusal(exc) from None
        for result in results:
            live.nudge(result.execution_id)
        return BulkApproveResponse(
            workflow_id=data.workflow_id,
            step_id=data.step_id,
            approved=sum(1 for r in results if r.result == APPROVED),
            refused=sum(1 for r in results if r.result != APPROVED),
            results=[
                BulkItemResultSchema(
                    execution_id=r.execution_id,
                    result=r.result,
                    message=r.message,
                    reason=r.reason,
                    step_status=r.step_status,
                    key_input=r.key_input,
                    summary=r.summary,
                )  # fmt: skip
                for r in results
            ],
        )


def bulk_refusal(exc: BulkRefused) -> HTTPException:
    extra = {"errors": {exc.field: exc.message}} if exc.field else None
    return HTTPException(status_code=exc.status, detail=exc.message, extra=extra)


def inbox_item(item: WaitingApproval, user: User, prefix: str, now: datetime) -> InboxItem:
    return InboxItem(
        execution_id=item.execution_id, workflow_id=item.workflow_id,
        workflow_name=item.workflow_name, step_id=item.step_id, step_name=item.step_name,
        impact=item.impact, key_input=item.key_input, key_label=item.key_label,
        summary=item.summary, started_by=item.started_by, waiting_since=item.waiting_since,
        waiting_seconds=item.waiting_seconds(now), expires_at=item.expires_at,
        expires_in_seconds=item.expires_in_seconds(now), four_eyes=item.four_eyes,
        may_approve=item.may_approve(user), bulk_approvable=item.bulk_approvable,
        timeline_url=f"{prefix}/executions/{item.execution_id}#step-{item.step_id}",
        required_approvals=item.required_approvals, approved_by=list(item.approved_by),
    )  # fmt: skip

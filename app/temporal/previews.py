"""Operation previews and impact analysis, built in an activity before a step waits (SPEC §2).

Each action may have a preview builder that reads the real current state (e.g. the CRM row an
update would change), so the approver sees old → new; other actions get a generic preview of
their params.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Any

from temporalio import activity, workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, CancelledError

from app.db.demo import DemoSystems
from app.db.step_previews import StepPreviews
from app.domain.definitions import StepDefinition
from app.domain.modes import ImpactLevel
from app.temporal.contracts import (
    ExecutionInput,
    FieldChange,
    ImpactWarning,
    OperationPreview,
    PreviewRequest,
)
from app.temporal.record_queue import DB_TIMEOUT

CREDIT_LIMIT_WARNING_ABOVE = 1000

logger = logging.getLogger(__name__)
# Seconds the preview activity gives PostgreSQL to record the summary line for the inbox.
RECORD_SUMMARY_TIMEOUT = 2.0


def money(value: Any) -> str:
    return f"${int(value):,}"


def general_warnings(req: PreviewRequest) -> list[ImpactWarning]:
    """Warnings every step gets from where it runs and what it may touch."""
    warnings = []
    if req.environment.lower() == "production":
        warnings.append(ImpactWarning("critical", "Execute in PRODUCTION environment"))
    if req.impact == ImpactLevel.CRITICAL:
        warnings.append(ImpactWarning("critical", "Critical step: changes money or deletes data"))
    return warnings


def credit_warning(credit_limit: Any) -> list[ImpactWarning]:
    severity = "warning" if int(credit_limit) > CREDIT_LIMIT_WARNING_ABOVE else "info"
    return [ImpactWarning(severity, f"Setting credit limit to {money(credit_limit)}")]


def preview_email(req: PreviewRequest) -> OperationPreview:
    p = req.params
    return OperationPreview(
        operation="SEND",
        target="email.outbox",
        environment=req.environment,
        summary=f"SEND email to {p['to']}",
        fields=[FieldChange(name, p.get(name, "")) for name in ("to", "subject", "body")],
        impact=[*general_warnings(req), ImpactWarning("info", f"Sends an email to {p['to']}")],
    )


def preview_unavailable(req: PreviewRequest, cause: BaseException) -> OperationPreview:
    """What the approver sees when the preview activity gave up: they would decide blind."""
    return OperationPreview(
        operation=req.action.upper(),
        target=req.action,
        environment=req.environment,
        summary="Preview unavailable",
        impact=[ImpactWarning("critical", f"Preview could not be built: {cause}")],
    )


def preview_generic(req: PreviewRequest) -> OperationPreview:
    return OperationPreview(
        operation=req.action.upper(),
        target=req.action,
        environment=req.environment,
        summary=f"Run {req.action} with {len(req.params)} parameter(s)",
        fields=[FieldChange(name, value) for name, value in req.params.items()],
        impact=general_warnings(req),
    )


class PreviewActivities:
    """`build_preview`: what a step is about to do, read from the demo systems it would touch;
    its summary line is recorded in `previews` (step_previews) for the inbox."""

    def __init__(self, demo: DemoSystems, previews: StepPreviews | None = None) -> None:
        self.demo = demo
        self.previews = previews or StepPreviews()

    @activity.defn
    async def build_preview(self, req: PreviewRequest) -> OperationPreview:
        """The preview; its summary recorded on the side. A failed record only leaves the
        inbox without the summary line: it never holds up the approval it describes."""
        preview = await self._build(req)
        try:
            # Bounded: with PostgreSQL down, a preview that needs no database still shows.
            await asyncio.wait_for(self.previews.record(
                execution_id=req.execution_id, workflow_id=req.workflow_id,
                step_id=req.step_id, summary=preview.summary,
            ), RECORD_SUMMARY_TIMEOUT)  # fmt: skip
        except Exception as exc:  # noqa: BLE001 - best effort, said in the log
            logger.warning("preview summary of %s/%s not recorded: %s",
                           req.execution_id, req.step_id, exc)  # fmt: skip
        return preview

    async def _build(self, req: PreviewRequest) -> OperationPreview:
        if req.action == "create_crm_record":
            return await self.preview_crm_record(req)
        if req.action == "setup_billing_account":
            return await self.preview_billing_account(req)
        if req.action == "send_email":
            return preview_email(req)
        if req.action == "review_order":
            return await self.preview_order_review(req)
        if req.action == "approve_expense":
            return await self.preview_expense(req)
        return preview_generic(req)

    async def preview_order_review(self, req: PreviewRequest) -> OperationPreview:
        """The order as recorded (customer, items, amount, payment) and its status → approved."""
        order_id = str(req.params["order_id"])
        order = await self.demo.order(order_id) or {}
        fields = [FieldChange("status", "approved", order.get("status"))]
        fields += [FieldChange(name, order[name], order[name])
                   for name in ("customer", "sku", "quantity", "amount", "payment_ref") if name in order]  # fmt: skip
        amount = int(req.params.get("amount", order.get("amount", 0)))
        impact = [*general_warnings(req), ImpactWarning("warning", f"High amount: {money(amount)}")]
        if req.params.get("fraud_score") not in (None, ""):
            impact.append(ImpactWarning("info", f"Fraud score {req.params['fraud_score']}"))
        return OperationPreview(operation="UPDATE", target="shop.orders",
                                environment=req.environment,
                                summary=f"APPROVE order {order_id} ({money(amount)})",
                                fields=fields, impact=impact)  # fmt: skip

    async def preview_expense(self, req: PreviewRequest) -> OperationPreview:
        """The claim as submitted (employee, amount, what for) and its status → approved."""
        claim = await self.demo.expense(req.execution_id) or {}
        fields = [FieldChange("status", "approved", claim.get("status"))]
        fields += [FieldChange(name, claim[name], claim[name])
                   for name in ("employee", "amount", "description") if name in claim]  # fmt: skip
        amount = int(req.params.get("amount", claim.get("amount", 0)))
        return OperationPreview(operation="UPDATE", target="expenses.claims",
                                environment=req.environment,
                                summary=f"APPROVE expense of {money(amount)} by {claim.get('employee', '?')}",
                                fields=fields,
                                impact=[*general_warnings(req),
                                        ImpactWarning("warning", f"Pays out {money(amount)}")])  # fmt: skip

    async def preview_crm_record(self, req: PreviewRequest) -> OperationPreview:
        p = req.params
        email = str(p["email"]).lower()
        new = {"name": p["name"], "email": email, "tier": p["tier"],
               "credit_limit": int(p.get("credit_limit", 0))}  # fmt: skip
        current = await self.demo.contact(email)
        if current is None:
            fields = [FieldChange(name, value) for name, value in new.items()]
            operation, what = "CREATE", "Creates a customer record"
        else:
            fields = [FieldChange(name, value, current[name]) for name, value in new.items()]
            operation = "UPDATE"
            what = f"Updates the existing customer record for {email}"
        return OperationPreview(
            operation=operation,
            target="crm.contacts",
            environment=req.environment,
            summary=f"{operation} crm.contacts {email}",
            fields=fields,
            impact=[*general_warnings(req), ImpactWarning("warning", what),
                    *credit_warning(new["credit_limit"])],
        )  # fmt: skip

    async def preview_billing_account(self, req: PreviewRequest) -> OperationPreview:
        p = req.params
        email = str(p["email"]).lower()
        existing = await self.demo.billing_accounts_of(email)
        impact = [*general_warnings(req), *credit_warning(p.get("credit_limit", 0))]
        if existing:
            impact.append(
                ImpactWarning("warning", f"{email} already has {existing} billing account(s)")
            )
        return OperationPreview(
            operation="CREATE",
            target="billing.accounts",
            environment=req.environment,
            summary=f"CREATE billing.accounts for {email}",
            fields=[FieldChange("contact_email", email), FieldChange("tier", p["tier"]),
                    FieldChange("credit_limit", int(p.get("credit_limit", 0)))],
            impact=impact,
        )  # fmt: skip


# A preview that cannot be built must not block the approver forever: give up and say so.
_PREVIEW_RETRY = RetryPolicy(maximum_attempts=5, maximum_interval=timedelta(seconds=10))


async def build_preview(
    inp: ExecutionInput, step: StepDefinition, params: dict[str, Any]
) -> OperationPreview:
    """Workflow code: the step's preview from the `build_preview` activity, or, when it cannot
    be built, one that says so (the approver still decides, knowingly blind)."""
    request = PreviewRequest(
        execution_id=inp.execution_id,
        workflow_id=inp.definition.id,
        step_id=step.id,
        action=step.action,
        impact=step.impact,
        environment=step.environment,
        params=params,
    )
    try:
        return await workflow.execute_activity_method(
            PreviewActivities.build_preview, request, start_to_close_timeout=DB_TIMEOUT,
            retry_policy=_PREVIEW_RETRY,
        )  # fmt: skip
    except ActivityError as exc:
        if isinstance(exc.cause, CancelledError):
            # Its step was cancelled (the execution, or a parallel branch another step stopped)
            # while the preview was built: end the step, do not go on to wait.
            raise asyncio.CancelledError() from exc
        return preview_unavailable(request, exc.cause or exc)

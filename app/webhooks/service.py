"""Receiving a signed webhook: find the workflow's webhook trigger and its secret, verify the
raw body's signature and timestamp, filter the event, then start one execution per event."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import structlog
from temporalio.exceptions import WorkflowAlreadyStartedError

from app.domain import webhooks
from app.domain.identity import User
from app.domain.templating import TemplateProblem
from app.domain.triggers import WebhookTrigger
from app.executions.service import ExecutionService, InvalidInput, UnknownWorkflow

log = structlog.stdlib.get_logger("stepladder.webhooks")

# Who a webhook's executions are started by (the signature is the identity).
WEBHOOK_USER = User(name="webhook", display_name="Webhook", roles=frozenset())


class NoWebhook(LookupError):
    """No such workflow, or it has no `type: webhook` trigger (HTTP 404)."""


class WebhookNotConfigured(RuntimeError):
    """The server holds no secret for this webhook (HTTP 503: the server's fault, not the
    caller's); the message names the variable to set and is logged, not sent."""


class WebhookRefused(PermissionError):
    """A missing or wrong signature, or a replayed or stale timestamp (HTTP 401)."""


class BadWebhookBody(ValueError):
    """A body that is not a JSON object, or whose `data` is not an object (HTTP 400)."""


@dataclass(frozen=True)
class WebhookOutcome:
    """`status` "started" (execution_id; `duplicate` when the event had started it before) or
    "ignored" (`reason`)."""

    status: str
    execution_id: str = ""
    duplicate: bool = False
    reason: str = ""


class WebhookService:
    """Takes webhook deliveries for the workflows of `executions`. Secrets come from
    `secrets` (settings' STEPLADDER_WEBHOOK_SECRETS, by workflow id), else the environment
    variable the trigger's `secret_env` names; never from the definition file."""

    def __init__(
        self,
        executions: ExecutionService,
        secrets: Mapping[str, str],
        *,
        environ: Mapping[str, str] = os.environ,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.executions = executions
        self.secrets = secrets
        self.environ = environ
        self.clock = clock

    def trigger(self, workflow_id: str) -> WebhookTrigger:
        """The workflow's webhook trigger; raises NoWebhook."""
        try:
            definition = self.executions.definition(workflow_id)
        except UnknownWorkflow:
            raise NoWebhook(f"no workflow named {workflow_id!r}") from None
        if not definition.webhooks:
            raise NoWebhook(f"workflow {workflow_id!r} has no webhook trigger")
        return definition.webhooks[0]

    def secret(self, workflow_id: str, trigger: WebhookTrigger) -> str:
        """The webhook's secret; raises WebhookNotConfigured when none is set."""
        secret = self.secrets.get(workflow_id) or self.environ.get(trigger.secret_env, "")
        if not secret:
            raise WebhookNotConfigured(
                f"no secret for the webhook of {workflow_id!r}: set {trigger.secret_env}"
                f" or STEPLADDER_WEBHOOK_SECRETS"
            )
        return secret

    def verify(
        self, trigger: WebhookTrigger, secret: str, body: bytes, headers: Mapping[str, str]
    ) -> None:
        """Raise WebhookRefused unless X-Signature signs the raw body (or `<timestamp>.<body>`)
        and X-Timestamp, when sent, is within the trigger's tolerance of now."""
        timestamp = headers.get(webhooks.TIMESTAMP_HEADER, "").strip()
        signature = headers.get(webhooks.SIGNATURE_HEADER, "")
        if not webhooks.signature_valid(secret, body, signature, timestamp):
            raise WebhookRefused("missing or wrong signature")
        if not timestamp:
            return
        sent_at = webhooks.timestamp_seconds(timestamp)
        tolerance = trigger.tolerance_seconds
        if sent_at is None or not webhooks.within_tolerance(sent_at, self.clock(), tolerance):
            raise WebhookRefused(
                f"replayed or stale request: X-Timestamp must be unix seconds within"
                f" {tolerance:g} s of the server's clock"
            )

    async def receive(
        self, workflow_id: str, body: bytes, headers: Mapping[str, str]
    ) -> WebhookOutcome:
        """One delivery: `body` the raw bytes, `headers` with lower-case names. Raises NoWebhook,
        WebhookNotConfigured, WebhookRefused, BadWebhookBody, InvalidInput (the input the
        trigger makes), and what ExecutionService.start raises (WorkflowNotAccepting,
        StartRateLimited, ServiceUnavailable)."""
        trigger = self.trigger(workflow_id)
        self.verify(trigger, self.secret(workflow_id, trigger), body, headers)
        payload = _json_object(body)
        reason = webhooks.ignored_because(trigger.events, webhooks.event_type_of(headers, payload))
        if reason:
            log.info("webhook.ignored", workflow_id=workflow_id, reason=reason)
            return WebhookOutcome(status="ignored", reason=reason)
        data = payload.get("data", payload)
        if not isinstance(data, dict):
            raise BadWebhookBody("the payload's data must be a JSON object")
        execution_id = webhooks.execution_id_for(
            workflow_id, webhooks.event_id_of(headers, payload, body)
        )
        definition = self.executions.definition(workflow_id)
        try:
            values = webhooks.webhook_input(
                trigger.input, data, [spec.name for spec in definition.inputs]
            )
        except TemplateProblem as exc:
            raise InvalidInput({"input": f"the webhook's input mapping: {exc}"}) from None
        try:
            await self.executions.start(
                workflow_id, values, WEBHOOK_USER, via="webhook", trigger=data,
                execution_id=execution_id,
            )  # fmt: skip
        except WorkflowAlreadyStartedError:
            log.info("webhook.duplicate", workflow_id=workflow_id, execution_id=execution_id)
            return WebhookOutcome(status="started", execution_id=execution_id, duplicate=True)
        return WebhookOutcome(status="started", execution_id=execution_id)


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(body)
    except ValueError:  # also UnicodeDecodeError
        raise BadWebhookBody("the body is not JSON") from None
    if not isinstance(payload, dict):
        raise BadWebhookBody("the body must be a JSON object")
    return payload

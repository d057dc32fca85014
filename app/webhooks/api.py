"""The signed webhook endpoint: `POST /api/workflows/webhooks/{workflow_id}/`. It is exempt from
the identity middleware and CSRF: the HMAC signature is the caller's identity."""

from __future__ import annotations

import logging
from typing import Any

from litestar import Controller, Request, post
from litestar.di import NamedDependency
from litestar.exceptions import (
    ClientException,
    NotAuthorizedException,
    NotFoundException,
    ServiceUnavailableException,
)
from litestar.openapi.spec import Example, OpenAPIMediaType, RequestBody, Schema

from app.executions.service import InvalidInput
from app.live.updates import LiveUpdates
from app.settings import Settings
from app.web.errors import error_responses
from app.webhooks.schemas import WebhookResponse
from app.webhooks.service import (
    BadWebhookBody,
    NoWebhook,
    WebhookNotConfigured,
    WebhookRefused,
    WebhookService,
)

log = logging.getLogger("stepladder.webhooks")
_EXAMPLE_BODY = {"id": "evt_123", "type": "order.created", "data": {"name": "Ada", "tier": "basic"}}


class WebhookApi(Controller):
    path = "/api/workflows/webhooks"
    tags = ["webhooks"]

    @post(
        ["/{workflow_id:str}", "/{workflow_id:str}/"],
        status_code=202,
        exclude_from_auth=True,
        exclude_from_csrf=True,
        responses=error_responses(400, 401, 404, 409, 422, 429, 503),
        security=[],
        request_body=RequestBody(
            required=True,
            description="Any JSON object; its `data` becomes `trigger.*`. Signed: X-Signature"
            " = hex HMAC-SHA256 of the raw body (or of `<X-Timestamp>.<body>`) with the secret.",
            content={
                "application/json": OpenAPIMediaType(
                    schema=Schema(type=None),  # any JSON object
                    examples={"order": Example(value=_EXAMPLE_BODY)},
                )
            },
        ),
    )
    async def receive_webhook(
        self,
        workflow_id: str,
        request: Request[Any, Any, Any],
        webhooks: NamedDependency[WebhookService],
        live: NamedDependency[LiveUpdates],
        settings: NamedDependency[Settings],
    ) -> WebhookResponse:
        """Start an execution of `workflow_id` from a signed event (headers X-Signature,
        X-Timestamp, X-Event-Id). The same event id twice starts one execution (the second
        answer says `duplicate`); an event type outside the trigger's `events:` is ignored."""
        body = await request.body()  # the raw bytes, before any JSON parsing
        headers = {name.lower(): value for name, value in request.headers.items()}
        try:
            outcome = await webhooks.receive(workflow_id, body, headers)
        except NoWebhook as exc:
            raise NotFoundException(str(exc)) from None
        except WebhookNotConfigured as exc:
            log.warning("webhook refused: %s", exc)
            raise ServiceUnavailableException(
                f"the webhook of {workflow_id!r} is not configured on the server (no secret)"
            ) from None
        except WebhookRefused as exc:
            raise NotAuthorizedException(str(exc)) from None
        except BadWebhookBody as exc:
            raise ClientException(str(exc), extra={"errors": {"body": str(exc)}}) from None
        except InvalidInput as exc:
            raise ClientException(str(exc), status_code=422, extra={"errors": exc.errors}) from None
        if outcome.execution_id and not outcome.duplicate:
            live.nudge(outcome.execution_id)
        return WebhookResponse(
            status=outcome.status,
            execution_id=outcome.execution_id,
            duplicate=outcome.duplicate,
            reason=outcome.reason,
            timeline_url=(
                f"{settings.path_prefix}/executions/{outcome.execution_id}"
                if outcome.execution_id
                else ""
            ),
        )

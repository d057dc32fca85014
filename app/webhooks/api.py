"""The signed webhook endpoint: `POST /api/workflows/webhooks/{workflow_id}/`. It is exempt from
the identity middleware and CSRF: the HMAC signature is the caller's identity."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from litestar import Controller, Request, post
from litestar.di import NamedDependency
from litestar.exceptions import (
    ClientException,
    NotAuthorizedException,
    NotFoundException,
    ServiceUnavailableException,
)
from litestar.openapi.spec import (
    Example,
    OpenAPIMediaType,
    OpenAPIType,
    Operation,
    Parameter,
    RequestBody,
    Schema,
)

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
_EXAMPLE_BODY = {
    "id": "evt_1001",
    "type": "customer.created",
    "data": {"name": "Grace Hopper", "email": "grace@example.com", "tier": "premium"},
}

_HEADERS = {
    "X-Signature": "hex HMAC-SHA256 of the raw body (or of `<X-Timestamp>.<body>`) with the"
    " webhook's secret; a `sha256=` prefix is accepted",
    "X-Timestamp": "when it was sent, unix seconds; refused beyond the trigger's tolerance",
    "X-Event-Id": "the event's idempotency key (else the payload's `id` or `event_id`)",
    "X-Event-Type": "the event type when the payload has no `type` or `event`",
}


@dataclass
class WebhookOperation(Operation):
    """The webhook's OpenAPI operation: the handler reads the raw body itself (the signature
    covers its exact bytes), so its JSON body and the signing headers are declared here."""

    def __post_init__(self) -> None:
        self.request_body = RequestBody(
            required=True,
            description="Any JSON object; its `data` becomes `trigger.*` (without `data`: the"
            " whole object).",
            content={
                "application/json": OpenAPIMediaType(
                    schema=Schema(type=OpenAPIType.OBJECT),
                    examples={"customer": Example(summary="A customer event", value=_EXAMPLE_BODY)},
                )
            },
        )
        self.parameters = [
            *(self.parameters or []),
            *(
                Parameter(name=name, param_in="header", description=text, schema=Schema(
                    type=OpenAPIType.STRING), required=name == "X-Signature")
                for name, text in _HEADERS.items()
            ),
        ]  # fmt: skip


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
        operation_class=WebhookOperation,
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

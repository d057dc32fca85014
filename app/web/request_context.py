"""Each request's log context: its request id (an incoming X-Request-ID, or a new one, echoed in
the response) and, once identified, its user — bound with structlog's contextvars."""

from __future__ import annotations

import re
import uuid
from typing import Any

import structlog
from litestar import Request
from litestar.datastructures import MutableScopeHeaders
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_ID_HEADER = "x-request-id"
# What a proxy's id may look like to be kept (anything else is replaced by one of ours).
ACCEPTED_REQUEST_ID = re.compile(r"[A-Za-z0-9._:/+=-]{1,128}")


def request_id_of(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == REQUEST_ID_HEADER.encode():
            incoming = value.decode("latin-1").strip()
            if ACCEPTED_REQUEST_ID.fullmatch(incoming):
                return incoming
    return uuid.uuid4().hex


class RequestContextMiddleware:
    """Binds `request_id` for the request's log lines and answers it in X-Request-ID; what the
    request's code binds (user, execution_id, step_id) is dropped when it ends."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        request_id = request_id_of(scope)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableScopeHeaders.from_message(message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        before = structlog.contextvars.get_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            structlog.contextvars.clear_contextvars()
            structlog.contextvars.bind_contextvars(**before)


async def bind_request_user(request: Request[Any, Any, Any]) -> None:
    """A before-request hook: the identified user joins the log context (routes without
    sign-in, like /health, have none)."""
    user = request.scope.get("user")
    name = getattr(user, "name", None)
    if name:
        structlog.contextvars.bind_contextvars(user=name)

"""Errors as users meet them: JSON `{status_code, detail, extra}` on the API (declared in the
OpenAPI for every operation), the error page on HTML routes, sign-in for a signed-out browser."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from litestar import MediaType, Request, Response
from litestar.exceptions import ClientException, HTTPException, NotAuthorizedException
from litestar.openapi.datastructures import ResponseSpec
from litestar.response import Redirect, Template

from app.definitions.lifecycle import WorkflowNotAccepting
from app.domain.availability import ServiceUnavailable
from app.executions.limits import StartRateLimited
from app.settings import Settings
from app.web.api_paths import is_api_path
from app.web.embedding import base_path

log = logging.getLogger("stepladder.web")


@dataclass
class ErrorBody:
    """Every API error: the HTTP status, what went wrong in words, and details (per-field
    `errors` for 400/422, `kind` of a refused decision, `current` values on a 409 edit conflict)."""

    status_code: int
    detail: str
    extra: dict[str, Any] = field(default_factory=dict)


ERROR_MEANINGS = {
    400: "The request body or a parameter is malformed (`extra.errors` per field)",
    401: "Not signed in, or no identity header",
    403: "Signed in without the role this needs (or four eyes)",
    404: "No such workflow, execution or step",
    409: "The state moved on: the step is not waiting, or the edit is stale",
    422: "Understood but refused: a confirmation, phrase, reason or value is missing or invalid",
    429: "Too many starts in this window (per user, or per workflow for a webhook): wait the"
    " seconds `Retry-After` says",
    503: "A dependency (PostgreSQL or Temporal) is not answering",
}


def error_responses(*codes: int) -> dict[int, ResponseSpec]:
    """OpenAPI `responses=` for a handler: each code with the ErrorBody schema and its meaning."""
    return {
        code: ResponseSpec(data_container=ErrorBody, description=ERROR_MEANINGS[code])
        for code in codes
    }


def wants_html(request: Request[Any, Any, Any]) -> bool:
    """A page for a browser; JSON for the API and for htmx, whose script shows the message in
    place (static/app.js) instead of swapping a whole error page into a region."""
    if is_api_path(request.scope["path"]) or request.headers.get("hx-request"):
        return False
    return "text/html" in request.headers.get("accept", "text/html")


def way_back(request: Request[Any, Any, Any]) -> str:
    """The page the browser came from (a form's page), when it is one of ours."""
    referer = urlsplit(request.headers.get("referer", ""))
    if not referer.path or referer.netloc != request.headers.get("host"):
        return ""
    return referer.path + (f"?{referer.query}" if referer.query else "")


# Seconds a client should wait before trying again after a 503.
RETRY_AFTER = 5
SERVICE_NAMES = {"temporal": "Temporal (the workflow engine)", "postgresql": "PostgreSQL"}


def unavailable_response(request: Request[Any, Any, Any], exc: ServiceUnavailable) -> Response[Any]:
    """503 naming the dependency, with Retry-After: JSON on the API, the error page on pages."""
    log.warning("%s %s: %s", request.method, request.url.path, exc)
    detail = f"{SERVICE_NAMES[exc.service]} is not answering: {exc.reason}"
    headers = {"Retry-After": str(RETRY_AFTER)}
    if wants_html(request):
        return Template(
            "error.html",
            context={"status_code": 503, "detail": detail},
            status_code=503,
            media_type=MediaType.HTML,
            headers=headers,
        )
    body = {"status_code": 503, "detail": detail, "extra": {"service": exc.service}}
    return Response(body, status_code=503, media_type=MediaType.JSON, headers=headers)


def rate_limited_response(request: Request[Any, Any, Any], exc: StartRateLimited) -> Response[Any]:
    """429 with Retry-After (whole seconds) and the limit in words: JSON on the API, the error
    page (with the way back to the form) on pages."""
    headers = {"Retry-After": str(exc.retry_after_seconds)}
    if wants_html(request):
        return Template(
            "error.html",
            context={"status_code": 429, "detail": str(exc), "back": way_back(request)},
            status_code=429,
            media_type=MediaType.HTML,
            headers=headers,
        )
    body = {
        "status_code": 429,
        "detail": str(exc),
        "extra": {"retry_after_seconds": exc.retry_after_seconds, "limit": exc.limit.count,
                  "window_seconds": exc.limit.window_seconds},
    }  # fmt: skip
    return Response(body, status_code=429, media_type=MediaType.JSON, headers=headers)


def error_response(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    if isinstance(exc, ServiceUnavailable):
        return unavailable_response(request, exc)
    if isinstance(exc, StartRateLimited):
        return rate_limited_response(request, exc)
    if isinstance(exc, WorkflowNotAccepting):  # paused or archived: the state moved on
        exc = ClientException(str(exc), status_code=409, extra={"state": exc.record.state})
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    detail = exc.detail if isinstance(exc, HTTPException) else "Internal server error"
    if status >= 500:
        log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    settings: Settings = request.app.state.settings
    if (
        isinstance(exc, NotAuthorizedException)
        and wants_html(request)
        and settings.auth_mode == "dev"
    ):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return Redirect(
            f"{base_path(request, settings)}/auth/sign-in?next={target}", status_code=303
        )
    if wants_html(request):
        return Template(
            "error.html",
            context={"status_code": status, "detail": detail, "back": way_back(request)},
            status_code=status,
            media_type=MediaType.HTML,
        )
    body: dict[str, Any] = {"status_code": status, "detail": detail}
    extra = getattr(exc, "extra", None)
    if extra:
        body["extra"] = extra
    return Response(body, status_code=status, media_type=MediaType.JSON)

"""Embedding in a portal: `/embed/...` chromeless routes, the security headers on every response,
and the cookie policy a cross-site frame needs."""

from __future__ import annotations

from typing import Any, Literal, cast

from jinja2 import pass_context
from jinja2.runtime import Context
from litestar.connection import ASGIConnection
from litestar.datastructures import MutableScopeHeaders
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from app.settings import Settings

EMBED_PATH = "/embed"
EMBED_SCOPE_KEY = "stepladder.embed"
_NOT_OTHER_ORIGINS = {"'self'", "'none'"}


def embed_paths(app: ASGIApp) -> ASGIApp:
    """Serve `/embed/<path>` as `<path>`, marked as embedded: the pages leave out their chrome and
    every link they draw (through `prefix()`) stays under `/embed`, so embed mode sticks."""

    async def handle(scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] in ("http", "websocket") and (
            path == EMBED_PATH or path.startswith(EMBED_PATH + "/")
        ):
            inner = path[len(EMBED_PATH) :] or "/"
            embedded: dict[str, Any] = {**scope, "path": inner, EMBED_SCOPE_KEY: True}
            if scope.get("raw_path") is not None:
                embedded["raw_path"] = scope["raw_path"][len(EMBED_PATH) :] or b"/"
            scope = cast("Scope", embedded)
        await app(scope, receive, send)

    return handle


def is_embedded(connection: ASGIConnection[Any, Any, Any, Any]) -> bool:
    """Reached under `/embed/`, or with the `?embed=1` of SPEC §4."""
    return bool(connection.scope.get(EMBED_SCOPE_KEY)) or (
        connection.query_params.get("embed") == "1"
    )


def base_path(connection: ASGIConnection[Any, Any, Any, Any], settings: Settings) -> str:
    """What links and redirects start with: `PATH_PREFIX`, plus `/embed` inside a frame."""
    return settings.path_prefix + (EMBED_PATH if is_embedded(connection) else "")


def template_prefix(settings: Settings) -> Any:
    """`prefix()` for templates: `base_path` of the request being rendered."""

    @pass_context
    def prefix(context: Context) -> str:
        request = context.get("request")
        return base_path(request, settings) if request is not None else settings.path_prefix

    return prefix


def frames_cross_site(settings: Settings) -> bool:
    """FRAME_ANCESTORS names an origin besides this one: pages are framed by another site."""
    return any(origin not in _NOT_OTHER_ORIGINS for origin in settings.frame_ancestors)


def cookie_policy(settings: Settings) -> tuple[Literal["lax", "none"], bool]:
    """(SameSite, Secure) of the session and CSRF cookies. A cross-site frame only gets cookies
    marked `SameSite=None; Secure` (and `Partitioned`, added by `security_headers`); those need
    HTTPS (browsers allow them on loopback)."""
    return ("none", True) if frames_cross_site(settings) else ("lax", False)


def security_headers(settings: Settings) -> Any:
    """A `before_send` hook adding the security headers to every response: pages, errors raised
    before or after routing (401, 403, 404, 500), static files and event streams."""
    headers = {
        "Content-Security-Policy": "frame-ancestors " + " ".join(settings.frame_ancestors),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "strict-origin-when-cross-origin",
    }

    partition = frames_cross_site(settings)

    async def add_headers(message: Message, scope: Scope) -> None:
        if message["type"] == "http.response.start":
            if partition:
                message["headers"] = [_partitioned(h) for h in message.get("headers", [])]
            mutable = MutableScopeHeaders.from_message(message)
            for name, value in headers.items():
                mutable[name] = value

    return add_headers


def _partitioned(header: tuple[bytes, bytes]) -> tuple[bytes, bytes]:
    """A cross-site frame's cookies as CHIPS (`Partitioned`): browsers that block third-party
    cookies (Chromium's incognito profiles, Safari, Firefox's strict mode) keep them for the
    frame under the portal's site. Litestar's Cookie and CSRFConfig cannot say it themselves."""
    name, value = header
    if name.lower() != b"set-cookie" or b"secure" not in value.lower():
        return header
    return header if b"partitioned" in value.lower() else (name, value + b"; Partitioned")

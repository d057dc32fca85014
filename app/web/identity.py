"""Resolves the request's user: a signed dev sign-in cookie, or trusted reverse-proxy headers."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult
from litestar.types import ASGIApp

from app.domain.identity import DEMO_USERS, User, demo_user, user_from_groups
from app.settings import Settings

SESSION_COOKIE = "stepladder_user"
DEV_USER_HEADER = "x-stepladder-user"


def sign(secret: str, value: str) -> str:
    digest = hmac.new(secret.encode(), value.encode(), hashlib.sha256).hexdigest()
    return f"{value}.{digest}"


def unsign(secret: str, signed: str) -> str | None:
    value, _, digest = signed.rpartition(".")
    expected = sign(secret, value).rpartition(".")[2]
    return value if value and hmac.compare_digest(digest, expected) else None


def resolve_user(connection: ASGIConnection[Any, Any, Any, Any], settings: Settings) -> User | None:
    if settings.auth_mode == "proxy":
        name = connection.headers.get(settings.auth_user_header, "").strip()
        if not name:
            return None
        groups = connection.headers.get(settings.auth_groups_header, "").split(",")
        return user_from_groups(name, groups, settings.admin_group, settings.approver_group)
    # Dev mode: API clients name a demo user in a header; browsers carry the signed cookie.
    if connection.scope["path"].startswith("/api/"):
        return demo_user(connection.headers.get(DEV_USER_HEADER, ""))
    cookie = connection.cookies.get(SESSION_COOKIE)
    signed_name = unsign(settings.secret_key, cookie) if cookie else None
    return DEMO_USERS.get(signed_name or "")


class IdentityMiddleware(AbstractAuthenticationMiddleware):
    def __init__(self, app: ASGIApp, settings: Settings, exclude: list[str]) -> None:
        super().__init__(app, exclude=exclude)
        self.settings = settings

    async def authenticate_request(
        self, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> AuthenticationResult:
        user = resolve_user(connection, self.settings)
        if user is None:
            if self.settings.auth_mode == "proxy":
                raise NotAuthorizedException(
                    f"no {self.settings.auth_user_header} header: sign in through the portal"
                )
            raise NotAuthorizedException("sign in to continue")
        return AuthenticationResult(user=user, auth=self.settings.auth_mode)

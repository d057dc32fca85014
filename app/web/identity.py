"""Resolves the request's user: an API token (Bearer), a signed dev sign-in cookie, or trusted
reverse-proxy headers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from itsdangerous import BadSignature, TimestampSigner
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult
from litestar.types import ASGIApp

from app.domain.identity import DEMO_USERS, User, demo_user, user_from_groups
from app.settings import Settings
from app.tokens.service import user_for_secret
from app.web.api_paths import is_api_path

SESSION_COOKIE = "stepladder_user"
DEV_USER_HEADER = "x-stepladder-user"
_SESSION_SALT = "stepladder.session"  # keeps cookie signatures apart from other uses of the key


class _SignerAt(TimestampSigner):
    """A timestamp signer whose clock can be set: tests sign cookies issued in the past."""

    issued_at: int | None = None

    def get_timestamp(self) -> int:
        return self.issued_at if self.issued_at is not None else super().get_timestamp()


class SessionSigner:
    """Signs the browser's sign-in cookie (the user's name and when it was signed) with
    itsdangerous: the newest key signs, every listed key verifies (key rotation), and a cookie
    older than `max_age` seconds is refused."""

    def __init__(
        self, secret_key: str, previous_keys: Sequence[str] = (), max_age: int = 12 * 3600
    ) -> None:
        self._keys = [*previous_keys, secret_key]  # itsdangerous: oldest to newest
        self.max_age = max_age

    @classmethod
    def from_settings(cls, settings: Settings) -> SessionSigner:
        return cls(settings.secret_key, settings.secret_key_previous, settings.session_max_age)

    def sign(self, user_name: str, *, issued_at: int | None = None) -> str:
        """The cookie value for `user_name`, signed now (or at `issued_at`, a Unix time)."""
        signer = _SignerAt(self._keys, salt=_SESSION_SALT)
        signer.issued_at = issued_at
        return signer.sign(user_name).decode()

    def unsign(self, cookie: str) -> str | None:
        """The user name in a cookie this app signed within `max_age`, else None."""
        try:
            value = TimestampSigner(self._keys, salt=_SESSION_SALT).unsign(
                cookie, max_age=self.max_age
            )
        except BadSignature:  # tampered, unknown key, or expired (SignatureExpired)
            return None
        return value.decode()


def bearer_secret(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    scheme, _, secret = connection.headers.get("authorization", "").partition(" ")
    return secret.strip() if scheme.lower() == "bearer" else None


def resolve_user(
    connection: ASGIConnection[Any, Any, Any, Any], settings: Settings, sessions: SessionSigner
) -> User | None:
    """The user named by the request itself (not a token): proxy headers, or in dev mode the
    X-Stepladder-User header (API) or the signed cookie (pages)."""
    if settings.auth_mode == "proxy":
        name = connection.headers.get(settings.auth_user_header, "").strip()
        if not name:
            return None
        groups = connection.headers.get(settings.auth_groups_header, "").split(",")
        return user_from_groups(name, groups, settings.admin_group, settings.approver_group)
    # Dev mode: API clients name a demo user in a header; browsers carry the signed cookie.
    header_user = demo_user(connection.headers.get(DEV_USER_HEADER, ""))
    if is_api_path(connection.scope["path"]):
        return header_user
    cookie = connection.cookies.get(SESSION_COOKIE)
    signed_name = sessions.unsign(cookie) if cookie else None
    # Without a sign-in, a page read for JSON (GET /executions/{id}) may name its user in the
    # header too: no cross-site form can set a header, and unsafe methods still need CSRF.
    return DEMO_USERS.get(signed_name or "") or header_user


class IdentityMiddleware(AbstractAuthenticationMiddleware):
    def __init__(self, app: ASGIApp, settings: Settings, exclude: list[str]) -> None:
        super().__init__(app, exclude=exclude)
        self.settings = settings
        self.sessions = SessionSigner.from_settings(settings)

    async def authenticate_request(
        self, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> AuthenticationResult:
        # A token is accepted in every mode, and when presented it is the only identity looked at.
        secret = bearer_secret(connection)
        if secret is not None:
            token_user = await user_for_secret(secret)
            if token_user is None:
                raise NotAuthorizedException("the API token is unknown, revoked or expired")
            return AuthenticationResult(user=token_user, auth="token")
        user = resolve_user(connection, self.settings, self.sessions)
        if user is None:
            if self.settings.auth_mode == "proxy":
                raise NotAuthorizedException(
                    f"no {self.settings.auth_user_header} header: sign in through the portal"
                )
            named = connection.headers.get(DEV_USER_HEADER, "").strip()
            if named:  # a dev header naming nobody: say so, and who may be named
                known = ", ".join(sorted(DEMO_USERS))
                raise NotAuthorizedException(
                    f"{DEV_USER_HEADER} names no demo user ({named!r}); known users: {known}"
                )
            raise NotAuthorizedException("sign in to continue")
        return AuthenticationResult(user=user, auth=self.settings.auth_mode)

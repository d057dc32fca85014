"""Issue, list and revoke API tokens, and resolve a presented secret to its user."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from app.db import tokens as records
from app.domain.identity import Role, User
from app.domain.tokens import TOKEN_PREFIX, ApiToken, secret_hash, shown_prefix

LAST_USE_RESOLUTION = timedelta(seconds=60)
"""`last_used_at` is written at most this often per token: a busy client costs no write per call."""


class TokenError(ValueError):
    """A token cannot be issued as asked (no user, unknown role, bad expiry)."""


@dataclass(frozen=True)
class IssuedToken:
    """A new token and its secret: the only moment the secret exists outside its holder."""

    token: ApiToken
    secret: str


def _now() -> datetime:
    return datetime.now(UTC)


def parse_roles(names: Iterable[str]) -> tuple[Role, ...]:
    roles = []
    for name in names:
        try:
            roles.append(Role(name.strip().lower()))
        except ValueError:
            allowed = ", ".join(role.value for role in Role)
            raise TokenError(f"unknown role {name!r}; use one of {allowed}") from None
    return tuple(dict.fromkeys(roles))


async def issue_token(
    *,
    user_name: str,
    roles: Iterable[Role],
    created_by: str,
    name: str = "",
    groups: Iterable[str] = (),
    expires_days: int | None = None,
) -> IssuedToken:
    """A token standing for `user_name` with `roles` (a viewer when none), stored hashed."""
    user_name = user_name.strip()
    if not user_name:
        raise TokenError("a token needs the user (or service account) it stands for")
    if expires_days is not None and expires_days <= 0:
        raise TokenError(f"expiry must be a positive number of days, got {expires_days}")
    now = _now()
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = await records.insert_token(
        name=name.strip(),
        user_name=user_name,
        roles=tuple(roles) or (Role.VIEWER,),
        groups=tuple(g.strip() for g in groups if g.strip()),
        prefix=shown_prefix(secret),
        secret_hash=secret_hash(secret),
        created_by=created_by,
        created_at=now,
        expires_at=now + timedelta(days=expires_days) if expires_days else None,
    )
    return IssuedToken(token, secret)


async def list_tokens() -> list[ApiToken]:
    return await records.all_tokens()


async def revoke_token(token_id: int) -> bool:
    """True when the token was active and now is revoked; False when unknown or revoked before."""
    return await records.mark_revoked(token_id, _now())


async def user_for_secret(secret: str) -> User | None:
    """The user a presented secret stands for, or None (unknown, revoked or expired); records
    the use."""
    if not secret.startswith(TOKEN_PREFIX):
        return None
    token = await records.token_by_secret_hash(secret_hash(secret))
    now = _now()
    if token is None or not token.usable_at(now):
        return None
    if token.last_used_at is None or now - token.last_used_at >= LAST_USE_RESOLUTION:
        await records.mark_used(token.id, now)
    return token.user()

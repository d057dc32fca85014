"""API tokens: what a token says about its holder, and when it may be used."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from app.domain.identity import Role, User, with_implied

TOKEN_PREFIX = "slt_"
"""Every secret starts with this, so a leaked one is recognisable (secret scanners, logs)."""
SHOWN_PREFIX_LENGTH = 12
"""How much of a secret is kept in clear, to tell tokens apart on the page."""


def secret_hash(secret: str) -> str:
    """What is stored of a secret: its sha256. Secrets are random (256 bits), so no salt or slow
    hash is needed — a lookup by hash stays one indexed read."""
    return hashlib.sha256(secret.encode()).hexdigest()


def shown_prefix(secret: str) -> str:
    return secret[:SHOWN_PREFIX_LENGTH]


@dataclass(frozen=True)
class ApiToken:
    """A token as stored, without its secret: whom it stands for and its life."""

    id: int
    name: str
    user_name: str
    roles: tuple[Role, ...]
    groups: tuple[str, ...]
    prefix: str
    created_by: str
    created_at: datetime
    expires_at: datetime | None = None
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None

    def usable_at(self, now: datetime) -> bool:
        return self.revoked_at is None and (self.expires_at is None or now < self.expires_at)

    def state_at(self, now: datetime) -> str:
        if self.revoked_at is not None:
            return "revoked"
        return "active" if self.usable_at(now) else "expired"

    def user(self) -> User:
        return User(
            name=self.user_name,
            display_name=self.user_name,
            roles=with_implied(self.roles),
            groups=frozenset(self.groups),
        )

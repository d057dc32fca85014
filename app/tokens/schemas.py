"""What the tokens API takes and answers."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from app.domain.identity import Role
from app.domain.tokens import ApiToken


@dataclass
class CreateTokenRequest:
    user: str
    """The user or service account the token stands for."""
    role: Role = Role.VIEWER
    """Its role (an admin may do all an approver may, an approver all a viewer may)."""
    name: str = ""
    """A label telling tokens apart (what uses it)."""
    groups: list[str] = field(default_factory=list)
    """Groups it belongs to (a step's `approvers_group` lets its members decide)."""
    expires_days: int | None = None
    """Days until it stops working; none: until revoked."""


@dataclass
class TokenView:
    """A token without its secret."""

    id: int
    name: str
    user: str
    roles: list[Role]
    groups: list[str]
    prefix: str
    """The secret's first characters, to recognise it."""
    state: str
    """`active`, `expired` or `revoked`."""
    created_by: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    """When it was last used (recorded at most once a minute)."""
    revoked_at: datetime | None

    @classmethod
    def of(cls, token: ApiToken, now: datetime) -> TokenView:
        return cls(
            id=token.id,
            name=token.name,
            user=token.user_name,
            roles=list(token.roles),
            groups=list(token.groups),
            prefix=token.prefix,
            state=token.state_at(now),
            created_by=token.created_by,
            created_at=token.created_at,
            expires_at=token.expires_at,
            last_used_at=token.last_used_at,
            revoked_at=token.revoked_at,
        )


@dataclass
class CreatedToken:
    token: TokenView
    secret: str
    """Send it as `Authorization: Bearer <secret>`. Shown this once: only its hash is kept."""

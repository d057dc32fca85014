"""Data access for API tokens: issue, list, look up by secret hash, revoke, record a use."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from app.db.tables import ApiTokenRecord
from app.domain.identity import Role
from app.domain.tokens import ApiToken


def _token(row: dict[str, Any]) -> ApiToken:
    return ApiToken(
        id=row["id"],
        name=row["name"],
        user_name=row["user_name"],
        roles=tuple(Role(role) for role in row["roles"]),
        groups=tuple(row["groups"]),
        prefix=row["prefix"],
        created_by=row["created_by"],
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        last_used_at=row["last_used_at"],
        revoked_at=row["revoked_at"],
    )


async def insert_token(
    *,
    name: str,
    user_name: str,
    roles: Sequence[Role],
    groups: Sequence[str],
    prefix: str,
    secret_hash: str,
    created_by: str,
    created_at: datetime,
    expires_at: datetime | None,
) -> ApiToken:
    record = ApiTokenRecord(
        name=name,
        user_name=user_name,
        roles=[role.value for role in roles],
        groups=list(groups),
        prefix=prefix,
        secret_hash=secret_hash,
        created_by=created_by,
        created_at=created_at,
        expires_at=expires_at,
    )
    await record.save()
    found = await token_by_id(record.id)
    assert found is not None
    return found


async def token_by_id(token_id: int) -> ApiToken | None:
    row = await (
        ApiTokenRecord.select().where(ApiTokenRecord.id == token_id).first().output(load_json=True)
    )
    return _token(row) if row else None


async def token_by_secret_hash(secret_hash: str) -> ApiToken | None:
    row = await (
        ApiTokenRecord.select()
        .where(ApiTokenRecord.secret_hash == secret_hash)
        .first()
        .output(load_json=True)
    )
    return _token(row) if row else None


async def all_tokens() -> list[ApiToken]:
    """Every token, newest first (revoked and expired ones too: they are the audit trail)."""
    rows = await (
        ApiTokenRecord.select().order_by(ApiTokenRecord.id, ascending=False).output(load_json=True)
    )
    return [_token(row) for row in rows]


async def mark_revoked(token_id: int, at: datetime) -> bool:
    """Revoke a token not yet revoked; False when there is no such token or it already was."""
    changed = await (
        ApiTokenRecord.update({ApiTokenRecord.revoked_at: at})
        .where(ApiTokenRecord.id == token_id, ApiTokenRecord.revoked_at.is_null())
        .returning(ApiTokenRecord.id)
    )
    return bool(changed)


async def mark_used(token_id: int, at: datetime) -> None:
    await ApiTokenRecord.update({ApiTokenRecord.last_used_at: at}).where(
        ApiTokenRecord.id == token_id
    )

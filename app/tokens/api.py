"""The tokens JSON API: admins list, create and revoke API tokens."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from litestar import Controller, Request, delete, get, post
from litestar.exceptions import NotFoundException, ValidationException
from litestar.params import JSONBody

from app.domain.identity import Role, User
from app.tokens import service
from app.tokens.schemas import CreatedToken, CreateTokenRequest, TokenView
from app.web.errors import error_responses
from app.web.guards import requires

MANAGING = "Managing API tokens"


class TokenApi(Controller):
    path = "/api/tokens"
    tags = ["tokens"]
    guards = [requires(Role.ADMIN, MANAGING)]

    @get("/", responses=error_responses(401, 403))
    async def list_tokens(self) -> list[TokenView]:
        """Every token, newest first, revoked and expired ones too; never their secrets."""
        now = datetime.now(UTC)
        return [TokenView.of(token, now) for token in await service.list_tokens()]

    @post("/", status_code=201, responses=error_responses(400, 401, 403, 422))
    async def create_token(
        self, request: Request[User, Any, Any], data: JSONBody[CreateTokenRequest]
    ) -> CreatedToken:
        """Issue a token for a user or service account; the answer holds its secret, once."""
        try:
            issued = await service.issue_token(
                user_name=data.user,
                roles=[data.role],
                groups=data.groups,
                name=data.name,
                expires_days=data.expires_days,
                created_by=request.user.name,
            )
        except service.TokenError as exc:
            raise ValidationException(str(exc), status_code=422) from None
        return CreatedToken(TokenView.of(issued.token, datetime.now(UTC)), issued.secret)

    @delete("/{token_id:int}", status_code=204, responses=error_responses(401, 403, 404))
    async def revoke_token(self, token_id: int) -> None:
        """Revoke a token: from now on it answers 401."""
        if not await service.revoke_token(token_id):
            raise NotFoundException(f"no active token {token_id}")

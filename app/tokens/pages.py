"""The admins' tokens page: the tokens, a form to issue one (its secret shown once), revoke."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.response import Redirect, Template

from app.domain.identity import Role, User
from app.settings import Settings
from app.tokens import service
from app.tokens.schemas import TokenView
from app.web.forms import FormData
from app.web.guards import requires

MANAGING = "Managing API tokens"


async def _page(status_code: int = 200, **context: Any) -> Template:
    now = datetime.now(UTC)
    tokens = [TokenView.of(token, now) for token in await service.list_tokens()]
    context = {"tokens": tokens, "roles": list(Role), "form": {}, "error": "", **context}
    return Template("tokens.html", context=context, status_code=status_code)


def _expiry(raw: str) -> int | None:
    raw = raw.strip()
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        raise service.TokenError(f"expiry must be a whole number of days, got {raw!r}") from None


class TokenPages(Controller):
    include_in_schema = False  # HTML pages: /schema documents the JSON API
    path = "/admin/tokens"
    guards = [requires(Role.ADMIN, MANAGING)]

    @get("/")
    async def tokens_page(self) -> Template:
        return await _page()

    @post("/", status_code=200)
    async def create_token(self, request: Request[User, Any, Any], data: FormData) -> Template:
        """Issue a token and show the page with its secret, this once."""
        try:
            issued = await service.issue_token(
                user_name=data.get("user", ""),
                roles=service.parse_roles([data.get("role", Role.VIEWER.value)]),
                groups=data.get("groups", "").split(","),
                name=data.get("name", ""),
                expires_days=_expiry(data.get("expires_days", "")),
                created_by=request.user.name,
            )
        except service.TokenError as exc:
            return await _page(status_code=422, error=str(exc), form=data)
        return await _page(issued=issued)

    @post("/{token_id:int}/revoke", status_code=303)
    async def revoke_token(self, token_id: int, settings: NamedDependency[Settings]) -> Redirect:
        if not await service.revoke_token(token_id):
            raise NotFoundException(f"no active token {token_id}")
        return Redirect(f"{settings.path_prefix}/admin/tokens", status_code=303)

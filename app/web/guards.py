"""Litestar guards for roles: a handler declares the role it needs, the guard refuses others."""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.exceptions import PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.types import Guard

from app.domain.identity import Role, User


def requires(role: Role, doing: str) -> Guard:
    """A guard admitting users with `role`; others get 403 "`doing` needs the `role` role; you
    are a viewer". `doing` names the act in words ("Starting an execution")."""

    def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        user = connection.user
        if not isinstance(user, User) or not user.has(role):
            label = user.role_label if isinstance(user, User) else "guest"
            raise PermissionDeniedException(
                f"{doing} needs the {role.value} role; you are {_article(label)} {label}"
            )

    return guard


def _article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"

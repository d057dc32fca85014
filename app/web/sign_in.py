"""The dev sign-in menu: pick a demo user (AUTH_MODE=dev), or sign out to pick another."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.datastructures import Cookie
from litestar.di import NamedDependency
from litestar.response import Redirect, Template

from app.domain.identity import DEMO_USERS
from app.settings import Settings
from app.web.embedding import base_path, cookie_policy
from app.web.forms import FormData
from app.web.identity import SESSION_COOKIE, SessionSigner


class SignInController(Controller):
    include_in_schema = False  # HTML pages: /schema documents the JSON API
    path = "/auth"

    @get("/sign-in", exclude_from_auth=True)
    async def sign_in_page(self, settings: NamedDependency[Settings], next: str = "/") -> Template:
        return Template(
            "sign_in.html",
            context={
                "demo_users": DEMO_USERS.values(),
                "next": _safe_next(next),
                "settings": settings,
            },
        )

    @post("/sign-in", exclude_from_auth=True, status_code=303)
    async def sign_in(
        self, request: Request[Any, Any, Any], data: FormData, settings: NamedDependency[Settings]
    ) -> Redirect:
        base = base_path(request, settings)
        user = DEMO_USERS.get(data.get("user", ""))
        if settings.auth_mode != "dev" or user is None:
            return Redirect(f"{base}/auth/sign-in?error=unknown-user", status_code=303)
        response = Redirect(base + _safe_next(data.get("next", "/")), status_code=303)
        samesite, secure = cookie_policy(settings)
        # The browser drops the cookie when the signature would expire anyway (SESSION_MAX_AGE).
        response.cookies.append(
            Cookie(key=SESSION_COOKIE, value=SessionSigner.from_settings(settings).sign(user.name),
                   httponly=True, samesite=samesite, secure=secure, path="/",
                   max_age=settings.session_max_age)
        )  # fmt: skip
        return response

    @post("/sign-out", status_code=303)
    async def sign_out(
        self, request: Request[Any, Any, Any], settings: NamedDependency[Settings]
    ) -> Redirect:
        response = Redirect(f"{base_path(request, settings)}/auth/sign-in", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response


def _safe_next(target: str) -> str:
    # Only same-site paths: an open redirect would let a link sign someone in elsewhere.
    return target if target.startswith("/") and not target.startswith("//") else "/"

"""A message carried across a redirect (post/redirect/get without JavaScript): a short-lived,
signed cookie, so typed text never travels in a URL."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

from litestar import Request
from litestar.datastructures import Cookie

from app.settings import Settings
from app.web.embedding import cookie_policy
from app.web.identity import sign, unsign

FLASH_COOKIE = "stepladder_flash"
FLASH_SECONDS = 120
_MAX_TEXT = 1000  # a cookie holds ~4 KB: long texts are cut rather than the message lost


def flash_cookie(settings: Settings, payload: dict[str, Any]) -> Cookie:
    """`payload` (JSON-able) signed with the time it was made."""
    body = json.dumps({"t": time.time(), "p": _clipped(payload)}, separators=(",", ":"))
    value = base64.urlsafe_b64encode(body.encode()).decode()
    samesite, secure = cookie_policy(settings)
    return Cookie(key=FLASH_COOKIE, value=sign(settings.secret_key, value), max_age=FLASH_SECONDS,
                  httponly=True, samesite=samesite, secure=secure, path="/")  # fmt: skip


def read_flash(request: Request[Any, Any, Any], settings: Settings) -> dict[str, Any] | None:
    """The payload of a valid, fresh flash cookie, else None."""
    signed = request.cookies.get(FLASH_COOKIE)
    value = unsign(settings.secret_key, signed) if signed else None
    if value is None:
        return None
    try:
        body = json.loads(base64.urlsafe_b64decode(value.encode()))
    except ValueError:
        return None
    fresh = isinstance(body, dict) and time.time() - float(body.get("t", 0)) < FLASH_SECONDS
    return body.get("p") if fresh and isinstance(body.get("p"), dict) else None


def _clipped(value: Any) -> Any:
    if isinstance(value, str):
        return value[:_MAX_TEXT]
    if isinstance(value, dict):
        return {key: _clipped(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_clipped(item) for item in value]
    return value

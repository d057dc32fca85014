"""A message carried across a redirect (post/redirect/get without JavaScript): a short-lived,
signed cookie (itsdangerous), so typed text never travels in a URL."""

from __future__ import annotations

from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer
from litestar import Request
from litestar.datastructures import Cookie

from app.settings import Settings
from app.web.embedding import cookie_policy

FLASH_COOKIE = "stepladder_flash"
FLASH_SECONDS = 120
_MAX_TEXT = 1000  # a cookie holds ~4 KB: long texts are cut rather than the message lost
_SALT = "stepladder-flash"


def _serializer(settings: Settings) -> URLSafeTimedSerializer:
    # Oldest key first, the newest signs: a key rotation does not lose a message in flight.
    keys = [*settings.secret_key_previous, settings.secret_key]
    return URLSafeTimedSerializer(keys, salt=_SALT)


def flash_cookie(settings: Settings, payload: dict[str, Any]) -> Cookie:
    """`payload` (JSON-able) signed with the time it was made; lives FLASH_SECONDS."""
    value = _serializer(settings).dumps(_clipped(payload))
    samesite, secure = cookie_policy(settings)
    return Cookie(key=FLASH_COOKIE, value=value, max_age=FLASH_SECONDS,
                  httponly=True, samesite=samesite, secure=secure, path="/")  # fmt: skip


def read_flash(request: Request[Any, Any, Any], settings: Settings) -> dict[str, Any] | None:
    """The payload of a valid, fresh flash cookie, else None."""
    signed = request.cookies.get(FLASH_COOKIE)
    if not signed:
        return None
    try:
        payload = _serializer(settings).loads(signed, max_age=FLASH_SECONDS)
    except BadSignature:  # tampered, unknown key, or older than FLASH_SECONDS
        return None
    return payload if isinstance(payload, dict) else None


def _clipped(value: Any) -> Any:
    if isinstance(value, str):
        return value[:_MAX_TEXT]
    if isinstance(value, dict):
        return {key: _clipped(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_clipped(item) for item in value]
    return value

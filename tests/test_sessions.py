"""Browser sessions: the sign-in cookie is signed with itsdangerous, expires after
SESSION_MAX_AGE, and a key being rotated out (SECRET_KEY_PREVIOUS) still verifies."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest

from app.settings import Settings, SettingsError
from app.web.app import create_app
from app.web.identity import SESSION_COOKIE, SessionSigner
from tests.conftest import http_client
from tests.test_web import HTML, csrf_token

OLD_KEY = "old-key-" + "o" * 32
NEW_KEY = "new-key-" + "n" * 32
UNKNOWN_KEY = "someone-elses-key-" + "u" * 32


def test_a_cookie_is_accepted_within_its_age_and_refused_after() -> None:
    signer = SessionSigner(NEW_KEY, max_age=3600)
    now = int(time.time())
    assert signer.unsign(signer.sign("carol")) == "carol"
    assert signer.unsign(signer.sign("carol", issued_at=now - 3500)) == "carol"
    assert signer.unsign(signer.sign("carol", issued_at=now - 3700)) is None


def test_rotation_signs_with_the_new_key_and_accepts_the_previous_one() -> None:
    rotating = SessionSigner(NEW_KEY, previous_keys=[OLD_KEY])
    assert rotating.unsign(SessionSigner(OLD_KEY).sign("bob")) == "bob"
    assert rotating.unsign(SessionSigner(UNKNOWN_KEY).sign("bob")) is None
    # New cookies carry the new key: they verify once the old key is dropped.
    assert SessionSigner(NEW_KEY).unsign(rotating.sign("bob")) == "bob"
    assert SessionSigner(OLD_KEY).unsign(rotating.sign("bob")) is None


def test_a_tampered_or_unsigned_cookie_is_refused() -> None:
    signer = SessionSigner(NEW_KEY)
    cookie = signer.sign("bob")
    assert signer.unsign(cookie.replace("bob", "ada", 1)) is None
    assert signer.unsign("ada") is None and signer.unsign("") is None


async def test_the_app_refuses_an_old_cookie_and_an_unknown_key_and_accepts_the_previous_key(
    settings: Settings, database_url: str
) -> None:
    rotating = replace(settings, secret_key=NEW_KEY, secret_key_previous=(OLD_KEY,),
                       session_max_age=600)  # fmt: skip
    async with http_client(create_app(rotating)) as client:

        async def workflows_with(cookie: str) -> int:
            client.cookies.set(SESSION_COOKIE, cookie)
            response = await client.get("/workflows", headers=HTML, follow_redirects=False)
            return response.status_code

        assert await workflows_with(SessionSigner(NEW_KEY).sign("carol")) == 200
        assert await workflows_with(SessionSigner(OLD_KEY).sign("carol")) == 200
        assert await workflows_with(SessionSigner(UNKNOWN_KEY).sign("carol")) == 303
        too_old = SessionSigner(NEW_KEY).sign("carol", issued_at=int(time.time()) - 601)
        assert await workflows_with(too_old) == 303  # back to the sign-in menu


async def test_sign_in_sets_a_cookie_signed_with_the_newest_key_that_expires(
    settings: Settings, database_url: str
) -> None:
    rotating = replace(settings, secret_key=NEW_KEY, secret_key_previous=(OLD_KEY,),
                       session_max_age=900)  # fmt: skip
    async with http_client(create_app(rotating)) as client:
        menu = await client.get("/auth/sign-in", headers=HTML)
        response = await client.post(
            "/auth/sign-in", data={"user": "vera", "_csrf_token": csrf_token(menu.text)},
            headers=HTML, follow_redirects=False,
        )  # fmt: skip
        assert response.status_code == 303
        set_cookie = response.headers["set-cookie"]
        assert "Max-Age=900" in set_cookie and "HttpOnly" in set_cookie
        assert SessionSigner(NEW_KEY).unsign(response.cookies[SESSION_COOKIE]) == "vera"


def test_session_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECRET_KEY", NEW_KEY)
    monkeypatch.setenv("SECRET_KEY_PREVIOUS", f"{OLD_KEY}, {UNKNOWN_KEY}")
    monkeypatch.setenv("SESSION_MAX_AGE", "3600")
    settings = Settings.from_env()
    assert settings.secret_key_previous == (OLD_KEY, UNKNOWN_KEY)
    assert settings.session_max_age == 3600
    monkeypatch.delenv("SESSION_MAX_AGE")
    assert Settings.from_env().session_max_age == 12 * 3600
    monkeypatch.setenv("SESSION_MAX_AGE", "0")
    with pytest.raises(SettingsError, match="SESSION_MAX_AGE"):
        Settings.from_env()

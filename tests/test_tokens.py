"""API tokens: admins issue them (API, page, `stepladder token`), clients send them as Bearer in
every auth mode, revoked or expired ones answer 401, and a token's roles are what it may do."""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from app.db.tables import ApiTokenRecord
from app.domain.identity import Role
from app.domain.tokens import secret_hash
from app.executions.service import ExecutionService
from app.settings import REPO_ROOT, Settings
from app.tokens.service import issue_token
from app.web.app import create_app
from tests.conftest import api_headers, http_client, signed_in
from tests.helpers import CRM_CONFIRMATIONS
from tests.test_cli import SETTING_VARIABLES, STEPLADDER
from tests.test_web import HTML, csrf_token
from tests.test_web_decisions import API, start

TOKENS = "/api/tokens"


def bearer(secret: str) -> dict[str, str]:
    return {"authorization": f"Bearer {secret}", "content-type": "application/json"}


async def test_a_token_works_until_revoked_then_answers_401(client: httpx.AsyncClient) -> None:
    created = await client.post(
        TOKENS, json={"user": "deploy-bot", "role": "approver", "name": "ci"},
        headers=api_headers("ada"),
    )  # fmt: skip
    assert created.status_code == 201, created.text
    body = created.json()
    secret, token_id = body["secret"], body["token"]["id"]
    assert secret.startswith("slt_") and len(secret) > 40
    assert body["token"]["prefix"] == secret[:12] and body["token"]["state"] == "active"
    assert body["token"]["roles"] == ["approver"] and body["token"]["created_by"] == "ada"

    listed = await client.get(API, headers=bearer(secret))
    assert listed.status_code == 200, listed.text

    tokens = (await client.get(TOKENS, headers=api_headers("ada"))).json()
    assert [t["id"] for t in tokens] == [token_id]
    assert tokens[0]["last_used_at"] is not None  # the call above was recorded
    assert secret not in str(tokens)  # never shown again
    stored = await ApiTokenRecord.select().where(ApiTokenRecord.id == token_id).first()
    assert stored is not None and stored["secret_hash"] == secret_hash(secret)
    assert secret not in str(stored)

    revoked = await client.delete(f"{TOKENS}/{token_id}", headers=api_headers("ada"))
    assert revoked.status_code == 204
    refused = await client.get(API, headers=bearer(secret))
    assert refused.status_code == 401
    assert "revoked" in refused.json()["detail"]
    assert (
        await client.delete(f"{TOKENS}/{token_id}", headers=api_headers("ada"))
    ).status_code == 404
    tokens = (await client.get(TOKENS, headers=api_headers("ada"))).json()
    assert tokens[0]["state"] == "revoked" and tokens[0]["revoked_at"] is not None


async def test_unknown_and_expired_tokens_answer_401(client: httpx.AsyncClient) -> None:
    assert (await client.get(API, headers=bearer("slt_made-up"))).status_code == 401
    assert (await client.get(API, headers=bearer("not-even-ours"))).status_code == 401
    issued = await issue_token(user_name="nightly", roles=[Role.VIEWER], created_by="ada",
                               expires_days=1)  # fmt: skip
    assert (await client.get(API, headers=bearer(issued.secret))).status_code == 200
    await ApiTokenRecord.update(
        {ApiTokenRecord.expires_at: datetime.now(UTC) - timedelta(seconds=1)}
    ).where(ApiTokenRecord.id == issued.token.id)
    assert (await client.get(API, headers=bearer(issued.secret))).status_code == 401
    listed = (await client.get(TOKENS, headers=api_headers("ada"))).json()
    assert listed[0]["state"] == "expired"


async def test_only_admins_manage_tokens(client: httpx.AsyncClient) -> None:
    for user in ("bob", "vera"):
        response = await client.get(TOKENS, headers=api_headers(user))
        assert response.status_code == 403
        assert "Managing API tokens needs the admin role" in response.json()["detail"]
    bad_role = await client.post(TOKENS, json={"user": "x", "role": "boss"},
                                 headers=api_headers("ada"))  # fmt: skip
    assert bad_role.status_code == 400
    no_user = await client.post(TOKENS, json={"user": " "}, headers=api_headers("ada"))
    assert no_user.status_code == 422 and "user" in no_user.json()["detail"]


async def test_a_viewer_token_is_refused_on_approve_and_an_approver_token_decides(
    client: httpx.AsyncClient, engine: ExecutionService
) -> None:
    from tests.helpers import waiting_at

    execution_id = await start(client)
    await waiting_at(engine, execution_id, "create_crm_record")
    url = f"{API}/{execution_id}/steps/create_crm_record/approve"
    body = {"confirmations": CRM_CONFIRMATIONS}
    viewer = await issue_token(user_name="dashboard", roles=[Role.VIEWER], created_by="ada")
    refused = await client.post(url, json=body, headers=bearer(viewer.secret))
    assert refused.status_code == 403 and "approver role" in refused.json()["detail"]
    approver = await issue_token(user_name="deploy-bot", roles=[Role.APPROVER], created_by="ada")
    approved = await client.post(url, json=body, headers=bearer(approver.secret))
    assert approved.status_code == 200, approved.text
    assert approved.json()["step_status"] == "approved"


async def test_in_proxy_mode_tokens_work_and_the_dev_header_answers_401(
    settings: Settings, database_url: str
) -> None:
    proxy = replace(settings, auth_mode="proxy")
    issued = await issue_token(user_name="svc-reporting", roles=[Role.ADMIN], created_by="ada")
    async with http_client(create_app(proxy)) as proxy_client:
        dev_header = await proxy_client.get(API, headers=api_headers("ada"))
        assert dev_header.status_code == 401
        with_token = await proxy_client.get(TOKENS, headers=bearer(issued.secret))
        assert with_token.status_code == 200, with_token.text
        assert with_token.json()[0]["user"] == "svc-reporting"
        # The proxy's own identity headers still sign people in.
        proxied = await proxy_client.get(API, headers={"X-Forwarded-User": "erin"})
        assert proxied.status_code == 200


async def test_the_tokens_page_shows_a_new_secret_once_and_revokes(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    signed_in(client, settings, "vera")
    assert (await client.get("/admin/tokens/", headers=HTML)).status_code == 403
    page = await signed_in(client, settings, "ada").get("/admin/tokens/", headers=HTML)
    assert page.status_code == 200 and "No tokens yet" in page.text
    form = {"user": "ops-bot", "role": "approver", "name": "nightly report",
            "groups": "ops", "expires_days": "30", "_csrf_token": csrf_token(page.text)}  # fmt: skip
    created = await client.post("/admin/tokens/", data=form, headers=HTML)
    assert created.status_code == 200, created.text
    match = re.search(r'<code id="token-secret">(slt_[^<]+)</code>', created.text)
    assert match, created.text
    secret = match.group(1)
    assert "nightly report" in created.text and secret[:12] in created.text
    assert (await client.get(API, headers=bearer(secret))).status_code == 200

    again = await client.get("/admin/tokens/", headers=HTML)
    assert secret not in again.text and secret[:12] in again.text
    token_id = (await ApiTokenRecord.select(ApiTokenRecord.id).first())["id"]  # type: ignore[index]
    revoked = await client.post(
        f"/admin/tokens/{token_id}/revoke",
        data={"_csrf_token": csrf_token(again.text)}, headers=HTML, follow_redirects=False,
    )  # fmt: skip
    assert revoked.status_code == 303 and revoked.headers["location"] == "/admin/tokens"
    assert (await client.get(API, headers=bearer(secret))).status_code == 401

    bad = await client.post("/admin/tokens/", headers=HTML,
                            data={"user": "x", "expires_days": "soon",
                                  "_csrf_token": csrf_token(again.text)})  # fmt: skip
    assert bad.status_code == 422 and "whole number of days" in bad.text


async def test_the_openapi_declares_bearer_tokens_and_the_dev_only_header(
    client: httpx.AsyncClient,
) -> None:
    document = (await client.get("/schema/openapi.json")).json()
    schemes = document["components"]["securitySchemes"]
    assert schemes["bearerToken"]["type"] == "http" and schemes["bearerToken"]["scheme"] == "bearer"
    assert schemes["devUser"] == {
        "type": "apiKey", "name": "X-Stepladder-User", "in": "header",
        "description": schemes["devUser"]["description"],
    }  # fmt: skip
    assert "Development only" in schemes["devUser"]["description"]
    assert {"bearerToken": []} in document["security"] and {"devUser": []} in document["security"]


def token_cli(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    clean = {key: value for key, value in os.environ.items() if key not in SETTING_VARIABLES}
    return subprocess.run(
        [str(STEPLADDER), "token", *args],
        env={**clean, "DATABASE_URL": database_url},
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


@pytest.mark.usefixtures("database_url")
async def test_the_token_command_creates_lists_and_revokes(
    client: httpx.AsyncClient, database_url: str
) -> None:
    created = token_cli(database_url, "create", "--user", "backup-job", "--role", "approver",
                        "--name", "backups", "--expires-days", "7", "--group", "ops")  # fmt: skip
    assert created.returncode == 0, created.stderr
    first, secret = created.stdout.strip().splitlines()
    token_id = int(first.split()[1])
    assert "backup-job" in first and secret.startswith("slt_")
    assert (await client.get(API, headers=bearer(secret))).status_code == 200

    listed = token_cli(database_url, "list")
    assert listed.returncode == 0, listed.stderr
    assert secret not in listed.stdout
    row = listed.stdout.strip().splitlines()[0].split("\t")
    assert row[:5] == [str(token_id), f"{secret[:12]}…", "active", "backup-job",
                       "approver groups=ops"]  # fmt: skip
    assert row[5] == "backups" and "last used 20" in row[7]

    revoked = token_cli(database_url, "revoke", str(token_id))
    assert revoked.returncode == 0 and f"token {token_id} revoked" in revoked.stdout
    assert (await client.get(API, headers=bearer(secret))).status_code == 401
    assert "\trevoked\t" in token_cli(database_url, "list").stdout

    again = token_cli(database_url, "revoke", str(token_id))
    assert again.returncode == 1 and again.stderr.strip() == (
        f"stepladder token: no active token {token_id}"
    )
    bad_role = token_cli(database_url, "create", "--user", "x", "--role", "boss")
    assert bad_role.returncode == 1 and "unknown role 'boss'" in bad_role.stderr
    assert "Traceback" not in bad_role.stderr + again.stderr
